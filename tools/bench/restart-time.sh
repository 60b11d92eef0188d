#!/usr/bin/env bash
# Measures how long a tandem-broker takes to serve again after a stop with a full journal.
#
#   tools/bench/restart-time.sh [--count N] [--size BYTES] [--signal KILL|TERM] [--verify]
#
# 1. starts a broker on an empty journal in a temp dir (under $TMPDIR) and fills one queue with
#    N persistent messages (default 1,000,000 x 1 KiB; the final receipt proves all are durable);
# 2. stops it with SIGKILL (crash recovery, the default) or SIGTERM (clean shutdown);
# 3. restarts it and times from just before exec to the first successful CONNECT + RECEIPT,
#    i.e. until it serves again (journal recovery included);
# 4. with --verify, drains the queue and checks that all N messages are still there.
# Binaries: build/ or $TANDEM_BIN_DIR (broker/tandem-broker, tools/tandem-bench), or
# $TANDEM_BROKER / $TANDEM_BENCH. KEEP=1 keeps the temp dir. The broker is stopped by PID on exit.
set -euo pipefail

count=1000000
size=1024
signal=KILL
verify=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --count) count="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --signal) signal="${2#SIG}"; shift 2 ;;
    --verify) verify=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "restart-time: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ "$signal" == KILL || "$signal" == TERM ]] || { echo "restart-time: --signal KILL|TERM" >&2; exit 2; }

script_name=restart-time
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench-lib.sh"
bench_make_broker_config bench info
bench() { "$bench_bin" --host 127.0.0.1 --port "$port" "$@"; }
json_field() { /usr/bin/python3 -c 'import json, sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

exec_ms=""
start_broker() {  # sets broker_pid and exec_ms (unix ms just before exec)
  exec_ms="$(date +%s%3N)"
  "$broker_bin" --config "$work/broker.yaml" >>"$work/broker.log" 2>&1 &
  broker_pid=$!
}

start_broker
bench probe --timeout-ms 30000 --json >/dev/null || { tail "$work/broker.log" >&2; die "broker did not start"; }
echo "restart-time: filling /queue/restart with $count x $size B persistent messages ..." >&2
fill="$(bench fill --count "$count" --size "$size" --destination /queue/restart --json --timeout-ms 120000)" \
  || { tail "$work/broker.log" >&2; die "fill failed"; }
fill_rate="$(echo "$fill" | json_field msgs_per_s)"
journal_bytes="$(du -sb "$work/store" | cut -f1)"

stop_broker "$signal"
start_broker
# Generous bound: recovery of a large journal is what is being measured.
probe="$(bench probe --timeout-ms 600000 --json)" || { tail "$work/broker.log" >&2; die "broker did not come back"; }
ready_ms="$(echo "$probe" | json_field ready_unix_ms)"
restart_ms=$((ready_ms - exec_ms))

verified="not checked (--verify)"
if [[ "$verify" == 1 ]]; then
  echo "restart-time: draining to verify ..." >&2
  if bench drain --count "$count" --destination /queue/restart --json --quiet --timeout-ms 10000 >/dev/null; then
    verified="all $count messages delivered after the restart"
  else
    verified="FAILED: not all $count messages came back"
  fi
fi

printf 'messages     %s x %s B (filled at %.0f msgs/s)\n' "$count" "$size" "$fill_rate"
printf 'journal      %s MiB\n' "$(awk -v b="$journal_bytes" 'BEGIN { printf "%.1f", b / 1048576 }')"
printf 'stop         SIG%s\n' "$signal"
printf 'restart      %s ms from exec to first CONNECT+RECEIPT\n' "$restart_ms"
printf 'messages     %s\n' "$verified"
[[ "$verified" != FAILED* ]]

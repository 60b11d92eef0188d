# Shared by the benchmark scripts in tools/bench/ (sourced, not run): where the binaries are,
# a scratch directory, one broker on free loopback ports, and stopping it by PID on exit.
#
#   script_name=run-all; source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench-lib.sh"
#   bench_make_broker_config bench warn   # writes $work/broker.yaml (name, log level)
#   bench_start_broker                    # sets broker_pid
#
# Sets: repo, bin_dir, broker_bin, bench_bin, work, port, ha_port. Honours TANDEM_BIN_DIR,
# TANDEM_BROKER, TANDEM_BENCH, TMPDIR and KEEP=1 (keep the scratch directory).

repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
bin_dir="${TANDEM_BIN_DIR:-$repo/build}"
broker_bin="${TANDEM_BROKER:-$bin_dir/broker/tandem-broker}"
bench_bin="${TANDEM_BENCH:-$bin_dir/tools/tandem-bench}"

die() { echo "$script_name: $*" >&2; exit 1; }
[[ -x "$broker_bin" ]] || die "no broker at $broker_bin (build it, or set TANDEM_BIN_DIR / TANDEM_BROKER)"
[[ -x "$bench_bin" ]] || die "no tandem-bench at $bench_bin (set TANDEM_BIN_DIR / TANDEM_BENCH)"

work="$(mktemp -d "${TMPDIR:-/tmp}/tandem-$script_name.XXXXXX")"
broker_pid=""

stop_broker() {  # stop_broker SIGNAL: signal, wait up to 30 s, then SIGKILL
  [[ -n "$broker_pid" ]] || return 0
  kill "-$1" "$broker_pid" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
  broker_pid=""
}
bench_cleanup() {
  stop_broker TERM
  if [[ "${KEEP:-0}" == 1 ]]; then echo "$script_name: kept $work" >&2; else rm -rf "$work"; fi
}
trap bench_cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="$(free_port)"
# The HA listener lets a node restarted after a crash see that its own stale lease is dead
# (it holds the port the record names) instead of waiting the lease TTL.
ha_port="$(free_port)"

bench_make_broker_config() {  # NODE_NAME LOG_LEVEL
  mkdir -p "$work/store"
  cat >"$work/broker.yaml" <<EOF2
node:
  name: $1
storage:
  path: "$work/store"
listeners:
  stomp: "127.0.0.1:$port"
  ha: "127.0.0.1:$ha_port"
log:
  level: $2
EOF2
}

bench_start_broker() {
  "$broker_bin" --config "$work/broker.yaml" >>"$work/broker.log" 2>&1 &
  broker_pid=$!
}

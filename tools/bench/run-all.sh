#!/usr/bin/env bash
# Runs the project's benchmark workloads against a fresh tandem-broker and prints one table.
#
#   tools/bench/run-all.sh                 # binaries from build/ (or $TANDEM_BIN_DIR)
#   COUNT=200000 tools/bench/run-all.sh    # more messages for (b) (c) (d)
#
# Starts a broker with a generated config and an empty journal in a temp dir (on the same disk
# as $TMPDIR: put TMPDIR on the disk you want to measure), waits until it serves, records its
# idle RSS, runs (a) latency, (b) producers, (c) stream, (d) drain of what (c) stored, and
# fanout, then stops the broker (SIGTERM, then SIGKILL) by PID on exit.
#
# Environment: TANDEM_BIN_DIR (dir with broker/tandem-broker and tools/tandem-bench),
# TANDEM_BROKER / TANDEM_BENCH (explicit paths), COUNT (default 50000), LATENCY_COUNT (10000),
# PRODUCERS (8), SUBSCRIBERS (8), FANOUT_COUNT (10000), KEEP=1 keeps the temp dir,
# CONNECTIONS=N also opens N idle connections and holds them HOLD seconds (default 5),
# JSON_OUT=FILE also writes the raw JSON lines there, FAILOVER=1 runs the workloads through
# failover:(stomp://127.0.0.1:PORT) instead of stomp://127.0.0.1:PORT (both through the failover
# library; tools/bench/failover-overhead.sh compares them with the direct client).
set -euo pipefail

count="${COUNT:-50000}"
latency_count="${LATENCY_COUNT:-10000}"
producers="${PRODUCERS:-8}"
subscribers="${SUBSCRIBERS:-8}"
fanout_count="${FANOUT_COUNT:-10000}"

script_name=run-all
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench-lib.sh"
bench_make_broker_config bench warn
bench_start_broker
uri="stomp://127.0.0.1:$port"
[[ "${FAILOVER:-0}" == 1 ]] && uri="failover:($uri)"
bench() { "$bench_bin" --uri "$uri" "$@"; }
if ! bench probe --timeout-ms 30000 --json >/dev/null; then
  tail -20 "$work/broker.log" >&2
  die "broker did not start serving"
fi
idle_rss_kb="$(ps -o rss= -p "$broker_pid" | tr -d ' ')"

results="$work/results.jsonl"
run() {
  local label="$1"; shift
  echo "run-all: $label ..." >&2
  if ! bench "$@" --json --quiet >>"$results"; then
    tail -20 "$work/broker.log" >&2
    die "$label failed"
  fi
}
run "(a) latency"   latency   --count "$latency_count" --warmup 100
run "(b) producers" producers --count "$count" --producers "$producers" --warmup 100
run "(c) stream"    stream    --count "$count" --destination /queue/bench.stream
run "(d) drain"     drain     --count "$count" --destination /queue/bench.stream
run "fanout"        fanout    --count "$fanout_count" --subscribers "$subscribers" --non-persistent
if [[ "${CONNECTIONS:-0}" -gt 0 ]]; then
  run "connections"   connections --count "$CONNECTIONS" --hold "${HOLD:-5}"
fi
after_rss_kb="$(ps -o rss= -p "$broker_pid" | tr -d ' ')"
[[ -n "${JSON_OUT:-}" ]] && cp "$results" "$JSON_OUT"

/usr/bin/python3 - "$results" "$idle_rss_kb" "$after_rss_kb" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
# ActiveMQ on the same machine: tools/bench/compare-activemq.sh.
targets = {"latency": ("(a)", 5000), "producers": ("(b)", 30000),
           "stream": ("(c)", 80000), "drain": ("(d)", 60000), "fanout": ("", None)}
print(f"{'workload':<14}{'messages':>10}{'seconds':>9}{'msgs/s':>10}{'target':>9}"
      f"{'median ms':>11}{'p99 ms':>9}{'p99.9 ms':>10}{'max ms':>9}")
for r in rows:
    if r["workload"] == "connections":
        continue
    tag, target = targets.get(r["workload"], ("", None))
    lat = r.get("latency_ms", {})
    fmt = lambda v: f"{v:.3f}" if v is not None else "-"
    name = f"{tag} {r['workload']}".strip()
    print(f"{name:<14}{r['messages']:>10}{r['seconds']:>9.2f}{r['msgs_per_s']:>10.0f}"
          f"{target if target else '-':>9}"
          f"{fmt(lat.get('median')):>11}{fmt(lat.get('p99')):>9}{fmt(lat.get('p99_9')):>10}{fmt(lat.get('max')):>9}")
for r in rows:
    if r["workload"] == "connections":
        print(f"connections: opened {r['opened']} of {r['requested']} in {r['seconds']:.2f} s,"
              f" {r['alive_after_hold']} still answering after the hold")
print(f"broker RSS: idle {int(sys.argv[2]) / 1024:.1f} MiB, after the runs {int(sys.argv[3]) / 1024:.1f} MiB")
print("latency: (a)(b) send to receipt; (d) gap between receives; fanout send to delivery;"
      " (c) is timed to its final receipt")
if rows and "uri" in rows[0]:
    print(f"through {rows[0]['uri']} (failover library)")
EOF

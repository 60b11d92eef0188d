#!/usr/bin/env bash
# What the failover library costs: workloads (a) latency, (b) 8 producers, (c) stream and
# (d) drain against one fresh broker (posix backend, journal under $TMPDIR), each through
#   A  tandem-bench --uri 'failover:(stomp://127.0.0.1:PORT)'   (failover::client, failover URI)
#   B  tandem-bench --uri 'stomp://127.0.0.1:PORT'              (failover::client, plain URI)
#   C  the tandem-bench from before the library (stomp_connection straight on the socket)
# alternating A/B/C inside every round (the order rotates per round, so a disk that speeds up or
# slows down during the run is spread over all three), then a table of medians and ratios.
#
#   tools/bench/failover-overhead.sh                   # 5 rounds
#   ROUNDS=3 COUNT=20000 tools/bench/failover-overhead.sh
#
# Environment: TANDEM_BIN_DIR (dir with broker/tandem-broker and tools/tandem-bench; default
# build/), TANDEM_BROKER / TANDEM_BENCH, OLD_BENCH (the direct binary; default
# /tmp/tandem-bench-direct, built from OLD_REV when missing), OLD_REV (default 96494f8^: the
# last commit before tandem-bench moved to the library), ROUNDS (5), COUNT (50000: (b) (c) (d)),
# LATENCY_COUNT (5000), PRODUCERS (8), JSON_OUT=FILE (every run's JSON line, with its variant,
# round and the client's CPU seconds), KEEP=1 keeps the temp dir, EXTRA_BENCH=PATH adds a
# variant D: that tandem-bench with the failover URI (e.g. one built with a library change).
#
# Each run is a separate process; its client CPU time (user+sys, from wait4) is printed per
# message too: that figure does not depend on the disk and shows the library's own cost.
set -euo pipefail

script_name=failover-overhead
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench-lib.sh"
old_bench="${OLD_BENCH:-/tmp/tandem-bench-direct}"
old_rev="${OLD_REV:-96494f8^}"

if [[ ! -x "$old_bench" ]]; then
  # The comparison needs the client as it was: build that tandem-bench from git into a temp tree.
  src="$(mktemp -d "${TMPDIR:-/tmp}/tandem-bench-direct-src.XXXXXX")"
  echo "failover-overhead: building the direct tandem-bench from $old_rev into $old_bench ..." >&2
  git -C "$repo" archive "$old_rev" | tar -x -C "$src"
  cmake -S "$src" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  ninja -C "$src/build" -j2 tools/tandem-bench >/dev/null
  cp "$src/build/tools/tandem-bench" "$old_bench"
  rm -rf "$src"
fi

bench_make_broker_config overhead warn
bench_start_broker
if ! "$old_bench" --port "$port" probe --timeout-ms 30000 --json >/dev/null; then
  tail -20 "$work/broker.log" >&2
  die "broker did not start serving"
fi

echo "failover-overhead: broker on 127.0.0.1:$port (journal in $work/store), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
/usr/bin/python3 - "$bench_bin" "$old_bench" "$port" "$work" <<'EOF' || { tail -20 "$work/broker.log" >&2; exit 1; }
import json, os, resource, statistics, subprocess, sys, time

bench, old, port, work = sys.argv[1:5]
rounds = int(os.environ.get("ROUNDS", "5"))
count = os.environ.get("COUNT", "50000")
latency_count = os.environ.get("LATENCY_COUNT", "5000")
producers = os.environ.get("PRODUCERS", "8")
variants = {
    "A": ("failover:(stomp://127.0.0.1:%s)" % port, [bench, "--uri", "failover:(stomp://127.0.0.1:%s)" % port]),
    "B": ("stomp://127.0.0.1:%s" % port, [bench, "--uri", "stomp://127.0.0.1:%s" % port]),
    "C": ("direct stomp_connection (before the library)", [old, "--host", "127.0.0.1", "--port", port]),
}
if os.environ.get("EXTRA_BENCH"):
    extra = os.environ["EXTRA_BENCH"]
    variants["D"] = (f"{extra} --uri failover:(stomp://127.0.0.1:{port})",
                     [extra, "--uri", "failover:(stomp://127.0.0.1:%s)" % port])
workloads = [
    ("(a) latency", lambda v, r: ["latency", "--count", latency_count, "--warmup", "100"]),
    ("(b) producers", lambda v, r: ["producers", "--count", count, "--producers", producers, "--warmup", "100"]),
    ("(c) stream", lambda v, r: ["stream", "--count", count, "--destination", f"/queue/overhead.{v}.{r}"]),
    ("(d) drain", lambda v, r: ["drain", "--count", count, "--destination", f"/queue/overhead.{v}.{r}"]),
]
rows = []

def run(label, variant, rnd, args):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(variants[variant][1] + args + ["--json", "--quiet"], capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"failover-overhead: {label} {variant} round {rnd} failed: {proc.stderr.strip()}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    r.update(variant=variant, round=rnd, label=label,
             cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    rows.append(r)
    print(f"  round {rnd} {label:<14} {variant}  {r['msgs_per_s']:>9.0f} msgs/s  client CPU {r['cpu_s']:.2f} s",
          file=sys.stderr, flush=True)

order = list(variants)
for rnd in range(1, rounds + 1):
    k = (rnd - 1) % len(order)
    rot = order[k:] + order[:k]
    for label, make in workloads:
        if label == "(d) drain":
            continue
        for v in rot:
            run(label, v, rnd, make(v, rnd))
        if label == "(c) stream":
            # (d) drains what (c) just stored, each variant its own queue.
            for v in rot:
                run("(d) drain", v, rnd, workloads[3][1](v, rnd))

if os.environ.get("JSON_OUT"):
    with open(os.environ["JSON_OUT"], "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")

def med(label, v, key):
    vals = [r[key] for r in rows if r["label"] == label and r["variant"] == v]
    return statistics.median(vals), vals

print(f"failover overhead: medians of {rounds} rounds, A/B/C alternating, one broker (posix backend)")
for v, (desc, _) in variants.items():
    print(f"  {v} = {desc}")
print()
def per_round_ratio(label, x, y):
    # Ratio within each round (same minute, same disk mood), then the median over rounds.
    by = {(r["variant"], r["round"]): r["msgs_per_s"] for r in rows if r["label"] == label}
    return statistics.median(by[(x, n)] / by[(y, n)] for n in range(1, rounds + 1))

names = list(variants)
print(f"{'workload':<15}" + "".join(f"{v + ' msgs/s':>10}" for v in names) + f"{'A/C':>7}{'B/C':>7}{'A/B':>7}"
      + (f"{'D/C':>7}" if "D" in variants else "") + f"{'rA/C':>7}{'rB/C':>7}"
      + f"{'A p50 ms':>10}{'C p50 ms':>10}   CPU us/msg " + " ".join(f"{v:>5}" for v in names))
for label, _ in workloads:
    m = {v: med(label, v, "msgs_per_s")[0] for v in variants}
    lat = {}
    for v in variants:
        vals = [r["latency_ms"]["median"] for r in rows if r["label"] == label and r["variant"] == v and "latency_ms" in r]
        lat[v] = statistics.median(vals) if vals else None
    cpu = {}
    for v in variants:
        per = [r["cpu_s"] / r["messages"] * 1e6 for r in rows if r["label"] == label and r["variant"] == v and r["messages"]]
        cpu[v] = statistics.median(per)
    f = lambda x: f"{x:.3f}" if x is not None else "-"
    print(f"{label:<15}" + "".join(f"{m[v]:>10.0f}" for v in names)
          + f"{m['A'] / m['C']:>7.2f}{m['B'] / m['C']:>7.2f}{m['A'] / m['B']:>7.2f}"
          + (f"{m['D'] / m['C']:>7.2f}" if "D" in variants else "")
          + f"{per_round_ratio(label, 'A', 'C'):>7.2f}{per_round_ratio(label, 'B', 'C'):>7.2f}"
          + f"{f(lat['A']):>10}{f(lat['C']):>10}" + " " * 14 + " ".join(f"{cpu[v]:>5.1f}" for v in names))
print()
print("every run (msgs/s):")
for label, _ in workloads:
    for v in variants:
        vals = med(label, v, "msgs_per_s")[1]
        print(f"  {label:<15}{v}  " + "  ".join(f"{x:.0f}" for x in vals))
print("A/C = ratio of the medians; rA/C = median of the per-round ratios. Target: A within 10% of C (>= 0.90).")
print("(c) through the library asks a receipt for every send (that is what it re-sends after a switchover);")
print("C asks one for the last only.")
print("CPU us/msg: the client process's user+sys time per message (all threads), independent of the disk.")
EOF

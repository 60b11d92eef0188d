#!/usr/bin/python3
"""Side-by-side comparison of Tandem with Apache ActiveMQ Classic (Debian's `activemq` 5.17):
the same tandem-bench workloads against both, alternating, on one machine; then kill -9
failovers of each pair. Run it through tools/bench/compare-activemq.sh, which installs what is
missing, raises the descriptor limit and passes the paths:

    main.py --work DIR --bench TANDEM_BENCH --broker TANDEM_BROKER --out OUT_DIR

Round r starts a fresh single ActiveMQ and a fresh single Tandem node (empty stores), measures
each store's growth per message, warms both up (discarded), then runs (a) (b) (c) (c') (d) (e)
(f), each workload on both brokers back to back, ActiveMQ first in odd rounds and Tandem first in
even ones, and stops both. Then
the failover rows: the Tandem pair, ActiveMQ's pair with the lock poll tuned down, ActiveMQ's
pair at its defaults, FAILOVER_RUNS kills each. Prints the tables and writes OUT_DIR/
compare-activemq.{json,md,svg,gp}.
"""

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))

import activemq  # noqa: E402
import bench  # noqa: E402
import chart  # noqa: E402
import failover  # noqa: E402
import pair_harness as ph  # noqa: E402
import procfs  # noqa: E402
import report  # noqa: E402
import settings as settings_mod  # noqa: E402
import tandem  # noqa: E402
import workloads  # noqa: E402

START_TIMEOUT = 120.0


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def fsync_probe(work):
    out = subprocess.run(["/usr/bin/python3", os.path.join(REPO, "tools", "bench", "fsync-probe.py"), work,
                          "--count", "300"], capture_output=True, text=True, timeout=300)
    words = out.stdout.split()
    return float(words[words.index("us") - 1]) if "us" in words else None


def versions(bench_bin):
    git = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"], capture_output=True, text=True)
    java = subprocess.run([activemq.java_binary(), "-version"], capture_output=True, text=True)
    return {"activemq": activemq.installed_version(), "java": (java.stderr or java.stdout).splitlines()[0]
            if java.returncode == 0 else None, "tandem": git.stdout.strip() or None, "tandem_bench": bench_bin}


DURABILITY = {
    "activemq": [
        "KahaDB journalDiskSyncStrategy=always (the default, not overridden; enableJournalDiskSyncs=true)",
        "a STOMP SEND with a receipt header is sent to the broker responseRequired (ProtocolConverter)",
        "Queue.send waits for the KahaDB store of a responseRequired persistent message, and KahaDB syncs "
        "the journal for it: the RECEIPT comes after the sync",
        "concurrentStoreAndDispatchQueues=true (default): a message consumed before it is stored is never "
        "stored; (a)-(c) have no consumer",
    ],
    "tandem": [
        "journal group commit: a RECEIPT for a persistent SEND is written after its record is on disk (fdatasync)",
    ],
    "both": [
        "tandem-bench (failover library) asks a receipt for every send, persistent:true, 1 KiB bodies",
        "(e) fan-out is non-persistent (topic subscribers are not durable on either broker)",
        "checked: block-device flush requests per message during (a) (one producer waiting for each receipt)",
    ],
}


class Comparison:
    def __init__(self, args, s):
        self.s = s
        self.work = args.work
        self.bench_bin = args.bench
        self.broker_bin = args.broker
        self.device = workloads.block_device(self.work)
        self.runner = workloads.Runner(s, self.bench_bin, self.device)
        self.java_opts = shlex.split(s.amq_java_opts)
        self.records, self.disk, self.failover_records, self.checks, self.configs = [], [], [], {}, {}

    def probe(self, broker, timeout=START_TIMEOUT):
        bench.wait_serving(self.bench_bin, broker.port, timeout, broker.name)

    def single(self, kind, rnd):
        d = os.path.join(self.work, f"round-{rnd}", kind)
        if kind == "activemq":
            port = ph.distinct_free_ports(1)[0]
            return activemq.ActiveMQ(d, "activemq", port, os.path.join(d, "kahadb"), self.java_opts,
                                     self.s.amq_transport, self.s.connections + 100, None, self.s.amq_kahadb)
        return tandem.TandemNode(d, "tandem", self.broker_bin, self.s.connections + 100)

    def run_round(self, rnd):
        kinds = list(self.s.brokers)
        order = kinds if rnd % 2 else kinds[::-1]
        brokers = {k: self.single(k, rnd) for k in kinds}
        if rnd == 1:
            self.configs.update({k: b.describe() for k, b in brokers.items()})
            for k, b in brokers.items():
                log(f"--- {k} configuration ({b.describe()['config_file']}) ---\n{b.config_text.strip()}\n"
                    f"command: {b.describe()['command']}")
        try:
            for b in brokers.values():
                b.start()
            for b in brokers.values():
                self.probe(b)
            idle = {k: procfs.rss_kib(b.pid) for k, b in brokers.items()}
            log(f"round {rnd}/{self.s.rounds}: order {' then '.join(order)}; store growth, warm-up (discarded) ...")
            self.measure_disk(brokers, order, rnd, idle)
            for k in order:
                self.runner.warm_up(brokers[k], rnd)
            for key in workloads.MEASURED:
                for k in order:
                    self.measure(brokers[k], k, key, rnd)
        except Exception:
            for b in brokers.values():
                log(b.log_tail())
            raise
        finally:
            for b in brokers.values():
                b.terminate()
        if os.environ.get("KEEP") != "1":
            subprocess.run(["rm", "-rf", os.path.join(self.work, f"round-{rnd}")], check=False)

    def measure_disk(self, brokers, order, rnd, idle):
        """Store growth per message on the fresh stores (see Runner.fill_for_disk)."""
        before, fills = {}, {}
        for k in order:
            before[k] = procfs.disk_bytes(brokers[k].store_dir)
            fills[k] = self.runner.fill_for_disk(brokers[k], rnd)
        time.sleep(self.s.settle_s)  # let KahaDB's 5 s checkpoint write its index too
        for k in order:
            grown = procfs.disk_bytes(brokers[k].store_dir) - before[k]
            self.disk.append({"round": rnd, "broker": k, "bytes_grown": grown, "messages": fills[k]["messages"],
                              "bytes_per_message": grown / fills[k]["messages"], "idle_rss_kib": idle[k]})
            self.runner.drain_disk(brokers[k], rnd, fills[k])

    def measure(self, broker, kind, key, rnd):
        rec = self.runner.measure(broker, kind, key, rnd)
        self.records.append(rec)
        extra = f", {rec['latency_median_ms']:.3f} ms median" if key == "a" else ""
        what = (f"{rec['value']:.1f} KiB/connection, opened in {rec['open_s']:.1f} s" if key == "f"
                else f"{rec['value']:,.0f} msgs/s{extra}")
        log(f"  round {rnd} ({key}) {kind:<8} {what}; broker CPU {rec['broker_cpu_s']:.2f} s, peak RSS "
            f"{rec['peak_rss_kib'] / 1024:.0f} MiB" + (f"; {rec['incomplete']}" if "incomplete" in rec else ""))

    def run_failover(self):
        pairs = []
        if "tandem" in self.s.brokers:
            pairs.append(("tandem", lambda d: tandem.TandemPair(d, self.broker_bin, self.s.connections + 100)))
        if "activemq" in self.s.brokers:
            for key, lock in (("amq_tuned", self.s.amq_lock_ms), ("amq_default", None)):
                pairs.append((key, lambda d, lock=lock: activemq.ActiveMQPair(
                    d, ph.distinct_free_ports(2), self.java_opts, self.s.amq_transport, self.s.connections + 100,
                    lock, self.probe, self.s.amq_kahadb)))
        for key, make in pairs:
            pair = make(os.path.join(self.work, f"failover-{key}"))
            self.configs[f"failover_{key}"] = pair.describe()
            log(f"failover: {pair.label}, {self.s.failover_runs} x kill -9 of the active ...")
            try:
                recs, check = failover.run_pair(pair, key, self.s, self.bench_bin, START_TIMEOUT, log=log)
            except Exception:
                log(pair.logs())
                raise
            self.failover_records += recs
            self.checks[key] = check
            if not check["all_delivered"]:
                log(f"  WARNING: after the failovers of {pair.label}: {check['problems']}")


def durability_check(records):
    out = {}
    for b in report.BROKERS:
        rs = [r for r in records if r["broker"] == b and r["workload"] == "a" and r["device_flushes"] is not None]
        if rs:
            per = min(r["device_flushes"] / r["messages"] for r in rs)
            out[b] = {"min_flushes_per_message_in_a": round(per, 3), "receipt_after_disk_flush": per >= 0.9}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", required=True)
    p.add_argument("--bench", required=True)
    p.add_argument("--broker", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    try:
        s = settings_mod.Settings.from_env()
    except ValueError as e:
        log(f"compare-activemq: {e}")
        return 2
    os.environ.setdefault("TANDEM_PAIR_LOG_LEVEL", "warn")  # the nodes' log level (pair_harness)
    os.makedirs(args.out, exist_ok=True)
    c = Comparison(args, s)
    started = datetime.datetime.now(datetime.timezone.utc)
    durability = dict(DURABILITY)
    if s.amq_kahadb:
        durability["activemq"] = durability["activemq"] + [f"AMQ_KAHADB adds to <kahaDB>: {s.amq_kahadb}"]
    meta = {"date": started.strftime("%Y-%m-%d %H:%M UTC"), "machine": procfs.machine(args.work),
            "versions": versions(args.bench), "settings": s.as_dict(), "durability": durability,
            "block_device": c.device, "load_before": procfs.load_average()}
    log(f"compare-activemq: {meta['date']}, {meta['machine']['cpus']} CPUs ({meta['machine']['cpu']}), "
        f"load {meta['load_before']}, stores on {meta['machine']['store_filesystem']} ({args.work})")
    log(f"versions: {meta['versions']}")
    for who, facts in durability.items():
        log(f"durability, {who}: " + "; ".join(facts))
    try:
        meta["fsync_probe_us_before"] = fsync_probe(args.work)
        log(f"fsync probe: {meta['fsync_probe_us_before']} us per 1,100-byte append + fdatasync")
        for rnd in range(1, s.rounds + 1):
            c.run_round(rnd)
        if s.failover:
            c.run_failover()
        meta["fsync_probe_us_after"] = fsync_probe(args.work)
    except (bench.BenchError, RuntimeError, AssertionError, subprocess.SubprocessError) as e:
        log(f"compare-activemq: {e}")
        return 1
    meta["load_after"] = procfs.load_average()
    meta["minutes"] = round((datetime.datetime.now(datetime.timezone.utc) - started).total_seconds() / 60, 1)
    return write_results(c, meta, args.out)


def write_results(c, meta, out):
    s = c.s
    rows = report.summarize(c.records, c.failover_records, s)
    res = report.resources(c.records, c.disk)
    main_t, res_t = report.table_rows(rows, res)
    m = meta["machine"]
    heading = (f"{meta['date']}; {m['cpus']} x {m['cpu']}, {m['memory_gib']} GiB, {m['os']}, kernel "
               f"{m['kernel']}, stores on {m['store_filesystem']}; fsync probe {meta['fsync_probe_us_before']} / "
               f"{meta['fsync_probe_us_after']} us before/after; load {meta['load_before']} -> {meta['load_after']}; "
               f"ActiveMQ {meta['versions']['activemq']}, Tandem {meta['versions']['tandem']}; "
               f"{s.rounds} round{'s' if s.rounds > 1 else ''}{' (QUICK)' if s.quick else ''}, {meta['minutes']} min")
    durable = durability_check(c.records)
    text = "\n".join([heading, "", report.text_table(main_t), "", report.text_table(res_t), "",
                      "Tandem ahead: > 1 = Tandem better on that row (higher rate, lower time or memory), "
                      "< 1 = ActiveMQ better.",
                      f"durability check (device flushes per message in (a), >= 0.9 means each receipt waited "
                      f"for the disk): {durable or 'not available on this device'}",
                      f"after the failovers every receipted message was delivered: "
                      f"{ {k: v['all_delivered'] for k, v in c.checks.items()} }"])
    md = "\n".join([f"Measured {heading}.", "", report.markdown_table(main_t), "", report.markdown_table(res_t)])
    base = "compare-activemq"
    with open(os.path.join(out, base + ".md"), "w") as f:
        f.write(md + "\n")
    with open(os.path.join(out, base + ".json"), "w") as f:
        json.dump({**meta, "configs": c.configs, "rows": rows, "resources": res, "durability_check": durable,
                   "failover_checks": c.checks, "disk": c.disk, "runs": c.records,
                   "failover_runs": c.failover_records}, f, indent=1)
    try:
        svg = chart.draw(rows, out, base, f"Tandem vs ActiveMQ {meta['versions']['activemq']}, {meta['date']}, "
                                         f"{m['cpus']} CPUs, medians of {s.rounds} rounds (bars: min-max)",
                         run_gnuplot=s.chart)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        log(f"compare-activemq: no chart: {e}")
        svg = None
    print(text)
    print("\nmarkdown (ready to paste):\n")
    print(md)
    print(f"\nwritten: {out}/{base}.json, {base}.md, {base}.gp" + (f", {base}.svg" if svg else
                                                                     " (no gnuplot: no chart)"))
    bad = [b for b, v in durable.items() if not v["receipt_after_disk_flush"]]
    lost = [k for k, v in c.checks.items() if not v["all_delivered"]]
    return 1 if bad or lost else 0


if __name__ == "__main__":
    sys.exit(main())

"""Failover rows: kill -9 of the active broker of a pair while a producer sends, timed to the
producer's first RECEIPT from the other broker.

The producer is `tandem-bench latency` (one persistent 1 KiB send at a time, each waiting for
its receipt) through the same failover URI for every pair:

    failover:(stomp://127.0.0.1:P1,stomp://127.0.0.1:P2)?randomize=false&initialReconnectDelay=10
             &maxReconnectDelay=100&timeout=120000

so the client retries at least every 100 ms and its own backoff does not hide what the brokers
do (the library's default backoff grows to 30 s). It runs `pre_fault_s` plus a random part of
`phase_s` (default 10 s, ActiveMQ's default lock poll: a standby that polls finds the lock free
after a random part of its period, not after the same part every run), then the script takes
the wall-clock time and SIGKILLs the active; the send in flight waits through the outage and is
re-sent to the new active. tandem-bench reports the wall-clock time of the first receipt after
its client reconnected (`first_receipt_after_reconnect_unix_ms`): kill -> first receipt from the
new active = that time minus the kill time. A run counts only with exactly one reconnect, after
the kill; the killed broker is then started again and waits as the standby.
At the end every queue is drained from the last active: every receipted message must be there.
"""

import random
import time

import bench

URI_OPTIONS = "randomize=false&initialReconnectDelay=10&maxReconnectDelay=100&timeout=120000"


def failover_uri(ports):
    return "failover:(" + ",".join(f"stomp://127.0.0.1:{p}" for p in ports) + ")?" + URI_OPTIONS


def run_pair(pair, key, settings, bench_bin, timeout_s=120.0, log=print):
    """`pair`: activemq.ActiveMQPair or tandem.TandemPair (start, active, other, wait_standby,
    restart, stop, ports). Returns (records, check) where check says whether every receipted
    message was delivered afterwards."""
    uri = failover_uri(pair.ports())
    rng = random.Random(f"{key}-{settings.failover_runs}")  # the same kill times when re-run
    records = []
    receipted = {}
    pair.start(timeout_s)
    try:
        for run in range(1, settings.failover_runs + 1):
            active = pair.active(timeout_s)
            standby = pair.other(active)
            pair.wait_standby(standby, timeout_s)
            dest = f"/queue/failover.{key}.{run}"
            before_kill = settings.pre_fault_s + rng.uniform(0, settings.phase_s)
            proc = bench.start(bench_bin, uri, ["latency", "--duration", f"{before_kill + 1:.3f}",
                                                "--size", str(settings.size), "--destination", dest,
                                                "--timeout-ms", "120000"])
            # The load runs for a fixed time before the fault: that is the workload's definition,
            # not a synchronisation (the producer's own figures show it was sending).
            time.sleep(before_kill)
            if proc.poll() is not None:
                bench.finish(proc, 5)  # raises with its stderr
                raise bench.BenchError(f"the producer ended before the fault (run {run} of {pair.label})")
            kill_ms = time.time() * 1000
            active.kill9()
            r = bench.finish(proc, timeout_s * 2)
            first = r.get("first_receipt_after_reconnect_unix_ms")
            # One reconnect, after the kill: anything else (a connection lost before the fault)
            # would not measure the failover.
            valid = first is not None and first >= kill_ms and r["reconnects"] == 1
            ms = round(first - kill_ms, 1) if valid else None
            records.append({"pair": key, "run": run, "killed": active.name, "new_active": standby.name,
                            "load_before_kill_s": round(before_kill, 3), "value": ms, "valid": valid,
                            "bench": r})
            receipted[dest] = r["messages"]
            log(f"  failover {pair.label} run {run}: kill -9 {active.name} -> first receipt from "
                f"{standby.name} " + (f"{ms:.0f} ms" if valid else
                                      f"not measured ({r['reconnects']} reconnects, first receipt after one "
                                      f"at {first} against the kill at {kill_ms:.0f})"))
            pair.restart(active, timeout_s)
        check = _drain_all(pair, receipted, bench_bin, timeout_s)
    finally:
        pair.stop()
    return records, check


def _drain_all(pair, receipted, bench_bin, timeout_s):
    """Every receipted message of every run is on its queue (drained from the active)."""
    uri = failover_uri(pair.ports())
    missing = []
    for dest, count in receipted.items():
        try:
            bench.run(bench_bin, uri, ["drain", "--count", str(count), "--destination", dest, "--timeout-ms", "10000"],
                      timeout_s + count / 100)
        except bench.BenchError as e:
            missing.append(f"{dest}: {e}")
    return {"receipted": sum(receipted.values()), "all_delivered": not missing, "problems": missing}

#!/usr/bin/python3
"""Switchover drill: start an active/standby pair on one machine, put it under load, inject a
fault into the active node again and again, and report how long clients were without a broker
and whether any message was lost or duplicated.

    /usr/bin/python3 deploy/drill.py [--runs 10] [--fault kill|stop|switchover|term]
                                     [--rate 500] [--bin-dir build] [--backlog N]

Each run uses its own producer (tandem-send, messages drill-<run>-<n>, each waiting for its
receipt) and consumer (tandem-recv, client-individual acks) through the pair's failover URI; the
failover library re-sends every message that had no receipt with the same message-id. A run:
load flows, the fault hits the active, the other node takes over, load flows again, the producer
stops, the consumer receives everything receipted. The accounting comes from the two programs'
--trace files and the nodes' logs (deploy/drill_load.py).

Per run it prints the switchover time (fault -> first receipt from a connection to the new
active opened after the fault), the takeover time (fault -> the other node active and serving
STOMP), and the accounting: sent, receipted, delivered (distinct messages), redelivered (a copy
of a stored message delivered again: allowed after a failover), lost (receipted, never
delivered), duplicated (stored twice, or delivered twice without being marked redelivered) and
fenced (delivered by a node after the other had taken over). Exit status 1 if anything was lost,
duplicated or delivered by a fenced node, 2 if the drill itself could not run.

Faults: kill = SIGKILL (restarted as the standby), term = SIGTERM (graceful; restarted),
stop = SIGSTOP until the peer took over, then SIGCONT (it must fence itself), switchover =
POST /api/v1/switchover. With --backlog N, the active is first filled with N pending 1 KiB
messages (tools/tandem-bench fill) on a queue nobody consumes, so every takeover recovers them.
The same drills across two zones, with storage and network faults, are deploy/chaos.py.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.path.insert(0, os.path.join(REPO, "deploy"))

import drill_load as dl  # noqa: E402
import pair_harness as ph  # noqa: E402
import tandem_harness as th  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--fault", choices=ph.FAULTS, default="kill")
    p.add_argument("--rate", type=int, default=500, help="messages per second")
    p.add_argument("--bin-dir", default=os.path.join(REPO, "build"),
                   help="CMake build directory holding broker/tandem-broker (default: build/)")
    p.add_argument("--backlog", type=int, default=0,
                   help="pending 1 KiB messages to put in the journal before the runs")
    p.add_argument("--progress", type=int, default=0,
                   help="receipts before and after each fault (default: rate/2, at least 50)")
    p.add_argument("--ttl-ms", type=int, help="ha.lease_ttl_ms (default: the broker's)")
    p.add_argument("--renew-ms", type=int, help="ha.renew_interval_ms")
    p.add_argument("--margin-ms", type=int, help="ha.safety_margin_ms")
    p.add_argument("--poll-ms", type=int, help="ha.poll_interval_ms")
    p.add_argument("--workdir", help="keep the pair's files here (default: a temp dir, removed)")
    p.add_argument("--timeout", type=float, default=120.0, help="bound for every wait, seconds")
    return p.parse_args(argv)


def ha_settings(args):
    ha = {}
    for key, value in (("lease_ttl_ms", args.ttl_ms), ("renew_interval_ms", args.renew_ms),
                       ("safety_margin_ms", args.margin_ms), ("poll_interval_ms", args.poll_ms)):
        if value is not None:
            ha[key] = value
    return ha


def fill_backlog(bin_dir, node, count, timeout):
    bench = os.path.join(bin_dir, "tools", "tandem-bench")
    cmd = [bench, "--port", str(node.port), "fill", "--count", str(count), "--size", "1024",
           "--destination", "/queue/drill.backlog", "--quiet"]
    print(f"filling the backlog: {' '.join(cmd)}", flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"tandem-bench fill did not finish within {timeout:.0f}s")
    if proc.returncode != 0:
        raise RuntimeError(f"tandem-bench fill failed ({proc.returncode}): {out.decode()[-2000:]}")
    print(f"backlog of {count} messages filled in {time.monotonic() - t0:.1f}s", flush=True)


def spawn(argv, **kw):
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, preexec_fn=th._die_with_parent, **kw)


def one_run(pair, run, args, clients_dir):
    endpoints = {f"stomp://{n.host}:{n.port}": n.name for n in pair.nodes}
    uri = f"failover:({','.join(endpoints)})?maxReconnectDelay=1000"
    load = dl.Load(os.path.join(args.bin_dir, "tools"), uri, f"/queue/drill.{run}", clients_dir, spawn,
                   rate=args.rate, label=f"drill-{run}").start()
    progress = args.progress or max(50, args.rate // 2)
    try:
        load.wait_receipts(progress, args.timeout)
        t0 = time.time()
        result = ph.inject_fault(pair, args.fault, timeout=args.timeout)
        load.wait_receipts_after(t0, progress, args.timeout)
        load.finish(args.timeout)
    except (dl.DrillError, AssertionError) as e:
        raise RuntimeError(f"run {run}: {e}\n{pair.logs()}") from None
    finally:
        load.stop()
    new = result["new"]
    acc = load.account(endpoints, dl.activations([n.log_path for n in pair.nodes]))
    first = load.first_receipt_on(f"stomp://{new.host}:{new.port}", t0)
    acc.update(run=run, fault=args.fault, old=result["old"].name, new=new.name,
               switchover_ms=(first - t0) * 1000 if first else None, takeover_ms=result["takeover_ms"],
               recovery_ms=(new.status() or {}).get("recovery_ms"))
    return acc


COLUMNS = [("run", 4), ("fault", 10), ("from>to", 15), ("switch_ms", 10), ("takeover_ms", 12),
           ("recovery_ms", 12), ("sent", 7), ("receipted", 10), ("delivered", 10),
           ("redeliv", 8), ("resent", 7), ("lost", 5), ("dup", 4), ("fenced", 6)]


def row(acc):
    def ms(v):
        return "-" if v is None else f"{v:.0f}"
    values = [acc["run"], acc["fault"], f"{acc['old']}>{acc['new']}", ms(acc["switchover_ms"]),
              ms(acc["takeover_ms"]), ms(acc["recovery_ms"]), acc["sent"], acc["receipted"],
              acc["delivered"], acc["redelivered"], acc["resent"], acc["lost"], acc["duplicated"],
              acc["fenced_deliveries"]]
    return " ".join(str(v).rjust(w) for v, (_, w) in zip(values, COLUMNS))


def header():
    return " ".join(name.rjust(w) for name, w in COLUMNS)


def main(argv=None):
    args = parse_args(argv)
    args.bin_dir = os.path.abspath(args.bin_dir)
    binary = os.path.join(args.bin_dir, "broker", "tandem-broker")
    if not os.access(binary, os.X_OK):
        print(f"drill: no tandem-broker at {binary} (--bin-dir)", file=sys.stderr)
        return 2
    workdir = args.workdir or tempfile.mkdtemp(prefix="tandem-drill-")
    os.makedirs(workdir, exist_ok=True)
    ha = ha_settings(args)
    pair = ph.Pair(workdir, ha=ha or {}, binary=binary)
    results = []
    try:
        pair.start()
        active = pair.wait_active(args.timeout)
        print(f"pair up in {workdir}: active {active.name} (stomp {active.port}, http "
              f"{active.http_port}), standby {pair.other(active).name}; ha {ha or 'defaults'}; "
              f"fault {args.fault} x{args.runs} at {args.rate} msg/s", flush=True)
        if args.backlog:
            fill_backlog(args.bin_dir, active, args.backlog, max(args.timeout, 1800))
        print(header(), flush=True)
        for run in range(1, args.runs + 1):
            acc = one_run(pair, run, args, os.path.join(workdir, "clients"))
            results.append(acc)
            print(row(acc), flush=True)
            for key in ("lost_ids", "fenced_examples"):
                if acc[key]:
                    print(f"    {key}: {acc[key]}", flush=True)
    except (RuntimeError, AssertionError) as e:
        print(f"drill: {e}", file=sys.stderr)
        return 2
    finally:
        pair.stop()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    print("\nsummary")
    print(header())
    for acc in results:
        print(row(acc))
    total = {k: sum(a[k] for a in results) for k in
             ("sent", "receipted", "delivered", "redelivered", "lost", "duplicated", "fenced_deliveries")}
    times = [a["switchover_ms"] for a in results if a["switchover_ms"] is not None]
    print(f"\nfault {args.fault}, {len(results)} runs: sent {total['sent']}, receipted "
          f"{total['receipted']}, delivered {total['delivered']}, redelivered "
          f"{total['redelivered']}, lost {total['lost']}, duplicated {total['duplicated']}, delivered by a "
          f"fenced node {total['fenced_deliveries']}")
    if times:
        print(f"switchover ms (fault -> first receipt from the new active): median "
              f"{statistics.median(times):.0f}, min {min(times):.0f}, max {max(times):.0f}")
    return 1 if total["lost"] or total["duplicated"] or total["fenced_deliveries"] else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Chaos drills: the pair across two simulated zones (deploy/zones.py) with its NFS storage on a
third host, a producer and a consumer running through the failover URL from a client host, and one
fault per drill. Prints a table: fault, switchover time, sent, receipted, delivered, lost,
duplicated, deliveries from a fenced node, and more.

    /usr/bin/python3 deploy/chaos.py --drill all --bin-dir build
    /usr/bin/python3 deploy/chaos.py --drill storage-cut --drill client-cut --rate 200

Drills (each in fresh zones, torn down after it):
  kill             SIGKILL of the active; it is started again as the standby
  stop             SIGSTOP of the active until the other zone took over (past the ttl), then SIGCONT
  storage-cut      the active's link to storage cut, its clients still reach it
  client-cut       the active's link to the clients cut, storage fine: wait, restore; then cut
                   again and switch over during the cut
  storage-freeze   every process of the storage host SIGSTOPped past the ttl, then SIGCONT
  storage-restart  NFS-Ganesha SIGKILLed and started again on the same address and directory
  latency          50 ms each way between the zones and storage: throughput, then a SIGKILL
  switchover30     30 switchovers in a row under load

Needs root, ip netns, nfs-ganesha (scripts/install-deps.sh) and a build (--bin-dir). Exit status:
0 all drills ran and nothing was lost, duplicated or delivered by a fenced node; 1 something was;
2 a drill could not run (a bounded wait ran out; the nodes' logs are printed).
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))

import chaos_drills as cd  # noqa: E402
from drill_load import DrillError  # noqa: E402

COLUMNS = [("fault", 22), ("runs", 4), ("switch_ms", 16), ("takeover_ms", 16), ("max_gap_ms", 10),
           ("sent", 6), ("receipted", 9), ("delivered", 9), ("lost", 4), ("dup", 3), ("fenced", 6),
           ("redeliv", 7), ("resent", 6), ("msgs/s", 6)]


def cells(row):
    def n(v, fmt="{}"):
        return "-" if v is None else fmt.format(v)
    return [row["fault"], n(row.get("runs")), cd.summary(row.get("switch_ms") or []),
            cd.summary(row.get("takeover_ms") or []), n(row.get("max_gap_ms"), "{:.0f}"), n(row.get("sent")),
            n(row.get("receipted")), n(row.get("delivered")), n(row.get("lost")), n(row.get("duplicated")),
            n(row.get("fenced_deliveries")), n(row.get("redelivered")), n(row.get("resent")),
            n(row.get("rate"), "{:.0f}")]


def table(rows, markdown=False):
    if markdown:
        out = ["| " + " | ".join(name for name, _ in COLUMNS) + " |",
               "|" + "|".join("---" for _ in COLUMNS) + "|"]
        out += ["| " + " | ".join(cells(r)) + " |" for r in rows]
        return "\n".join(out)
    out = [" ".join(name.rjust(w) for name, w in COLUMNS)]
    out += [" ".join(c.rjust(w) for c, (_, w) in zip(cells(r), COLUMNS)) for r in rows]
    return "\n".join(out)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    names = list(cd.DRILLS)
    p.add_argument("--drill", action="append", choices=["all", *names],
                   help="a drill to run (repeatable; default all)")
    p.add_argument("--bin-dir", default=os.path.join(HERE, "..", "build"), help="the CMake build directory")
    d = cd.Params()
    p.add_argument("--rate", type=int, default=d.rate, help=f"producer messages/s (default {d.rate})")
    p.add_argument("--before", type=int, default=d.before, help="receipts before each fault")
    p.add_argument("--after", type=int, default=d.after, help="receipts after the service is back")
    p.add_argument("--switchovers", type=int, default=d.switchovers, help="switchover30: how many")
    p.add_argument("--freeze-s", type=float, default=d.freeze_s, help="storage-freeze: seconds frozen")
    p.add_argument("--client-cut-s", type=float, default=d.client_cut_s, help="client-cut: seconds cut")
    p.add_argument("--latency-ms", type=int, default=d.latency_ms, help="latency: ms added each way")
    p.add_argument("--throughput-count", type=int, default=d.throughput_count,
                   help="latency: messages per throughput measurement")
    p.add_argument("--timeout", type=float, default=d.timeout, help="bound of every wait, seconds")
    p.add_argument("--workdir", help="keep every drill's files and logs under this directory")
    p.add_argument("--markdown", action="store_true", help="print the final table as Markdown too")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    drills = list(cd.DRILLS) if not args.drill or "all" in args.drill else list(dict.fromkeys(args.drill))
    broker = os.path.join(args.bin_dir, "broker", "tandem-broker")
    if not os.access(broker, os.X_OK):
        print(f"chaos: no tandem-broker at {broker} (--bin-dir)", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("chaos: needs root (ip netns, NFS-Ganesha)", file=sys.stderr)
        return 2
    params = cd.Params(rate=args.rate, before=args.before, after=args.after, switchovers=args.switchovers,
                       freeze_s=args.freeze_s, client_cut_s=args.client_cut_s, latency_ms=args.latency_ms,
                       throughput_count=args.throughput_count, timeout=args.timeout)
    rows, failed = [], []
    started = time.monotonic()
    for name in drills:
        print(f"--- {name}", flush=True)
        workdir = os.path.join(args.workdir, name) if args.workdir else None
        if workdir:
            os.makedirs(workdir, exist_ok=True)
        t = time.monotonic()
        try:
            got = cd.run_drill(name, params, args.bin_dir, workdir)
        except DrillError as e:
            print(f"chaos: {e}", file=sys.stderr, flush=True)
            failed.append(name)
            continue
        rows += got
        print(table(got), flush=True)
        for r in got:
            if r.get("note"):
                print(f"    {r['fault']}: {r['note']}")
            for what in cd.problems(r):
                print(f"    {r['fault']}: PROBLEM: {what}")
            for key in ("lost_ids", "fenced_examples"):
                if r.get(key):
                    print(f"    {key}: {r[key]}")
        print(f"    ({time.monotonic() - t:.0f} s)", flush=True)
    print(f"\nsummary ({len(rows)} rows, {time.monotonic() - started:.0f} s; switch_ms: fault -> first receipt "
          f"from the serving node on a new connection; takeover_ms: fault -> that node logged active; "
          f"max_gap_ms: the producer's longest wait between receipts)")
    print(table(rows))
    if args.markdown:
        print()
        print(table(rows, markdown=True))
    if failed:
        print(f"chaos: could not run: {', '.join(failed)}", file=sys.stderr)
        return 2
    return 1 if any(cd.problems(r) for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

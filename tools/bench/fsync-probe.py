#!/usr/bin/python3
"""How long one small durable append takes on this disk right now: the floor under workload (a).

    /usr/bin/python3 tools/bench/fsync-probe.py [DIR] [--count N]

Writes 1,100-byte records (a 1 KiB message and its framing) into a file preallocated with
zeros, as the journal does, each followed by fdatasync, and prints the mean time per append.
Run it next to a benchmark: on shared or throttled virtual disks this varies by 10x or more
between minutes, and a broker cannot acknowledge single durable sends faster than this.
"""
import argparse
import os
import tempfile
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("dir", nargs="?", default=tempfile.gettempdir())
parser.add_argument("--count", type=int, default=2000)
args = parser.parse_args()

fd, path = tempfile.mkstemp(prefix="tandem-fsync-probe.", dir=args.dir)
try:
    record = b"x" * 1100
    zeros = b"\0" * (1 << 20)
    for i in range((args.count * len(record)) // len(zeros) + 1):
        os.pwrite(fd, zeros, i * len(zeros))
    os.fsync(fd)
    start = time.monotonic()
    for i in range(args.count):
        os.pwrite(fd, record, i * len(record))
        os.fdatasync(fd)
    elapsed = time.monotonic() - start
    print(f"{args.dir}: {args.count} appends of {len(record)} B + fdatasync: "
          f"{elapsed / args.count * 1e6:.0f} us each, {args.count / elapsed:.0f}/s")
finally:
    os.close(fd)
    os.unlink(path)

"""The comparison's workloads (a)-(f): the same tandem-bench command against either broker, with
what the broker process spent on it.

For every run: the workload's figure, the broker's CPU seconds (utime + stime before/after), its
peak RSS during the run (VmHWM, reset just before), the block device's flush requests during the
run (/proc/diskstats: with one producer waiting for each receipt, about one flush per message
shows that receipts wait for the disk; shared with everything else on the machine, so a lower
bound check, not a precise figure) and the client's CPU.
"""

import os
import subprocess

import bench
import procfs

# key, row label, unit, higher is better
ROWS = [
    ("a", "(a) 1 producer, persistent 1 KiB, receipt each", "msgs/s", True),
    ("a_latency", "(a) send to receipt, median", "ms", False),
    ("b", "(b) 8 producers, receipt each", "msgs/s", True),
    ("c", "(c) {stream} persistent pipelined, receipt each, to the last", "msgs/s", True),
    ("c_last", "(c') the same, a receipt for the last only (plain STOMP)", "msgs/s", True),
    ("d", "(d) drain of (c), client-individual ack each", "msgs/s", True),
    ("e", "(e) topic fan-out to {subscribers} subscribers", "deliveries/s", True),
    ("f", "(f) {connections} idle connections: memory each", "KiB", False),
    ("f_open", "(f) time to open them", "s", False),
]


# The workloads with a run record each, in the order a round runs them.
MEASURED = ("a", "b", "c", "c_last", "d", "e", "f")


def row_labels(s):
    return {key: label.format(stream=f"{s.stream_count:,}", subscribers=s.subscribers,
                              connections=f"{s.connections:,}") for key, label, _, _ in ROWS}


def block_device(path):
    """The /proc/diskstats name of the disk under `path` (a partition's parent disk counts the
    flushes), or None when there is none or it has no write-back cache to flush."""
    try:
        src = subprocess.run(["findmnt", "-n", "-o", "SOURCE", "-T", path], capture_output=True, text=True,
                             timeout=10).stdout.strip()
        if not src.startswith("/dev/"):
            return None
        parent = subprocess.run(["lsblk", "-n", "-o", "PKNAME", src], capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dev = parent.splitlines()[0] if parent else os.path.basename(src)
        with open(f"/sys/block/{dev}/queue/write_cache") as f:
            # Without a volatile write cache the kernel sends no flushes: nothing to count.
            return dev if f.read().strip() == "write back" else None
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return None


def device_flushes(dev):
    """Flush requests completed by `dev` so far (kernel >= 5.5), or None."""
    if not dev:
        return None
    with open("/proc/diskstats") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 20 and fields[2] == dev:
                return int(fields[18])
    return None


class Runner:
    """Runs workloads against one broker at a time (`broker.port`, `broker.pid`) and returns
    one record per run.

    What (a), (b) and (c') store is consumed right after each run, untimed ("leftovers"): a
    broker holding every earlier workload's messages would run the next ones in another state,
    and Tandem refuses non-persistent sends (the fan-out) once pending messages fill its
    limits.max_memory_bytes (128 MiB by default)."""

    WARMUP = {"a": 100, "b": 20}  # tandem-bench --warmup: per connection, on the same queue

    def __init__(self, settings, bench_bin, device):
        self.s = settings
        self.bench_bin = bench_bin
        self.device = device

    @staticmethod
    def uri(broker):
        return f"stomp://127.0.0.1:{broker.port}"

    @staticmethod
    def destination(key, rnd, warm=False):
        q = f"cmp{'w' if warm else ''}.{rnd}"
        return {"a": f"/queue/{q}.a", "b": f"/queue/{q}.b", "c": f"/queue/{q}.c", "c_last": f"/queue/{q}.cl",
                "d": f"/queue/{q}.c", "e": f"/topic/{q}.e", "disk": f"/queue/{q}.disk"}.get(key)

    def _args(self, key, rnd, warm=False):
        s = self.s
        dest = ["--destination", self.destination(key, rnd, warm)]
        sizes = ["--size", str(s.size), "--timeout-ms", "60000"]
        if key == "a":
            return ["latency", "--duration", str(s.warm_seconds if warm else s.a_seconds), "--warmup",
                    str(self.WARMUP["a"]), *dest, *sizes]
        if key == "b":
            return ["producers", "--producers", str(s.producers), "--duration",
                    str(s.warm_seconds if warm else s.b_seconds), "--warmup", str(self.WARMUP["b"]), *dest, *sizes]
        count = str(s.warm_count if warm else s.stream_count)
        if key == "c":
            return ["stream", "--count", count, *dest, *sizes]
        if key in ("c_last", "disk"):
            return ["stream", "--receipts", "last", "--count", count, *dest, *sizes]
        if key == "d":
            return ["drain", "--count", count, *dest, "--timeout-ms", "60000"]
        if key == "e":
            return ["fanout", "--count", str(s.warm_fanout if warm else s.fanout_count), "--subscribers",
                    str(s.subscribers), "--non-persistent", *dest, *sizes]
        if key == "f":
            return ["connections", "--count", str(s.connections), "--hold", str(s.hold), "--timeout-ms", "60000"]
        raise ValueError(key)

    def _timeout(self, key):
        s = self.s
        per_message = 120 + s.stream_count / 50
        return {"a": s.a_seconds * 10 + 120, "b": s.b_seconds * 10 + 120, "c": per_message, "c_last": per_message,
                "disk": per_message, "d": per_message, "e": 120 + s.fanout_count / 20,
                "f": 300 + s.connections / 20 + s.hold}[key]

    def _run(self, broker, key, rnd, warm=False):
        return bench.run(self.bench_bin, self.uri(broker), self._args(key, rnd, warm), self._timeout(key))

    def drain(self, broker, dest, count):
        """Consumes `count` messages from `dest`, untimed."""
        if count:
            bench.run(self.bench_bin, self.uri(broker), ["drain", "--count", str(count), "--destination", dest,
                                                         "--timeout-ms", "30000"], 120 + count / 200)

    def _drain_leftover(self, broker, key, rnd, result, warm=False):
        if key in ("a", "b", "c_last", "disk"):
            connections = self.s.producers if key == "b" else 1
            self.drain(broker, self.destination(key, rnd, warm),
                       result["messages"] + self.WARMUP.get(key, 0) * connections)

    def warm_up(self, broker, rnd):
        """The round's warm-up on `broker`, discarded: JIT, caches, first journal files."""
        for key in MEASURED[:-1]:  # not (f): opening connections needs no warming
            self._drain_leftover(broker, key, rnd, self._run(broker, key, rnd, warm=True), warm=True)

    def fill_for_disk(self, broker, rnd):
        """STREAM_COUNT messages (one receipt, at the end) into a fresh store, for its growth per
        message: nothing has been consumed yet, so nothing is reclaimed meanwhile. drain_disk()
        consumes them once the growth is measured."""
        return self._run(broker, "disk", rnd)

    def drain_disk(self, broker, rnd, result):
        self._drain_leftover(broker, "disk", rnd, result)

    def measure(self, broker, kind, key, rnd):
        pid = broker.pid
        hwm_reset = procfs.reset_peak_rss(pid)  # first: the peak then starts at this RSS or above
        rss_before = procfs.rss_kib(pid)
        cpu_before = procfs.cpu_seconds(pid)
        flushes_before = device_flushes(self.device)
        r = self._run(broker, key, rnd)
        cpu = procfs.cpu_seconds(pid) - cpu_before
        peak = procfs.peak_rss_kib(pid)
        flushes_after = device_flushes(self.device)
        self._drain_leftover(broker, key, rnd, r)
        count = r.get("opened") if key == "f" else r["messages"]
        rec = {
            "round": rnd, "broker": kind, "workload": key,
            "messages": count,
            "broker_cpu_s": round(cpu, 3),
            "broker_cpu_s_per_10k": round(cpu / count * 10000, 3) if count else None,
            "rss_before_kib": rss_before,
            "peak_rss_kib": peak,
            "peak_rss_is_since_start": not hwm_reset,
            "device_flushes": (flushes_after - flushes_before) if flushes_before is not None else None,
            "bench": r,
        }
        if key == "f":
            if r["opened"] != r["requested"] or r["alive_after_hold"] != r["opened"]:
                rec["incomplete"] = (f"opened {r['opened']} of {r['requested']}, "
                                     f"{r['alive_after_hold']} alive after the hold")
            rec["value"] = round((peak - rss_before) / r["opened"], 2) if r["opened"] else None
            rec["open_s"] = r["seconds"]
        else:
            rec["value"] = r["msgs_per_s"]
        if key == "a":
            rec["latency_median_ms"] = r["latency_ms"]["median"]
        return rec


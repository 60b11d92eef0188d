"""Load for the drills: a producer (tandem-send) and a consumer (tandem-recv) through a failover
URI, each writing a trace (tools/README.md, --trace), and the accounting read from the traces and
the nodes' logs. Used by deploy/chaos.py (two zones), deploy/drill.py (one machine) and their
tests.

    load = Load(tools_dir, uri, "/queue/drill.kill", workdir, spawn, rate=200, label="kill")
    load.start()
    load.wait_receipts(100, timeout=30)        # progress before the fault
    t0 = time.time(); ...fault...
    load.wait_receipts_after(t0, 100, 30)      # progress after it
    load.finish(timeout=60)                    # producer stopped, consumer drained
    acc = load.account(endpoints, activations) # sent, receipted, delivered, lost, dup, ...

The producer numbers its messages (`LABEL-N`, N = 1, 2, ...) and waits for each receipt before the
next (so "receipted" is exactly the messages 1..R plus none after a failure); SIGINT stops it
after the message in progress is receipted. The consumer acks each message (client-individual)
after printing it. Processes are started through `spawn(argv, **popen_kw)` (a zone's exec, or
subprocess.Popen) and stopped by PID.
"""

import os
import re
import signal
import subprocess
import time
from datetime import datetime, timezone


class DrillError(RuntimeError):
    pass


def wait_until(predicate, timeout, what, interval=0.05):
    """Polls `predicate` until it returns a truthy value; DrillError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise DrillError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def read_trace(path):
    """[(time_s, kind, [fields])] of a --trace file (a line still being written is skipped)."""
    out = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if not line.endswith("\n"):
                    break
                parts = line.rstrip("\n").split("\t")
                out.append((float(parts[0]) / 1000.0, parts[1], parts[2:]))
    except FileNotFoundError:
        pass
    return out


def connections(trace):
    """{generation: (time connected, endpoint)} from connected/resumed lines."""
    return {int(f[0]): (t, f[1]) for t, kind, f in trace if kind in ("connected", "resumed")}


_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z \w+ node: (\S+) is (\w+) \(epoch (\d+)\)")


def role_changes(log_path):
    """[(time_s, node, role, epoch)] from a broker log's "NODE is ROLE (epoch N)" lines."""
    out = []
    try:
        with open(log_path, errors="replace") as f:
            for line in f:
                m = _LOG_LINE.match(line)
                if m:
                    t = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc)
                    out.append((t.timestamp(), m.group(2), m.group(3), int(m.group(4))))
    except FileNotFoundError:
        pass
    return out


def activations(log_paths):
    """[(time_s, node, epoch)] sorted: when each node began serving an epoch ("activating": it
    won the lease; everything the previous holder sends after this comes from a fenced node)."""
    out = []
    for path in log_paths:
        out += [(t, n, e) for t, n, role, e in role_changes(path) if role == "activating"]
    return sorted(out)


class Load:
    def __init__(self, tools_dir, uri, dest, workdir, spawn, rate=200, label="load"):
        self.tools_dir = tools_dir
        self.uri = uri
        self.dest = dest
        self.label = label
        self.rate = rate
        self.spawn = spawn
        os.makedirs(workdir, exist_ok=True)
        self.send_trace = os.path.join(workdir, f"{label}.send.trace")
        self.recv_trace = os.path.join(workdir, f"{label}.recv.trace")
        self.send_err = os.path.join(workdir, f"{label}.send.stderr")
        self.recv_err = os.path.join(workdir, f"{label}.recv.stderr")
        self.producer = self.consumer = None
        self.started_at = None
        self.producer_code = None

    # --- running ----------------------------------------------------------------------------

    def _start(self, argv, err_path):
        err = open(err_path, "wb")
        try:
            return self.spawn(argv, stdout=subprocess.DEVNULL, stderr=err)
        finally:
            err.close()

    def start(self, count=10_000_000):
        """Consumer first (so nothing waits long in the queue), then the producer."""
        self.started_at = time.time()
        self.consumer = self._start(
            [os.path.join(self.tools_dir, "tandem-recv"), self.uri, self.dest, "--ack", "client-individual",
             "--connect-timeout", "60000", "--trace", self.recv_trace], self.recv_err)
        argv = [os.path.join(self.tools_dir, "tandem-send"), self.uri, self.dest, self.label + "-{n}",
                "--number", "--persistent", "--count", str(count), "--connect-timeout", "60000",
                "--trace", self.send_trace]
        if self.rate:
            argv += ["--rate", str(self.rate)]
        self.producer = self._start(argv, self.send_err)
        return self

    def receipts(self):
        """[(time_s, n, generation)] of the producer's receipts."""
        return [(t, int(f[0]), int(f[1])) for t, kind, f in read_trace(self.send_trace) if kind == "receipt"]

    def _check_producer(self):
        if self.producer.poll() is not None and self.producer_code is None:
            raise DrillError(f"tandem-send ended early (exit {self.producer.returncode}): {self.stderr('send')}")

    def wait_receipts(self, n, timeout):
        def enough():
            self._check_producer()
            return len(self.receipts()) >= n
        wait_until(enough, timeout, f"{n} receipts ({self.label})")

    def wait_receipts_after(self, t0, n, timeout):
        """Until `n` receipts arrived after wall-clock time t0; returns the time of the first."""
        def enough():
            self._check_producer()
            after = [t for t, _, _ in self.receipts() if t > t0]
            return after[0] if len(after) >= n else None
        return wait_until(enough, timeout, f"{n} receipts after the fault ({self.label})")

    def finish(self, timeout):
        """Stops the producer (SIGINT: it waits for the receipt of the message in progress), then
        waits until the consumer has every receipted message, then stops it."""
        if self.producer.poll() is None:
            self.producer.send_signal(signal.SIGINT)
        try:
            self.producer.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DrillError(f"tandem-send did not stop within {timeout:.0f}s: {self.stderr('send')}")
        self.producer_code = self.producer.returncode
        if self.producer_code not in (0, 130):
            raise DrillError(f"tandem-send failed (exit {self.producer_code}): {self.stderr('send')}")
        wanted = {n for _, n, _ in self.receipts()}
        wait_until(lambda: wanted <= self.delivered_numbers() or self.consumer.poll() is not None,
                   timeout, f"every receipted message at the consumer ({self.label})")
        self.stop()

    def stop(self):
        for p in (self.producer, self.consumer):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=10)

    def stderr(self, which):
        try:
            with open(self.send_err if which == "send" else self.recv_err, errors="replace") as f:
                return f.read()[-3000:]
        except FileNotFoundError:
            return ""

    # --- accounting -------------------------------------------------------------------------

    def messages(self):
        """[(time_s, generation, redelivered, timestamp, n)] the consumer received."""
        out, prefix = [], self.label + "-"
        for t, kind, f in read_trace(self.recv_trace):
            if kind == "message" and f[4].startswith(prefix):
                out.append((t, int(f[0]), f[1] == "1", f[2], int(f[4][len(prefix):])))
        return out

    def delivered_numbers(self):
        return {m[4] for m in self.messages()}

    def sent(self):
        m = re.search(r"sent (\d+), receipted (\d+), re-sent (\d+)", self.stderr("send"))
        return (int(m.group(1)), int(m.group(3))) if m else (None, None)

    def account(self, endpoint_nodes, activations_list):
        """The drill's figures. `endpoint_nodes`: {endpoint: node name}; `activations_list`:
        activations() of the nodes' logs, for deliveries from a fenced node."""
        receipts = self.receipts()
        receipted = {n for _, n, _ in receipts}
        msgs = self.messages()
        seen, stamps = {}, {}
        redelivered = duplicated = 0
        for t, gen, redeliv, stamp, n in msgs:
            if n in seen:
                # Another copy: a redelivery carries the stored message's timestamp and is marked;
                # a second stored copy has a timestamp of its own (it was accepted again).
                if stamp not in stamps[n] or not redeliv:
                    duplicated += 1
                else:
                    redelivered += 1
            seen[n] = True
            stamps.setdefault(n, set()).add(stamp)
        conns = connections(read_trace(self.recv_trace))
        fenced = []
        for t, gen, _, _, n in msgs:
            node = endpoint_nodes.get(conns.get(gen, (0, ""))[1])
            before = [a for a in activations_list if a[0] <= t]
            if node and before and before[-1][1] != node:
                fenced.append((n, node, t))
        sent, resent = self.sent()
        times = [t for t, _, _ in receipts]
        gaps = [b - a for a, b in zip(times, times[1:])]
        span = (times[-1] - times[0]) if len(times) > 1 else 0
        return {
            "sent": sent if sent is not None else len(receipted),
            "receipted": len(receipted),
            "delivered": len(seen),
            "lost": len(receipted - set(seen)),
            "lost_ids": sorted(receipted - set(seen))[:20],
            "duplicated": duplicated,
            "redelivered": redelivered,
            "resent": resent or 0,
            "fenced_deliveries": len(fenced),
            "fenced_examples": fenced[:5],
            "max_gap_ms": max(gaps) * 1000 if gaps else None,
            "rate": (len(times) - 1) / span if span > 0 else None,
        }

    def gap_around(self, t):
        """ms between the last receipt before wall-clock time t and the first after it (None if
        there is none after)."""
        times = [r[0] for r in self.receipts()]
        before = [x for x in times if x <= t]
        after = [x for x in times if x > t]
        return (after[0] - before[-1]) * 1000 if before and after else None

    def first_receipt_on(self, endpoint, after):
        """Wall-clock time of the first receipt after `after` that came over a connection to
        `endpoint` opened after `after` (the clients' switchover), or None."""
        conns = connections(read_trace(self.send_trace))
        for t, _, gen in self.receipts():
            c = conns.get(gen)
            if t > after and c and c[1] == endpoint and c[0] > after:
                return t
        return None

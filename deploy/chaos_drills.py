"""The chaos drills of deploy/chaos.py: each builds the two zones (deploy/zones.py), NFS-Ganesha on
the storage host, the pair (deploy/zone_pair.py), runs a producer and a consumer through the
failover URL from the client host (deploy/drill_load.py), injects its fault and returns rows of
figures. Everything is torn down by PID and by namespace at the end of each drill.

A drill raises DrillError when it cannot complete (a bounded wait ran out); its rows say what was
lost or duplicated. `Params` sizes them: the suite uses short loads, the drill command longer ones.
"""

import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass

import zones as zn
import zone_pair as zp
from drill_load import DrillError, Load, activations, wait_until

RELAY_PORT = 2050  # the delaying relay in front of Ganesha (latency drill)


@dataclass
class Params:
    rate: int = 200           # producer messages per second (each waits for its receipt)
    before: int = 200         # receipts before the fault
    after: int = 200          # receipts after the service is back
    switchovers: int = 30     # switchover30
    freeze_s: float = 4.0     # storage-freeze: how long the storage host stays frozen (> ttl)
    client_cut_s: float = 4.0  # client-cut: how long the clients lose the active
    latency_ms: int = 50      # latency: added each way between the zones and storage
    throughput_count: int = 2000  # latency: messages per throughput measurement
    timeout: float = 90.0     # bound of every wait


SUITE = Params(rate=100, before=30, after=30, switchovers=5, freeze_s=3.0, client_cut_s=3.0,
               throughput_count=300, timeout=60.0)


class Setup:
    """Zones, Ganesha and the pair for one drill; `with Setup(...) as env:`."""

    def __init__(self, bin_dir, workdir, relay=False, ha=None):
        self.bin_dir = os.path.abspath(bin_dir)
        self.tools = os.path.join(self.bin_dir, "tools")
        self.workdir = workdir
        self.relay = relay
        self.ha = ha
        self.zones = self.ganesha = self.pair = None

    def __enter__(self):
        for prefix in zn.stale_prefixes():
            zn.remove_run(prefix)
        self.zones = zn.up()
        try:
            self.ganesha = zn.start_ganesha(self.zones, os.path.join(self.workdir, "export"),
                                            os.path.join(self.workdir, "ganesha"))
            url = self.ganesha.url(version=4)
            if self.relay:
                self.zones.start_relay("storage", RELAY_PORT, self.ganesha.nfs_port)
                url = url.replace(f"nfsport={self.ganesha.nfs_port}", f"nfsport={RELAY_PORT}")
            self.pair = zp.ZonePair(self.zones, self.workdir, url, os.path.join(self.bin_dir, "broker", "tandem-broker"),
                                    ha=self.ha).start_all()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        # Brokers first (they release the lease while the server still runs), then the rest.
        if self.pair:
            self.zones.thaw("storage")
            self.pair.stop_all()
        if self.ganesha:
            self.ganesha.close()
        if self.zones:
            self.zones.down()

    def load(self, label, rate):
        return Load(self.tools, zp.failover_uri(), f"/queue/chaos.{label}", os.path.join(self.workdir, "clients"),
                    lambda argv, **kw: self.zones.exec("client", argv, **kw), rate=rate, label=label)

    def takeover_ms(self, node, t0):
        """Fault -> `node` logged itself active (its log; the drill's clock is the same host's)."""
        changes = [t for t, n, role, _ in _changes(self.pair) if n == node and role == "active" and t > t0]
        return (changes[0] - t0) * 1000 if changes else None

    def account(self, load, **row):
        acc = load.account(self.pair.endpoint_nodes(), activations(self.pair.log_paths()))
        acc.update(row)
        return acc


def _changes(pair):
    from drill_load import role_changes
    out = []
    for path in pair.log_paths():
        out += role_changes(path)
    return sorted(out)


def _ms(t, t0):
    return None if t is None else (t - t0) * 1000


def _fenced_but_listening(pair, name):
    """True if `name` says it is not active and still accepts STOMP connections (asked in that
    order, so a node that closes its port before it stops saying "active" never counts)."""
    role = pair.role(name)
    return role in ("fenced", "standby") and pair.stomp_listening(name)


# --- the drills -------------------------------------------------------------------------------


def fault_under_load(env, label, p, fault):
    """Load through `fault(old, load) -> (t0, new)`; then `after` receipts and a healthy pair.
    Returns one row."""
    pair = env.pair
    old = pair.wait_pair(p.timeout)
    load = env.load(label, p.rate).start()
    try:
        load.wait_receipts(p.before, p.timeout)
        t0, new, extra = fault(old, load)
        load.wait_receipts_after(t0, p.after, p.timeout)
        load.finish(p.timeout)
    finally:
        load.stop()
    pair.wait_pair(p.timeout)
    new = new or pair.active()
    first = load.first_receipt_on(zp.endpoint(new), t0) if new else None
    return env.account(load, fault=label, runs=1, old=old, new=new, switch_ms=[_ms(first, t0)],
                       takeover_ms=[env.takeover_ms(new, t0)], min_receipts=p.before + p.after, **extra)


def drill_kill(env, p):
    pair = env.pair

    def fault(old, load):
        t0 = time.time()
        pair.kill9(old)
        new = pair.wait_active(p.timeout, not_node=old)
        pair.start(old)
        pair.wait_role(old, "standby", p.timeout)
        return t0, new, {}
    return [fault_under_load(env, "kill", p, fault)]


def drill_stop(env, p):
    pair = env.pair

    def fault(old, load):
        t0 = time.time()
        pair.sigstop(old)
        new = pair.wait_active(p.timeout, not_node=old)
        # The peer claims a ttl after the last heartbeat it saw, which may be a renewal before
        # the fault: keep the node stopped at least a ttl plus a renew interval past the fault.
        ttl_s = (pair.ha["lease_ttl_ms"] + pair.ha["renew_interval_ms"]) / 1000
        zp.wait_quiet(max(0.0, ttl_s - (time.time() - t0)))
        stopped_s = time.time() - t0
        pair.sigcont(old)
        pair.wait_role(old, "standby", p.timeout)
        return t0, new, {"note": f"SIGSTOP {stopped_s:.1f} s, then SIGCONT; it fenced itself"}
    return [fault_under_load(env, "stop", p, fault)]


def drill_storage_cut(env, p):
    pair, zones = env.pair, env.zones

    def fault(old, load):
        t0 = time.time()
        zones.cut_between(zp.NODES[old], "storage")
        violations = 0
        try:
            # Until the other zone serves, the cut-off node must not be "not active, still listening".
            def other_active():
                nonlocal violations
                violations += _fenced_but_listening(pair, old)
                return pair.active() not in (None, old)
            wait_until(other_active, p.timeout, "the other zone to take over", interval=0.02)
            new = pair.other(old)
            pair.wait_role(old, ("fenced", "standby"), p.timeout)
            violations += _fenced_but_listening(pair, old)
            load.wait_receipts_after(t0, 1, p.timeout)  # clients are served again during the cut
        finally:
            zones.restore_between(zp.NODES[old], "storage")
        pair.wait_role(old, "standby", p.timeout)
        return t0, new, {"listening_while_fenced": violations,
                         "note": f"{old} cut from storage only; clients reached it all along"}
    return [fault_under_load(env, "storage-cut", p, fault)]


def drill_client_cut(env, p):
    """The active's link to the clients cut while its storage is fine. A broker cannot tell that
    its clients cannot reach it: it keeps the lease, clients wait, and resume on it when the link
    returns (nothing lost). An operator switchover during a cut moves service to the other zone,
    where clients resume at once."""
    pair, zones = env.pair, env.zones
    old = pair.wait_pair(p.timeout)
    epoch = pair.status(old)["epoch"]
    load = env.load("client-cut", p.rate).start()
    rows = []
    try:
        load.wait_receipts(p.before, p.timeout)
        # 1. Cut, wait, restore: the same node serves before and after.
        zones.cut_between(zp.NODES[old], "client")
        t0 = time.time()
        try:
            zp.wait_quiet(p.client_cut_s)
            kept = pair.active() == old and pair.status(old)["epoch"] == epoch
        finally:
            t_restore = time.time()
            zones.restore_between(zp.NODES[old], "client")
        first_back = load.wait_receipts_after(t_restore, 1, p.timeout)
        # A receipt already in the client's socket when the link went may still be processed
        # just after; nothing can come later than that until the link is back.
        served_in_cut = [t for t, _, _ in load.receipts() if t0 + 1.0 < t < t_restore]
        load.wait_receipts_after(t_restore, p.after, p.timeout)
        rows.append({"fault": "client-cut", "old": old, "new": pair.active(), "kept_lease": kept,
                     "switch_ms": [_ms(first_back, t_restore)], "takeover_ms": [None],
                     "max_gap_ms": load.gap_around(t0),
                     "receipts_during_cut": len(served_in_cut),
                     "note": f"{p.client_cut_s:.0f} s cut; switch_ms: link back -> first receipt"})
        # 2. Cut again and switch over during the cut: clients move to the other zone.
        pair.wait_pair(p.timeout)
        zones.cut_between(zp.NODES[old], "client")
        t_cut = time.time()
        try:
            zp.wait_quiet(1.5)  # the clients notice the silence (heart-beats) before the operator acts
            t1 = time.time()
            pair.switchover(old)
            new = pair.wait_active(p.timeout, not_node=old)
            load.wait_receipts_after(t1, p.after, p.timeout)
        finally:
            zones.restore_between(zp.NODES[old], "client")
        pair.wait_pair(p.timeout)
        first = load.first_receipt_on(zp.endpoint(new), t1)
        rows.append({"fault": "client-cut+switchover", "old": old, "new": new, "switch_ms": [_ms(first, t1)],
                     "takeover_ms": [env.takeover_ms(new, t1)],
                     "note": "switchover during the cut; switch_ms: switchover -> first receipt"})
        load.finish(p.timeout)
    finally:
        load.stop()
    acc = env.account(load)
    acc["max_gap_ms"] = load.gap_around(t_cut)
    # One load ran through both: its accounting goes on the second row, the first shows "-".
    rows[0].update({k: None for k in acc if k not in rows[0]}, runs=1)
    rows[1].update(acc, runs=1, min_receipts=p.before + 2 * p.after)
    return rows


def drill_storage_freeze(env, p):
    pair, zones = env.pair, env.zones

    def fault(old, load):
        t0 = time.time()
        zones.freeze("storage")
        try:
            # The active cannot renew: it fences itself at the end of its validity; the standby
            # cannot read the lease, so it never claims while storage is frozen.
            pair.wait_role(old, ("fenced", "standby"), p.timeout)
            nobody = pair.active() is None
            zp.wait_quiet(max(0.0, p.freeze_s - (time.time() - t0)))
            nobody = nobody and pair.active() is None
        finally:
            zones.thaw("storage")
        t_thaw = time.time()
        new = pair.wait_active(p.timeout)
        return t0, new, {"nobody_active_while_frozen": nobody,
                         "note": f"storage frozen {t_thaw - t0:.1f} s; {new} active after the thaw"}
    return [fault_under_load(env, "storage-freeze", p, fault)]


def drill_storage_restart(env, p):
    pair, g = env.pair, env.ganesha

    def fault(old, load):
        t0 = time.time()
        g.kill()
        g.restart()  # same address, port and directory; every NFSv4 client state is gone
        env.zones.procs.append(g.proc)
        new = pair.wait_active(p.timeout)
        return t0, new, {"note": f"Ganesha SIGKILLed and started again; {new} active after"}
    return [fault_under_load(env, "storage-restart", p, fault)]


def _throughput(env, label, count):
    """msgs/s of one pipelined producer (--no-receipt, window 100) of `count` persistent messages."""
    argv = [os.path.join(env.tools, "tandem-send"), zp.failover_uri(), f"/queue/chaos.{label}", "x" * 1024,
            "--persistent", "--no-receipt", "--window", "100", "--count", str(count), "--quiet",
            "--connect-timeout", "30000"]
    t0 = time.monotonic()
    r = env.zones.run("client", argv, timeout=600)
    elapsed = time.monotonic() - t0
    if r.returncode != 0:
        raise DrillError(f"throughput run failed ({r.returncode}): {r.stderr[-2000:]}")
    # Consumed again, so the takeover that follows does not also recover this backlog.
    r = env.zones.run("client", [os.path.join(env.tools, "tandem-recv"), zp.failover_uri(), f"/queue/chaos.{label}",
                                 "--count", str(count), "--timeout", "30000", "--quiet"], timeout=600)
    if r.returncode != 0:
        raise DrillError(f"draining the throughput queue failed ({r.returncode}): {r.stderr[-2000:]}")
    return count / elapsed


def drill_latency(env, p):
    pair, zones = env.pair, env.zones
    pair.wait_pair(p.timeout)
    plain = _throughput(env, "tput-0", p.throughput_count)
    how = zones.delay("storage", p.latency_ms)
    delayed = _throughput(env, "tput-delay", p.throughput_count)
    small = Params(**{**p.__dict__, "before": max(10, p.before // 10), "after": max(10, p.after // 10)})
    row = drill_kill(env, small)[0]
    row.update(fault=f"latency {p.latency_ms}ms + kill",
               note=f"{p.latency_ms} ms each way zones<->storage ({how}); 1 pipelined producer, 1 KiB "
                    f"persistent: {plain:.0f} msgs/s without, {delayed:.0f} msgs/s with",
               throughput_plain=plain, throughput_delayed=delayed)
    return [row]


def drill_switchovers(env, p):
    pair = env.pair
    old = pair.wait_pair(p.timeout)
    load = env.load("switchover", p.rate).start()
    switch, takeover = [], []
    try:
        load.wait_receipts(p.before, p.timeout)
        active = old
        for _ in range(p.switchovers):
            t0 = time.time()
            pair.switchover(active)
            new = pair.wait_active(p.timeout, not_node=active)
            pair.wait_role(active, "standby", p.timeout)
            first = wait_until(lambda: load.first_receipt_on(zp.endpoint(new), t0), p.timeout,
                               f"a receipt from {new} after the switchover")
            switch.append(_ms(first, t0))
            takeover.append(env.takeover_ms(new, t0))
            active = new
        load.wait_receipts_after(time.time(), p.after // 2, p.timeout)
        load.finish(p.timeout)
    finally:
        load.stop()
    return [env.account(load, fault=f"switchover x{p.switchovers}", runs=p.switchovers, old=old, new=active,
                        switch_ms=switch, takeover_ms=takeover, min_receipts=p.before + p.after // 2)]


# With 50 ms each way every NFS call costs 100 ms or more: a renewal (OPEN of the next epoch,
# GETATTR, WRITE, COMMIT) about 0.5 s, a claim with its first renewal about 1.5 s counted from
# the start of the poll that decided it. The ttl must leave room for that plus a renew interval:
# the timings of NFS_HA scaled by four.
LATENCY_HA = {"lease_ttl_ms": 6000, "renew_interval_ms": 1000, "safety_margin_ms": 1000,
              "poll_interval_ms": 200}

# name: (drill, storage through the delaying relay, lease timings; None = zone_pair.NFS_HA)
DRILLS = {
    "kill": (drill_kill, False, None),
    "stop": (drill_stop, False, None),
    "storage-cut": (drill_storage_cut, False, None),
    "client-cut": (drill_client_cut, False, None),
    "storage-freeze": (drill_storage_freeze, False, None),
    "storage-restart": (drill_storage_restart, False, None),
    "latency": (drill_latency, True, LATENCY_HA),
    "switchover30": (drill_switchovers, False, None),
}


def run_drill(name, p, bin_dir, workdir=None):
    """Runs one drill in fresh zones; returns its rows. `workdir` (kept) or a temporary one."""
    fn, relay, ha = DRILLS[name]
    own = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix=f"tandem-chaos-{name}-")
    try:
        with Setup(bin_dir, workdir, relay=relay, ha=ha) as env:
            try:
                return fn(env, p)
            except DrillError as e:
                raise DrillError(f"{name}: {e}\n{env.pair.logs()}") from None
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


def problems(row):
    """What a row shows went wrong: lost, duplicated or fenced deliveries, a receipted message
    the consumer never got."""
    out = []
    for key, what in (("lost", "receipted but never delivered"), ("duplicated", "stored or delivered twice"),
                      ("fenced_deliveries", "delivered by a node after the other had taken over")):
        if row.get(key):
            out.append(f"{row[key]} {what}")
    if row.get("sent") is not None and row.get("receipted") is not None and row["receipted"] != row["sent"]:
        out.append(f"sent {row['sent']} but receipted {row['receipted']}")
    return out


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.0f}"
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"

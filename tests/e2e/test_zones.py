"""The pair across two simulated zones (deploy/zones.py): node-1 in `zone-a`, node-2 in
`zone-b`, NFS-Ganesha in `storage` (both nodes on its NFSv4 export through the nfs:// backend),
and the clients (tandem-send / tandem-recv) in `client`, each host on its own link.

- SIGKILL of the active: the node in the other zone takes over and the client, through the
  failover URL, receives every persistent message it sent before the kill.
- the active's link cut (no storage, no clients, no peer): it fences itself, the other zone
  takes over, messages sent before and during the cut are all received, and back on the network
  the cut-off node is a standby;
- the same cut under load (a producer and a consumer running through it): every receipted
  message is delivered.

Needs root, ip netns, nfs-ganesha. Every process runs inside the run's namespaces, is tied to
the test process (PR_SET_PDEATHSIG) and is stopped by PID; the namespaces are deleted at the
end even when the test fails.
"""

import json
import os
import sys
import time

import pytest

import tandem_harness as th

_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(_ROOT, "deploy"))
sys.path.insert(0, os.path.join(_ROOT, "tests", "support"))
import ganesha  # noqa: E402
import zones as zn  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists(ganesha.GANESHA_BIN) or os.geteuid() != 0,
                                reason="nfs-ganesha not installed, or not root")

NODES = {"node-1": "zone-a", "node-2": "zone-b"}
STOMP, HTTP, HA = 61613, 8161, 61616
# As test_ha_nfs.py: renewals every 250 ms, each an NFS WRITE+COMMIT.
NFS_HA = {"lease_ttl_ms": 1500, "renew_interval_ms": 250, "safety_margin_ms": 250,
          "poll_interval_ms": 50}
FAILOVER_URL = (f"failover:(stomp://{zn.HOSTS['zone-a']}:{STOMP},"
                f"stomp://{zn.HOSTS['zone-b']}:{STOMP})")


def tool(name):
    return os.path.join(os.environ["TANDEM_BIN_DIR"], "tools", name)


class ZonePair:
    def __init__(self, zones, workdir, storage_url):
        self.zones = zones
        self.workdir = str(workdir)
        self.url = storage_url
        self.procs = {}

    def config_path(self, name):
        return os.path.join(self.workdir, name, "broker.yaml")

    def log_path(self, name):
        return os.path.join(self.workdir, name, "broker.log")

    def start(self, name):
        host = NODES[name]
        addr = zn.HOSTS[host]
        os.makedirs(os.path.join(self.workdir, name), exist_ok=True)
        cfg = {"node": {"name": name},
               "storage": {"url": self.url},
               "listeners": {"stomp": f"{addr}:{STOMP}", "http": f"{addr}:{HTTP}",
                             "ha": f"{addr}:{HA}"},
               "ha": dict(NFS_HA)}
        with open(self.config_path(name), "w") as f:
            f.write(th.to_yaml(cfg) + "\n")
        log = open(self.log_path(name), "ab")
        self.procs[name] = self.zones.exec(
            host, [th.broker_binary(), "--config", self.config_path(name), "--log-level", "info"],
            stdout=log, stderr=log.fileno(), cwd=os.path.join(self.workdir, name))
        log.close()

    def status(self, name):
        """The node's /api/v1/status, asked inside its own zone (None if it does not answer)."""
        if self.procs[name].poll() is not None:
            return None
        host = NODES[name]
        try:
            r = self.zones.run(host, ["curl", "-s", "-m", "2",
                                      f"http://{zn.HOSTS[host]}:{HTTP}/api/v1/status"], timeout=10)
            return json.loads(r.stdout) if r.returncode == 0 and r.stdout else None
        except Exception:
            return None

    def role(self, name):
        s = self.status(name)
        return s.get("role") if s else None

    def stomp_listening(self, name):
        host = NODES[name]
        r = self.zones.run(host, ["ss", "-Hltn", f"src {zn.HOSTS[host]}:{STOMP}"], timeout=10)
        return r.returncode == 0 and bool(r.stdout.strip())

    def active(self):
        """The node that says it is active and listens for STOMP (as pair_harness: a node
        handing its lease over still says "active" until the release is written, which on a
        cut link takes its storage timeouts, but it has closed its STOMP port by then)."""
        act = [n for n in NODES if self.role(n) == "active" and self.stomp_listening(n)]
        assert len(act) <= 1, f"two active nodes\n{self.logs()}"
        return act[0] if act else None

    def wait_active(self, timeout=30.0, not_node=None):
        def found():
            a = self.active()
            return a if a is not None and a != not_node else None
        return th.wait_until(found, timeout, interval=0.1,
                             what=f"an active node{' other than ' + not_node if not_node else ''}")

    def kill9(self, name):
        p = self.procs[name]
        p.kill()
        p.wait(timeout=10)

    def logs(self, lines=30):
        out = []
        for n in NODES:
            try:
                with open(self.log_path(n), errors="replace") as f:
                    tail = "".join(f.readlines()[-lines:])
            except OSError:
                tail = "(no log)"
            out.append(f"--- {n} ({self.log_path(n)}) ---\n{tail}")
        return "\n".join(out)


@pytest.fixture
def zone_pair(tmp_path):
    # Namespaces left by an earlier run that was SIGKILLed (its pid is gone) go first.
    for prefix in zn.stale_prefixes():
        zn.remove_run(prefix)
    zones = zn.up()
    g = None
    try:
        g = zn.start_ganesha(zones, tmp_path / "export", tmp_path / "ganesha")
        pair = ZonePair(zones, tmp_path, g.url(version=4))
        for name in NODES:
            pair.start(name)
        yield pair
    finally:
        # Brokers first (by PID, via zones.down), while the server still runs; then the server.
        for p in list(zones.procs):
            if g is None or p is not g.proc:
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=10)
        if g is not None:
            g.close()
        zones.down()
        assert not any(n.startswith(zones.prefix + "-") for n in zn.list_namespaces())


def client_run(zones, argv, timeout):
    r = zones.run("client", argv, timeout=timeout)
    return r


@pytest.mark.limit(150)
def test_sigkill_of_the_active_in_one_zone_the_other_zone_serves_every_message(zone_pair):
    pair, zones = zone_pair, zone_pair.zones
    old = pair.wait_active(timeout=60)
    dest = "/queue/zones.kill"
    sent = client_run(zones, [tool("tandem-send"), "--persistent", "--count", "50", "--number",
                              "--connect-timeout", "20000", FAILOVER_URL, dest, "zones-{n}"],
                      timeout=60)
    assert sent.returncode == 0, f"tandem-send failed: {sent.stdout}{sent.stderr}\n{pair.logs()}"

    pair.kill9(old)
    new = pair.wait_active(timeout=30, not_node=old)
    assert new != old

    got = client_run(zones, [tool("tandem-recv"), "--count", "50", "--timeout", "20000",
                             "--connect-timeout", "20000", FAILOVER_URL, dest], timeout=60)
    assert got.returncode == 0, f"tandem-recv failed: {got.stderr}\n{pair.logs()}"
    bodies = [line for line in got.stdout.splitlines() if line.startswith("zones-")]
    assert sorted(bodies) == sorted(f"zones-{n}" for n in range(1, 51)), \
        f"received {len(bodies)} of 50: {got.stdout[-2000:]}\n{pair.logs()}"
    status = pair.status(new)
    print(f"{old} killed, {new} active (epoch {status['epoch']}); send: {sent.stderr.strip()}; "
          f"recv: {got.stderr.strip()}")
    assert status["role"] == "active" and status["epoch"] > 1, status


@pytest.mark.limit(150)
def test_the_active_zone_cut_off_fences_itself_and_the_other_zone_delivers_every_receipt(zone_pair):
    pair, zones = zone_pair, zone_pair.zones
    old = pair.wait_active(timeout=60)
    dest = "/queue/zones.cut"

    def send(label):
        r = client_run(zones, [tool("tandem-send"), "--persistent", "--count", "50", "--number",
                               "--connect-timeout", "30000", FAILOVER_URL, dest, label + "-{n}"],
                       timeout=90)
        assert r.returncode == 0, f"tandem-send failed: {r.stdout}{r.stderr}\n{pair.logs()}"
        return r

    send("before")
    # The active's host loses its only link: no storage (it cannot renew, so it must fence
    # itself), no clients, no peer link. The standby claims the lease after the ttl.
    zones.cut(NODES[old])
    try:
        new = pair.wait_active(timeout=30, not_node=old)
        # Asked inside its own zone: the cut-off node does not claim to be active.
        th.wait_until(lambda: pair.role(old) in ("fenced", "standby"), timeout=30,
                      what=f"{old} to fence itself")
        during = send("during")
    finally:
        zones.restore(NODES[old])
    # Back on the network it stays a standby: one active.
    th.wait_until(lambda: pair.role(old) == "standby", timeout=30,
                  what=f"{old} to be standby again")
    assert pair.active() == new

    got = client_run(zones, [tool("tandem-recv"), "--count", "100", "--timeout", "20000",
                             "--connect-timeout", "20000", FAILOVER_URL, dest], timeout=60)
    assert got.returncode == 0, f"tandem-recv failed: {got.stderr}\n{pair.logs()}"
    bodies = [line for line in got.stdout.splitlines() if line.startswith(("before-", "during-"))]
    expected = [f"{label}-{n}" for label in ("before", "during") for n in range(1, 51)]
    assert sorted(bodies) == sorted(expected), \
        f"received {len(bodies)} of 100: {got.stdout[-2000:]}\n{pair.logs()}"
    print(f"{old} cut off, {new} active; send during the cut: {during.stderr.strip()}; "
          f"recv: {got.stderr.strip()}")


def run_load_through(pair, dest, cut, restore, total=300):
    """A producer and a consumer in the client zone, through the failover URL, while `cut(old)`
    isolates the active `old` (after 50 deliveries) until the other node is active and `old`
    has fenced itself; then `restore(old)`. The producer ends only when every message is
    receipted; the consumer must see every one of them (a redelivery after the failover is
    allowed). Returns (old, new, producer summary, bodies seen)."""
    import subprocess
    import threading
    zones = pair.zones
    old = pair.wait_active(timeout=60)
    consumer = zones.exec("client", [tool("tandem-recv"), "--connect-timeout", "30000",
                                     FAILOVER_URL, dest],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    seen, lock = [], threading.Lock()

    def read():
        for line in consumer.stdout:
            with lock:
                seen.append(line.strip())
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    producer = zones.exec("client", [tool("tandem-send"), "--persistent", "--count", str(total),
                                     "--number", "--rate", "100", "--connect-timeout", "30000",
                                     FAILOVER_URL, dest, "load-{n}"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    expected = {f"load-{n}" for n in range(1, total + 1)}
    try:
        th.wait_until(lambda: len(seen) >= 50, timeout=30, what="50 messages before the cut")
        cut(old)
        try:
            new = pair.wait_active(timeout=30, not_node=old)
            th.wait_until(lambda: pair.role(old) in ("fenced", "standby"), timeout=30,
                          what=f"{old} to fence itself")
        finally:
            restore(old)
        out, err = producer.communicate(timeout=90)
        assert producer.returncode == 0, f"tandem-send failed: {out}{err}\n{pair.logs()}"
        th.wait_until(lambda: expected <= set(seen), timeout=60,
                      what=f"all {total} messages at the consumer")
    finally:
        for p in (producer, consumer):
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    with lock:
        bodies = list(seen)
    assert set(bodies) == expected, f"unexpected bodies: {set(bodies) - expected}"
    # Back in touch, the old node stays a standby.
    th.wait_until(lambda: pair.role(old) == "standby", timeout=30,
                  what=f"{old} to be standby again")
    assert pair.active() == new
    return old, new, err.strip(), bodies


@pytest.mark.limit(180)
def test_load_through_a_cut_of_the_active_zone_every_receipted_message_is_delivered(zone_pair):
    pair, zones = zone_pair, zone_pair.zones
    old, new, summary, bodies = run_load_through(
        pair, "/queue/zones.load", lambda n: zones.cut(NODES[n]), lambda n: zones.restore(NODES[n]))
    print(f"{old} cut off under load, {new} active; send: {summary}; "
          f"delivered {len(set(bodies))} distinct, {len(bodies) - len(set(bodies))} again")

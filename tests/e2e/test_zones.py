"""The pair across two simulated zones (deploy/zones.py, deploy/zone_pair.py): node-1 in `zone-a`,
node-2 in `zone-b`, NFS-Ganesha in `storage` (both nodes on its NFSv4 export through the nfs://
backend), and the clients (tandem-send / tandem-recv) in `client`, each host on its own link.
The chaos drills (test_chaos_*.py) fault one link or process at a time; these cut a whole zone:

- the active's link cut (no storage, no clients, no peer): it fences itself, the other zone
  takes over, messages sent before and during the cut are all received, and back on the network
  the cut-off node is a standby;
- the same cut under load (a producer and a consumer running through it): every receipted
  message is delivered, none twice from two stores, none from the fenced node.

Needs root, ip netns, nfs-ganesha. Every process runs inside the run's namespaces, is tied to
the test process (PR_SET_PDEATHSIG) and is stopped by PID; the namespaces are deleted at the
end even when the test fails.
"""

import os
import sys
import time

import pytest


_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(_ROOT, "deploy"))
sys.path.insert(0, os.path.join(_ROOT, "tests", "support"))
import chaos_drills as cd  # noqa: E402
import ganesha  # noqa: E402
import zone_pair as zp  # noqa: E402
import zones as zn  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists(ganesha.GANESHA_BIN) or os.geteuid() != 0,
                                reason="nfs-ganesha not installed, or not root")


@pytest.fixture
def env(tmp_path):
    with cd.Setup(os.environ["TANDEM_BIN_DIR"], str(tmp_path)) as e:
        yield e
    assert not any(n.startswith(e.zones.prefix + "-") for n in zn.list_namespaces())


def tool(name):
    return os.path.join(os.environ["TANDEM_BIN_DIR"], "tools", name)


@pytest.mark.limit(150)
def test_the_active_zone_cut_off_fences_itself_and_the_other_zone_delivers_every_receipt(env):
    pair, zones = env.pair, env.zones
    old = pair.wait_pair(60)
    dest = "/queue/zones.cut"
    uri = zp.failover_uri()

    def send(label):
        r = zones.run("client", [tool("tandem-send"), "--persistent", "--count", "50", "--number",
                                 "--connect-timeout", "30000", uri, dest, label + "-{n}"], timeout=90)
        assert r.returncode == 0, f"tandem-send failed: {r.stdout}{r.stderr}\n{pair.logs()}"
        return r

    send("before")
    # The active's host loses its only link: no storage (it cannot renew, so it must fence
    # itself), no clients, no peer link. The standby claims the lease after the ttl.
    zones.cut(zp.NODES[old])
    try:
        new = pair.wait_active(30, not_node=old)
        # Asked inside its own zone: the cut-off node does not claim to be active.
        pair.wait_role(old, ("fenced", "standby"), 30)
        during = send("during")
    finally:
        zones.restore(zp.NODES[old])
    # Back on the network it stays a standby: one active.
    pair.wait_role(old, "standby", 30)
    assert pair.active() == new

    got = zones.run("client", [tool("tandem-recv"), "--count", "100", "--timeout", "20000",
                               "--connect-timeout", "20000", uri, dest], timeout=60)
    assert got.returncode == 0, f"tandem-recv failed: {got.stderr}\n{pair.logs()}"
    bodies = [line for line in got.stdout.splitlines() if line.startswith(("before-", "during-"))]
    expected = [f"{label}-{n}" for label in ("before", "during") for n in range(1, 51)]
    assert sorted(bodies) == sorted(expected), \
        f"received {len(bodies)} of 100: {got.stdout[-2000:]}\n{pair.logs()}"
    print(f"{old} cut off, {new} active; send during the cut: {during.stderr.strip()}; "
          f"recv: {got.stderr.strip()}")


@pytest.mark.limit(180)
def test_load_through_a_cut_of_the_active_zone_every_receipted_message_is_delivered(env):
    pair, zones = env.pair, env.zones
    p = cd.SUITE

    def fault(old, load):
        t0 = time.time()
        zones.cut(zp.NODES[old])
        try:
            new = pair.wait_active(30, not_node=old)
            pair.wait_role(old, ("fenced", "standby"), 30)
        finally:
            zones.restore(zp.NODES[old])
        pair.wait_role(old, "standby", 30)
        return t0, new, {}
    row = cd.fault_under_load(env, "zone-cut", p, fault)
    print(row)
    assert row["new"] != row["old"]
    assert row["receipted"] >= p.before + p.after
    assert row["lost"] == 0 and row["duplicated"] == 0 and row["fenced_deliveries"] == 0, row
    assert row["delivered"] == row["receipted"] == row["sent"], row

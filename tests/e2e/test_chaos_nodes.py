"""Chaos drills 1-4 and 8 of deploy/chaos.py, with short loads: faults of a node or of its
links, a producer and a consumer running through the failover URL from the client host. Each
checks the accounting (every receipted message delivered, none stored twice, none delivered by a
fenced node; chaos_suite.run) and what the pair did. Needs root, ip netns, nfs-ganesha."""

import pytest

import chaos_suite as cs

pytestmark = cs.needs_zones


@pytest.mark.limit(120)
def test_sigkill_of_the_active_the_other_zone_serves(tmp_path):
    [row] = cs.run("kill", tmp_path)
    assert row["new"] != row["old"]
    assert row["switch_ms"][0] is not None


@pytest.mark.limit(120)
def test_sigstop_of_the_active_past_the_ttl_the_other_zone_serves_and_the_resumed_node_stands_by(tmp_path):
    [row] = cs.run("stop", tmp_path)
    assert row["new"] != row["old"]


@pytest.mark.limit(120)
def test_the_active_cut_from_storage_stops_serving_at_once_and_clients_move_to_the_other_zone(tmp_path):
    # Its clients still reach it: it must close its port and connections when its journal fails
    # (not answer with ERRORs), so the clients end up on the node that took over.
    [row] = cs.run("storage-cut", tmp_path)
    assert row["new"] != row["old"]
    assert row["listening_while_fenced"] == 0
    assert row["resent"] >= 0 and row["switch_ms"][0] is not None


@pytest.mark.limit(150)
def test_the_active_cut_from_its_clients_keeps_the_lease_and_a_switchover_moves_the_clients(tmp_path):
    cut, moved = cs.run("client-cut", tmp_path)
    # A broker cannot tell that its clients cannot reach it: it stays active with its epoch,
    # clients get nothing during the cut and resume on it when the link is back.
    assert cut["kept_lease"] is True
    assert cut["receipts_during_cut"] == 0
    assert cut["new"] == cut["old"]
    assert cut["switch_ms"][0] is not None
    # An operator's switchover during a cut: clients resume on the other zone.
    assert moved["new"] != moved["old"]
    assert moved["switch_ms"][0] is not None


@pytest.mark.limit(150)
def test_switchovers_back_and_forth_under_load(tmp_path):
    [row] = cs.run("switchover30", tmp_path)
    assert row["runs"] == 5 and len([t for t in row["switch_ms"] if t is not None]) == 5

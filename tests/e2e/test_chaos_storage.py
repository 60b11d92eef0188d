"""Chaos drills 5-7 of deploy/chaos.py, with short loads: faults of the storage host (frozen,
its NFS server restarted) and latency between the zones and storage, a producer and a consumer
running through the failover URL from the client host. Each checks the accounting (chaos_suite.run)
and what the pair did. Needs root, ip netns, nfs-ganesha."""

import pytest

import chaos_suite as cs

pytestmark = cs.needs_zones


@pytest.mark.limit(120)
def test_storage_frozen_past_the_ttl_the_active_fences_nobody_serves_and_one_node_serves_after(tmp_path):
    [row] = cs.run("storage-freeze", tmp_path)
    assert row["nobody_active_while_frozen"] is True
    assert row["new"] in ("node-1", "node-2")


@pytest.mark.limit(120)
def test_nfs_server_restarted_the_pair_serves_again_with_nothing_lost(tmp_path):
    [row] = cs.run("storage-restart", tmp_path)
    assert row["new"] in ("node-1", "node-2")


@pytest.mark.limit(200)
def test_latency_between_zones_and_storage_throughput_and_failover(tmp_path):
    [row] = cs.run("latency", tmp_path, throughput_count=100, before=20, after=20)
    assert row["throughput_plain"] > 0 and row["throughput_delayed"] > 0
    assert row["new"] != row["old"]

"""Active/standby pair: which node is active, and what each node says about it.

Two tandem-broker processes share one storage directory and contend for the lease; exactly one
serves STOMP. These tests look at the pair from outside, as a load balancer or operator would:
the STOMP port, /readyz, /healthz and /api/v1/status.
"""

import json

import pytest

import pair_harness as ph
import tandem_harness as th


def roles(pair):
    return sorted(n.role() or "?" for n in pair.nodes)


@pytest.mark.limit(150)
def test_two_nodes_started_together_elect_exactly_one_active(start_pair):
    for round_ in range(10):
        pair = start_pair()
        active = pair.wait_active(timeout=20)
        standby = pair.other(active)
        pair.wait_role(standby, "standby", timeout=10)
        assert roles(pair) == ["active", "standby"], f"round {round_}: {roles(pair)}"
        assert not standby.stomp_open(), f"round {round_}: the standby opened its STOMP port"
        pair.stop()


@pytest.mark.limit(90)
def test_readyz_and_status_follow_the_roles_through_a_takeover(start_pair):
    pair = start_pair()
    active = pair.wait_active()
    standby = pair.other(active)
    pair.wait_role(standby, "standby")

    code, body = active.readyz()
    assert code == 200 and "active" in body
    code, body = standby.readyz()
    assert code == 503 and "standby" in body
    for n in pair.nodes:
        assert ph.http_get(n.http_port, "/healthz")[0] == 200

    s_act, s_sby = active.status(), standby.status()
    assert s_act["node"] == active.name and s_act["role"] == "active"
    assert s_sby["node"] == standby.name and s_sby["role"] == "standby"
    epoch = s_act["epoch"]
    assert epoch >= 1
    th.wait_until(lambda: standby.status()["lease"]["holder"] == active.name
                  and standby.status()["lease"]["epoch"] == epoch,
                  what="the standby to see the active's lease")
    assert s_act["lease"]["holder"] == active.name

    # A switchover asked of the standby is refused (503 naming the active); the roles do not change.
    code, body = ph.http_post(standby.http_port, "/api/v1/switchover")
    assert code == 503 and json.loads(body)["active_node"] == active.name

    active.kill9()
    new = pair.wait_active(not_node=active)
    assert new is standby
    s_new = new.status()
    assert s_new["role"] == "active" and s_new["epoch"] > epoch
    # The lease part of the status is refreshed every poll interval, so it may lag the role.
    th.wait_until(lambda: new.status()["lease"]["holder"] == new.name
                  and new.status()["lease"]["epoch"] == s_new["epoch"],
                  what="the new active's status to show its own lease")
    assert new.readyz()[0] == 200

    # The killed node comes back as the standby and sees the new holder and epoch.
    active.start()
    pair.wait_role(active, "standby")
    th.wait_until(lambda: active.status()["lease"]["holder"] == new.name
                  and active.status()["lease"]["epoch"] == s_new["epoch"],
                  what="the restarted node to see the new holder")
    code, body = active.readyz()
    assert code == 503 and "standby" in body
    assert not active.stomp_open()
    assert json.loads(ph.http_get(new.http_port, "/api/v1/status")[1])["role"] == "active"

"""Message expiry (JMS-style absolute `expires`) and priority ordering."""

import time

import tandem_harness as th


def now_ms():
    return int(time.time() * 1000)


def test_message_expired_before_delivery_is_not_delivered(broker, clients):
    p = clients.new(broker)
    p.send("/queue/expiry", "stale", persistent=True, headers={"expires": str(now_ms() - 60_000)})
    p.send("/queue/expiry", "fresh", persistent=True, headers={"expires": str(now_ms() + 600_000)})
    p.send("/queue/expiry", "forever", persistent=True, headers={"expires": "0"})
    c = clients.new(broker)
    c.subscribe("/queue/expiry")
    p.send("/queue/expiry", "SENTINEL")
    c.listener.wait_for_body("SENTINEL")
    assert c.listener.bodies() == ["fresh", "forever", "SENTINEL"]


def test_non_persistent_expired_message_is_not_delivered(broker, clients):
    p = clients.new(broker)
    p.send("/queue/expiry-np", "stale", headers={"expires": str(now_ms() - 1)})
    p.send("/queue/expiry-np", "SENTINEL")
    c = clients.new(broker)
    c.subscribe("/queue/expiry-np")
    c.listener.wait_for_body("SENTINEL")
    assert c.listener.bodies() == ["SENTINEL"]


def test_waiting_consumer_receives_higher_priority_first_fifo_within_priority(broker, clients):
    p = clients.new(broker)
    sent = [("1", "p1-a"), ("9", "p9-a"), ("4", "p4-a"), ("9", "p9-b"), ("1", "p1-b"), ("4", "p4-b")]
    for prio, body in sent:
        p.send("/queue/prio", body, persistent=True, headers={"priority": prio})
    c = clients.new(broker)
    c.subscribe("/queue/prio")
    msgs = c.listener.wait_for(len(sent))
    assert [m.body for m in msgs] == ["p9-a", "p9-b", "p4-a", "p4-b", "p1-a", "p1-b"]
    assert [m.headers.get("priority") for m in msgs] == ["9", "9", "4", "4", "1", "1"]


def test_priority_order_survives_a_restart(broker, clients):
    p = clients.new(broker)
    for prio, body in [("1", "low"), ("9", "high"), ("4", "mid")]:
        p.send("/queue/prio-restart", body, persistent=True, headers={"priority": prio})
    p.drop()
    broker.kill9()
    broker.restart()
    c = clients.new(broker)
    c.subscribe("/queue/prio-restart")
    assert [m.body for m in c.listener.wait_for(3)] == ["high", "mid", "low"]

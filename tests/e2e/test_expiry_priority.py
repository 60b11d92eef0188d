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


def test_message_that_expires_while_queued_is_not_delivered_and_goes_to_the_dlq(broker, clients):
    p = clients.new(broker)
    expires = now_ms() + 1000
    p.send("/queue/expiring", "short-lived", persistent=True, headers={"expires": str(expires)})
    p.send("/queue/expiring", "long-lived", persistent=True)
    # Let the clock pass the expiry (a wait on the wall clock, not on the broker).
    th.wait_until(lambda: now_ms() > expires + 50, timeout=5, what="expiry time")
    c = clients.new(broker)
    c.subscribe("/queue/expiring")
    assert c.listener.wait_for(1)[0].body == "long-lived"
    # delivery.expired_to_dlq (default true): expired persistent messages go to the DLQ.
    d = clients.new(broker)
    d.subscribe("/queue/DLQ.expiring", "d")
    dead = d.listener.wait_for(1)[0]
    assert dead.body == "short-lived"
    assert dead.headers.get("original-destination") == "/queue/expiring", dead.headers
    assert c.listener.bodies() == ["long-lived"]

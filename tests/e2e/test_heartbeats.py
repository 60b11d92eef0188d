"""Heart-beats in both directions.

The broker's offered intervals are configured small (stomp.heartbeat_send_ms /
heartbeat_receive_ms: 500) so the negotiated intervals are short; the bounds below are derived
from what CONNECTED actually says, never assumed.
"""

import time

import pytest

import tandem_harness as th

FAST = {"stomp": {"heartbeat_send_ms": 500, "heartbeat_receive_ms": 500}}


def parse(hb):
    x, y = hb.split(",")
    return int(x), int(y)


def test_broker_sends_heartbeats_when_the_client_asks(start_broker, clients):
    broker = start_broker(**FAST)
    c = clients.new(broker, version="1.2", heartbeats=(0, 1000))
    sx, _ = parse(c.listener.connected_frame.headers["heart-beat"])
    assert sx != 0, "broker must offer to send heart-beats"
    interval = max(sx, 1000) / 1000.0
    c.listener.wait(lambda: c.listener.heartbeats >= 3, timeout=5 * interval + 5,
                    what="3 heart-beats from the broker")
    assert c.conn.is_connected()


def test_broker_sends_heartbeats_on_a_raw_socket(start_broker, clients):
    broker = start_broker(**FAST)
    raw = clients.raw(broker)
    connected = raw.connect("1.2", headers={"heart-beat": "0,1000"})
    sx, _ = parse(connected.get("heart-beat"))
    assert sx != 0
    interval = max(sx, 1000) / 1000.0
    deadline = time.monotonic() + 5 * interval + 5
    while raw.heartbeats < 3:
        assert time.monotonic() < deadline, f"only {raw.heartbeats} heart-beats"
        try:
            raw.read_frame(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
            raise AssertionError("unexpected frame")
        except TimeoutError:
            pass


def test_silent_client_is_disconnected_and_its_unacked_messages_are_redelivered(start_broker, clients):
    broker = start_broker(**FAST)
    clients.new(broker).send("/queue/hb", "held", persistent=True)
    silent = clients.raw(broker)
    connected = silent.connect("1.2", headers={"heart-beat": "500,0"})
    _, sy = parse(connected.get("heart-beat"))
    assert sy != 0, "broker must accept client heart-beats"
    interval = max(500, sy) / 1000.0
    silent.send_frame("SUBSCRIBE", [("destination", "/queue/hb"), ("id", "1"),
                                    ("ack", "client-individual")])
    msg = silent.read_frame()
    assert msg.command == "MESSAGE" and msg.body == b"held", msg

    other = clients.new(broker, version="1.2")
    other.subscribe("/queue/hb", "o", ack="client-individual")
    # Now go silent: no heart-beats, no ACK. The broker must notice within a few intervals.
    started = time.monotonic()
    silent.read_until_closed(timeout=10 * interval + 5)
    print(f"silent client dropped after {time.monotonic() - started:.2f}s (interval {interval}s)")
    again = other.listener.wait_for(1)[0]
    assert again.body == "held"
    assert again.headers.get("redelivered") == "true"


def test_client_that_keeps_sending_heartbeats_stays_connected(start_broker, clients):
    broker = start_broker(**FAST)
    c = clients.new(broker, version="1.2", heartbeats=(500, 0))
    _, sy = parse(c.listener.connected_frame.headers["heart-beat"])
    interval = max(500, sy) / 1000.0
    # Stay idle (only heart-beats) for several intervals, then prove the connection still works.
    deadline = time.monotonic() + 4 * interval
    th.wait_until(lambda: time.monotonic() >= deadline or c.listener.disconnected,
                  timeout=4 * interval + 5, what="idle period")
    assert not c.listener.disconnected, "broker dropped a client that sent heart-beats"
    c.subscribe("/queue/hb-alive")
    c.send("/queue/hb-alive", "ok")
    assert c.listener.wait_for(1)[0].body == "ok"

"""Many clients at once, and one client that stops reading: the rest keep working."""

import pytest

import tandem_harness as th


@pytest.mark.limit(120)
def test_two_hundred_raw_connections_each_exchange_a_message(broker, clients):
    conns = []
    for i in range(200):
        r = clients.raw(broker)
        assert r.connect("1.2").command == "CONNECTED"
        r.send_frame("SUBSCRIBE", [("destination", f"/queue/many-conn.{i}"), ("id", "1"),
                                   ("receipt", "s")])
        conns.append(r)
    for r in conns:
        assert r.read_frame().command == "RECEIPT"
    for i, r in enumerate(conns):
        # Each connection sends to its neighbour's queue.
        r.send_frame("SEND", [("destination", f"/queue/many-conn.{(i + 1) % 200}")],
                     f"from-{i}".encode())
    for i, r in enumerate(conns):
        msg = r.read_frame()
        assert msg.command == "MESSAGE" and msg.body == f"from-{(i - 1) % 200}".encode(), msg


@pytest.mark.limit(120)
def test_a_subscriber_that_stops_reading_does_not_stall_other_clients(broker, clients):
    stuck = clients.raw(broker)
    assert stuck.connect("1.2").command == "CONNECTED"
    stuck.send_frame("SUBSCRIBE", [("destination", "/topic/flood"), ("id", "1"), ("receipt", "s")])
    assert stuck.read_frame().command == "RECEIPT"
    # From here on `stuck` never reads: its socket buffers fill up.
    producer = clients.new(broker)
    body = "f" * 4096
    for i in range(2000):  # 8 MiB to the topic
        producer.send("/topic/flood", body, receipt=(i % 100 == 99), timeout=20)
    bystander = clients.new(broker)
    bystander.subscribe("/queue/unaffected")
    bystander.send("/queue/unaffected", "fine")
    assert bystander.listener.wait_for(1)[0].body == "fine"


def test_frame_just_under_the_frame_limit_is_accepted(start_broker, clients):
    limit = 65536
    broker = start_broker(limits={"max_frame_bytes": limit})
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/near-limit", "s")
    body = "n" * (limit - 1024)  # headers take well under 1 KiB
    c.send("/queue/near-limit", body, persistent=True)
    assert c.listener.wait_for(1)[0].body == body

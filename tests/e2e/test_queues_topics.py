"""Queue and topic semantics and receipts, as an application sees them."""

import tandem_harness as th


def test_queue_send_and_receive(broker, clients):
    producer = clients.new(broker)
    producer.send("/queue/simple", "one")  # destination created on first use
    consumer = clients.new(broker)
    consumer.subscribe("/queue/simple")
    msg = consumer.listener.wait_for(1)[0]
    assert msg.body == "one"
    assert msg.headers["destination"] == "/queue/simple"
    assert msg.headers["subscription"] == "1"


def test_queue_delivers_in_fifo_order(broker, clients):
    producer = clients.new(broker)
    for i in range(50):
        producer.send("/queue/fifo", f"m{i:03d}", receipt=(i == 49))
    consumer = clients.new(broker)
    consumer.subscribe("/queue/fifo")
    msgs = consumer.listener.wait_for(50)
    assert [m.body for m in msgs] == [f"m{i:03d}" for i in range(50)]


def test_each_queue_message_goes_to_exactly_one_of_two_competing_consumers(broker, clients):
    a = clients.new(broker)
    b = clients.new(broker)
    a.subscribe("/queue/work", "a", ack="client-individual", headers={"activemq.prefetchSize": "10"})
    b.subscribe("/queue/work", "b", ack="client-individual", headers={"activemq.prefetchSize": "10"})
    producer = clients.new(broker)
    n = 100
    for i in range(n):
        producer.send("/queue/work", f"w{i}", receipt=False)
    producer.send("/queue/work", "last")
    expected = {f"w{i}" for i in range(n)} | {"last"}

    # Both consumers ack as they go so neither is starved by prefetch.
    def drain():
        for c in (a, b):
            with c.listener.cond:
                pending = [m for m in c.listener.messages if not getattr(m, "_acked", False)]
            for m in pending:
                m._acked = True
                c.ack(m, receipt=False)
        got = a.listener.bodies() + b.listener.bodies()
        return len(got) >= len(expected)

    th.wait_until(drain, timeout=20, what="all work messages")
    got = a.listener.bodies() + b.listener.bodies()
    assert sorted(got) == sorted(expected), "each message exactly once across the two consumers"
    assert a.listener.bodies() and b.listener.bodies(), (
        f"both consumers should get work: a={len(a.listener.bodies())} b={len(b.listener.bodies())}")


def test_topic_delivers_every_message_to_every_subscriber(broker, clients):
    subs = [clients.new(broker) for _ in range(3)]
    for i, s in enumerate(subs):
        s.subscribe("/topic/news", f"t{i}")
    producer = clients.new(broker)
    for i in range(10):
        producer.send("/topic/news", f"n{i}")
    for s in subs:
        assert s.listener.wait_for(10) and s.listener.bodies() == [f"n{i}" for i in range(10)]


def test_topic_message_without_subscriber_is_not_kept(broker, clients):
    producer = clients.new(broker)
    producer.send("/topic/lonely", "nobody-listening", persistent=True)
    sub = clients.new(broker)
    sub.subscribe("/topic/lonely")
    producer.send("/topic/lonely", "after-subscribe")
    msgs = sub.listener.wait_for_body("after-subscribe")
    assert [m.body for m in msgs] == ["after-subscribe"]


def test_every_frame_with_receipt_gets_a_receipt(broker, clients):
    c = clients.new(broker, version="1.2")
    # Each helper sends the frame with a receipt header and waits for RECEIPT receipt-id.
    c.subscribe("/queue/receipts", "s1", ack="client-individual")
    c.send("/queue/receipts", "x")
    msg = c.listener.wait_for(1)[0]
    c.begin("tx1")
    c.ack(msg, transaction="tx1")
    c.commit("tx1")
    c.begin("tx2")
    c.abort("tx2")
    c.unsubscribe("s1")
    rid = "disconnect-receipt-1"
    c.conn.disconnect(receipt=rid)
    c.listener.wait_receipt(rid)


def test_disconnect_with_receipt_on_raw_socket(broker, clients):
    raw = clients.raw(broker)
    assert raw.connect("1.2").command == "CONNECTED"
    raw.send_frame("DISCONNECT", [("receipt", "bye-77")])
    frames = raw.read_until_closed()
    assert [f.command for f in frames] == ["RECEIPT"], frames
    assert frames[0].get("receipt-id") == "bye-77"

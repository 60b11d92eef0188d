"""Edge cases of receipts, duplicates, transactions and topic subscriptions, each seen by a raw
STOMP 1.2 client against a real broker."""

import tandem_harness as th


def connect(broker, headers=None):
    c = th.RawClient(broker.host_and_port)
    assert c.connect("1.2", headers=headers).command == "CONNECTED"
    return c


def messages(c, timeout=1.0):
    """MESSAGE frames until nothing more arrives for `timeout` seconds."""
    out = []
    while True:
        try:
            f = c.read_frame(timeout=timeout)
        except TimeoutError:
            return out
        if f.command == "MESSAGE":
            out.append(f)


def test_disconnect_right_behind_a_persistent_send_still_gets_both_receipts(broker):
    for _ in range(10):
        c = th.RawClient(broker.host_and_port)
        c.send_raw(b"CONNECT\naccept-version:1.2\nhost:x\n\n\0"
                   b"SEND\ndestination:/queue/edge.disc\npersistent:true\nreceipt:s1\n\nhello\0"
                   b"DISCONNECT\nreceipt:d1\n\n\0")
        frames = c.read_until_closed(timeout=10)
        receipts = [f.headers.get("receipt-id") for f in frames if f.command == "RECEIPT"]
        assert receipts == ["s1", "d1"], frames


def test_a_resent_persistent_topic_message_reaches_a_durable_subscriber_once(broker):
    d = connect(broker, {"client-id": "edge-dup"})
    d.send_frame("SUBSCRIBE", [("destination", "/topic/edge.dup"), ("id", "d"), ("ack", "auto"),
                               ("activemq.subscriptionName", "s"), ("receipt", "r")])
    assert d.read_frame().command == "RECEIPT"
    p = connect(broker)
    for i in range(2):  # a failover client re-sending after an in-doubt moment
        p.send_frame("SEND", [("destination", "/topic/edge.dup"), ("persistent", "true"),
                              ("message-id", "edge-producer:1"), ("receipt", f"s{i}")], b"once")
        assert p.read_frame().command == "RECEIPT"
    assert [m.body for m in messages(d)] == [b"once"]


def test_a_transaction_committed_twice_with_the_same_message_id_stores_it_once(broker):
    p = connect(broker)
    for i in range(2):
        p.send_frame("BEGIN", [("transaction", "t")])
        p.send_frame("SEND", [("destination", "/queue/edge.txdup"), ("persistent", "true"),
                              ("message-id", "edge-tx:1"), ("transaction", "t")], b"tx")
        p.send_frame("COMMIT", [("transaction", "t"), ("receipt", f"c{i}")])
        assert p.read_frame().command == "RECEIPT"
    c = connect(broker)
    c.send_frame("SUBSCRIBE", [("destination", "/queue/edge.txdup"), ("id", "1"), ("ack", "auto")])
    assert [m.body for m in messages(c)] == [b"tx"]


def test_a_committed_persistent_topic_send_reaches_an_offline_durable_subscriber(broker):
    d = connect(broker, {"client-id": "edge-tx"})
    d.send_frame("SUBSCRIBE", [("destination", "/topic/edge.tx"), ("id", "d"), ("ack", "auto"),
                               ("activemq.subscriptionName", "s"), ("receipt", "r")])
    assert d.read_frame().command == "RECEIPT"
    d.send_frame("DISCONNECT", [("receipt", "bye")])
    d.read_until_closed()
    p = connect(broker)
    p.send_frame("BEGIN", [("transaction", "t")])
    p.send_frame("SEND", [("destination", "/topic/edge.tx"), ("persistent", "true"), ("transaction", "t")], b"in-tx")
    p.send_frame("COMMIT", [("transaction", "t"), ("receipt", "c")])
    assert p.read_frame().command == "RECEIPT"
    broker.kill9()  # the COMMIT's receipt promised durability
    broker.restart()
    d = connect(broker, {"client-id": "edge-tx"})
    d.send_frame("SUBSCRIBE", [("destination", "/topic/edge.tx"), ("id", "d"), ("ack", "auto"),
                               ("activemq.subscriptionName", "s")])
    assert [m.body for m in messages(d)] == [b"in-tx"]


def test_a_commit_the_store_cannot_take_gets_an_error_not_a_receipt(start_broker):
    broker = start_broker(storage={"max_bytes": 1024 * 1024, "segment_bytes": 1024 * 1024})
    d = connect(broker, {"client-id": "edge-full"})
    d.send_frame("SUBSCRIBE", [("destination", "/topic/edge.full"), ("id", "d"), ("ack", "auto"),
                               ("activemq.subscriptionName", "s"), ("receipt", "r")])
    assert d.read_frame().command == "RECEIPT"
    f = connect(broker)
    for i in range(100):  # fill the store with messages nobody consumes
        f.send_frame("SEND", [("destination", "/queue/edge.fill"), ("persistent", "true"),
                              ("receipt", f"f{i}")], b"x" * 50000)
        if f.read_frame().command == "ERROR":
            break
    else:
        raise AssertionError("the store never filled up")
    p = connect(broker)
    p.send_frame("BEGIN", [("transaction", "t")])
    p.send_frame("SEND", [("destination", "/topic/edge.full"), ("persistent", "true"), ("transaction", "t")],
                 b"y" * 50000)
    p.send_frame("COMMIT", [("transaction", "t"), ("receipt", "c")])
    answer = p.read_frame()
    assert answer.command == "ERROR", answer
    assert "store size limit" in answer.headers.get("message", "")


def test_nacks_on_a_plain_topic_subscription_dead_letter_the_message_and_the_broker_carries_on(start_broker):
    broker = start_broker(delivery={"max_redeliveries": 1})
    durable = connect(broker, {"client-id": "edge-nack"})
    durable.send_frame("SUBSCRIBE", [("destination", "/topic/edge.nack"), ("id", "d"), ("ack", "client-individual"),
                                     ("activemq.subscriptionName", "s"), ("receipt", "r")])
    assert durable.read_frame().command == "RECEIPT"
    plain = connect(broker)
    plain.send_frame("SUBSCRIBE", [("destination", "/topic/edge.nack"), ("id", "p"), ("ack", "client-individual"),
                                   ("receipt", "r")])
    assert plain.read_frame().command == "RECEIPT"
    s = connect(broker)
    s.send_frame("SEND", [("destination", "/topic/edge.nack"), ("persistent", "true"), ("receipt", "x")], b"hi")
    assert s.read_frame().command == "RECEIPT"
    m = messages(durable)[0]
    durable.send_frame("ACK", [("id", m.headers["ack"]), ("receipt", "a")])  # the store may now drop it
    assert durable.read_frame().command == "RECEIPT"
    for i in range(2):  # delivered twice (max_redeliveries 1), NACKed each time
        m = messages(plain)[0]
        plain.send_frame("NACK", [("id", m.headers["ack"]), ("receipt", f"n{i}")])
        assert plain.read_frame().command == "RECEIPT"
    dlq = connect(broker)
    dlq.send_frame("SUBSCRIBE", [("destination", "/queue/DLQ.edge.nack"), ("id", "q"), ("ack", "auto")])
    dead = messages(dlq)
    assert [f.body for f in dead] == [b"hi"]
    assert dead[0].headers.get("original-destination") == "/topic/edge.nack"
    assert broker.proc.poll() is None, "the broker must survive"


def test_a_plain_topic_subscriber_with_a_selector_gets_only_matching_messages(broker):
    c = connect(broker)
    c.send_frame("SUBSCRIBE", [("destination", "/topic/edge.sel"), ("id", "s"), ("ack", "auto"),
                               ("selector", "colour = 'red'"), ("receipt", "r")])
    assert c.read_frame().command == "RECEIPT"
    p = connect(broker)
    for colour in ["blue", "red", "blue", "red"]:
        p.send_frame("SEND", [("destination", "/topic/edge.sel"), ("colour", colour), ("receipt", colour)],
                     colour.encode())
        assert p.read_frame().command == "RECEIPT"
    assert [m.body for m in messages(c)] == [b"red", b"red"]

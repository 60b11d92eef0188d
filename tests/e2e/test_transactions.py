"""BEGIN / COMMIT / ABORT covering sends and acks."""

import tandem_harness as th


def test_transactional_sends_are_delivered_on_commit_only(broker, clients):
    consumer = clients.new(broker)
    consumer.subscribe("/queue/tx")
    p = clients.new(broker)
    p.begin("tx-1")
    p.send("/queue/tx", "in-tx-1", persistent=True, headers={"transaction": "tx-1"})
    p.send("/queue/tx", "in-tx-2", persistent=True, headers={"transaction": "tx-1"})
    # A message sent outside the transaction afterwards overtakes the uncommitted ones.
    p.send("/queue/tx", "outside")
    consumer.listener.wait_for_body("outside")
    assert consumer.listener.bodies() == ["outside"], "nothing delivered before COMMIT"
    p.commit("tx-1")
    assert [m.body for m in consumer.listener.wait_for(3)] == ["outside", "in-tx-1", "in-tx-2"]


def test_aborted_sends_are_discarded(broker, clients):
    p = clients.new(broker)
    p.begin("tx-2")
    p.send("/queue/tx-abort", "doomed", persistent=True, headers={"transaction": "tx-2"})
    p.abort("tx-2")
    p.send("/queue/tx-abort", "after-abort")
    consumer = clients.new(broker)
    consumer.subscribe("/queue/tx-abort")
    consumer.listener.wait_for_body("after-abort")
    assert consumer.listener.bodies() == ["after-abort"]


def test_ack_in_aborted_transaction_leaves_message_unacknowledged(broker, clients):
    clients.new(broker).send("/queue/tx-ack", "m1", persistent=True)
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/tx-ack", "s", ack="client-individual")
    msg = c.listener.wait_for(1)[0]
    c.begin("tx-3")
    c.ack(msg, transaction="tx-3")
    c.abort("tx-3")
    c.disconnect()
    again = clients.new(broker)
    again.subscribe("/queue/tx-ack", "s2")
    m = again.listener.wait_for(1)[0]
    assert m.body == "m1"
    assert m.headers.get("redelivered") == "true"


def test_ack_in_committed_transaction_acknowledges(broker, clients):
    clients.new(broker).send("/queue/tx-ack-commit", "m1", persistent=True)
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/tx-ack-commit", "s", ack="client-individual")
    msg = c.listener.wait_for(1)[0]
    c.begin("tx-4")
    c.ack(msg, transaction="tx-4")
    c.commit("tx-4")
    c.disconnect()
    again = clients.new(broker)
    again.subscribe("/queue/tx-ack-commit", "s2")
    clients.new(broker).send("/queue/tx-ack-commit", "SENTINEL")
    again.listener.wait_for_body("SENTINEL")
    assert again.listener.bodies() == ["SENTINEL"]


def test_uncommitted_transaction_is_discarded_when_the_client_disconnects(broker, clients):
    p = clients.new(broker)
    p.begin("tx-5")
    p.send("/queue/tx-open", "never-committed", persistent=True, headers={"transaction": "tx-5"})
    p.disconnect()
    consumer = clients.new(broker)
    consumer.subscribe("/queue/tx-open")
    clients.new(broker).send("/queue/tx-open", "SENTINEL")
    consumer.listener.wait_for_body("SENTINEL")
    assert consumer.listener.bodies() == ["SENTINEL"]


def test_commit_of_unknown_transaction_is_an_error(broker, clients):
    raw = clients.raw(broker)
    assert raw.connect("1.2").command == "CONNECTED"
    raw.send_frame("COMMIT", [("transaction", "no-such-tx"), ("receipt", "c-1")])
    frames = raw.read_until_closed()
    assert frames and frames[0].command == "ERROR", frames
    assert "no-such-tx" in frames[0].get("message", "") + frames[0].body.decode(errors="replace"), \
        frames[0]


def test_ack_in_a_transaction_never_committed_is_undone_when_the_connection_drops(broker, clients):
    clients.new(broker).send("/queue/tx-drop", "m1", persistent=True)
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/tx-drop", "s", ack="client-individual")
    msg = c.listener.wait_for(1)[0]
    c.begin("tx-open")
    c.ack(msg, transaction="tx-open")
    c.drop()
    again = clients.new(broker)
    again.subscribe("/queue/tx-drop", "s2")
    m = again.listener.wait_for(1)[0]
    assert m.body == "m1" and m.headers.get("redelivered") == "true"


def test_transaction_spanning_a_queue_and_a_topic(broker, clients):
    q = clients.new(broker)
    q.subscribe("/queue/tx-mixed")
    t = clients.new(broker)
    t.subscribe("/topic/tx-mixed")
    p = clients.new(broker)
    p.begin("mixed")
    p.send("/queue/tx-mixed", "to-queue", headers={"transaction": "mixed"})
    p.send("/topic/tx-mixed", "to-topic", headers={"transaction": "mixed"})
    p.commit("mixed")
    assert q.listener.wait_for(1)[0].body == "to-queue"
    assert t.listener.wait_for(1)[0].body == "to-topic"


def test_begin_of_an_already_open_transaction_is_an_error(broker, clients):
    raw = clients.raw(broker)
    assert raw.connect("1.2").command == "CONNECTED"
    raw.send_frame("BEGIN", [("transaction", "twice")])
    raw.send_frame("BEGIN", [("transaction", "twice")])
    frames = raw.read_until_closed()
    assert frames and frames[0].command == "ERROR" and "twice" in frames[0].get("message", ""), frames

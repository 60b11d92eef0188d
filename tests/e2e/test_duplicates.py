"""Duplicate detection on producer message ids of the form PRODUCER:SEQ."""

import tandem_harness as th


def deliveries_before_sentinel(broker, clients, dest, expect):
    c = clients.new(broker)
    c.subscribe(dest, "d")
    c.listener.wait_for(expect)
    clients.new(broker).send(dest, "SENTINEL")
    msgs = c.listener.wait_for_body("SENTINEL")
    c.disconnect()  # so it does not compete for messages sent later in the test
    return msgs[:[m.body for m in msgs].index("SENTINEL")]


def test_resent_message_id_is_receipted_but_delivered_once(broker, clients):
    p = clients.new(broker)
    for _ in range(2):
        # send() waits for the RECEIPT each time: the duplicate is receipted again.
        p.send("/queue/dedup", "payload", persistent=True, headers={"message-id": "producer-7:1"})
    msgs = deliveries_before_sentinel(broker, clients, "/queue/dedup", 1)
    assert [m.body for m in msgs] == ["payload"]
    assert msgs[0].headers["message-id"] == "producer-7:1"


def test_different_sequence_numbers_are_different_messages(broker, clients):
    p = clients.new(broker)
    for seq in (1, 2, 3, 2, 1):
        p.send("/queue/dedup-seq", f"seq-{seq}", persistent=True,
               headers={"message-id": f"producer-8:{seq}"})
    msgs = deliveries_before_sentinel(broker, clients, "/queue/dedup-seq", 3)
    assert [m.body for m in msgs] == ["seq-1", "seq-2", "seq-3"]


def test_duplicate_from_a_second_connection_is_detected(broker, clients):
    # A failover client resends on a new connection after an in-doubt moment.
    clients.new(broker).send("/queue/dedup-conn", "once", persistent=True,
                             headers={"message-id": "producer-9:41"})
    clients.new(broker).send("/queue/dedup-conn", "once", persistent=True,
                             headers={"message-id": "producer-9:41"})
    msgs = deliveries_before_sentinel(broker, clients, "/queue/dedup-conn", 1)
    assert [m.body for m in msgs] == ["once"]


def test_duplicate_is_detected_across_a_broker_crash(broker, clients):
    p = clients.new(broker)
    p.send("/queue/dedup-restart", "payload", persistent=True, headers={"message-id": "producer-7:1"})
    p.drop()
    broker.kill9()
    broker.restart()
    p = clients.new(broker)
    p.send("/queue/dedup-restart", "payload", persistent=True, headers={"message-id": "producer-7:1"})
    msgs = deliveries_before_sentinel(broker, clients, "/queue/dedup-restart", 1)
    assert [m.body for m in msgs] == ["payload"]
    assert msgs[0].headers["message-id"] == "producer-7:1"


def test_duplicate_of_an_already_consumed_message_is_not_redelivered(broker, clients):
    p = clients.new(broker)
    p.send("/queue/dedup-consumed", "payload", persistent=True, headers={"message-id": "producer-5:3"})
    assert [m.body for m in deliveries_before_sentinel(broker, clients, "/queue/dedup-consumed", 1)] \
        == ["payload"]
    p.send("/queue/dedup-consumed", "payload", persistent=True, headers={"message-id": "producer-5:3"})
    assert deliveries_before_sentinel(broker, clients, "/queue/dedup-consumed", 0) == []

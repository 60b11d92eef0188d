"""Acknowledgement modes, NACK and prefetch."""

import tandem_harness as th


def fill(broker, clients, dest, bodies, persistent=True):
    p = clients.new(broker)
    for b in bodies:
        p.send(dest, b, persistent=persistent)
    p.disconnect()


def next_consumer_bodies(broker, clients, dest, expected_count):
    """A fresh consumer: returns the messages it gets before a sentinel sent after it subscribed."""
    c = clients.new(broker)
    c.subscribe(dest, "next")
    if expected_count:
        c.listener.wait_for(expected_count)
    clients.new(broker).send(dest, "SENTINEL")
    msgs = c.listener.wait_for_body("SENTINEL")
    c.disconnect()
    return msgs[:[m.body for m in msgs].index("SENTINEL")]


def test_auto_ack_messages_are_not_redelivered(broker, clients):
    fill(broker, clients, "/queue/auto", ["a1", "a2", "a3"])
    c = clients.new(broker)
    c.subscribe("/queue/auto", "s", ack="auto")
    assert [m.body for m in c.listener.wait_for(3)] == ["a1", "a2", "a3"]
    c.disconnect()
    assert next_consumer_bodies(broker, clients, "/queue/auto", 0) == []


def test_client_ack_is_cumulative_and_unacked_are_redelivered(broker, clients):
    fill(broker, clients, "/queue/cumulative", [f"m{i}" for i in range(1, 6)])
    c = clients.new(broker, version="1.1")
    c.subscribe("/queue/cumulative", "s", ack="client")
    msgs = c.listener.wait_for(5)
    assert [m.body for m in msgs] == [f"m{i}" for i in range(1, 6)]
    assert all(m.headers.get("redelivered", "false") == "false" for m in msgs)
    c.ack(msgs[2])  # acks m1, m2 and m3
    c.disconnect()
    redelivered = next_consumer_bodies(broker, clients, "/queue/cumulative", 2)
    assert [m.body for m in redelivered] == ["m4", "m5"]
    assert all(m.headers.get("redelivered") == "true" for m in redelivered), \
        [m.headers for m in redelivered]


def test_client_ack_cumulative_in_stomp_1_2(broker, clients):
    fill(broker, clients, "/queue/cumulative12", ["x1", "x2", "x3"])
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/cumulative12", "s", ack="client")
    msgs = c.listener.wait_for(3)
    c.ack(msgs[1])
    c.drop()  # crash without DISCONNECT: x3 is still unacked
    redelivered = next_consumer_bodies(broker, clients, "/queue/cumulative12", 1)
    assert [m.body for m in redelivered] == ["x3"]
    assert redelivered[0].headers.get("redelivered") == "true"


def test_client_individual_ack_acks_only_that_message(broker, clients):
    fill(broker, clients, "/queue/individual", [f"m{i}" for i in range(1, 6)])
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/individual", "s", ack="client-individual")
    msgs = c.listener.wait_for(5)
    c.ack(msgs[2])  # only m3
    c.disconnect()
    redelivered = next_consumer_bodies(broker, clients, "/queue/individual", 4)
    assert [m.body for m in redelivered] == ["m1", "m2", "m4", "m5"]
    assert all(m.headers.get("redelivered") == "true" for m in redelivered)


def test_nack_redelivers_the_message_with_redelivered_header(broker, clients):
    fill(broker, clients, "/queue/nacked", ["n1"])
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/nacked", "s", ack="client-individual")
    first = c.listener.wait_for(1)[0]
    assert first.headers.get("redelivered", "false") == "false"
    c.nack(first)
    again = c.listener.wait_for(2)[1]
    assert again.body == "n1"
    assert again.headers.get("redelivered") == "true", again.headers
    c.ack(again)
    c.disconnect()
    assert next_consumer_bodies(broker, clients, "/queue/nacked", 0) == []


def test_nack_in_stomp_1_1(broker, clients):
    fill(broker, clients, "/queue/nacked11", ["n1"])
    c = clients.new(broker, version="1.1")
    c.subscribe("/queue/nacked11", "s", ack="client-individual")
    c.nack(c.listener.wait_for(1)[0])
    again = c.listener.wait_for(2)[1]
    assert again.body == "n1" and again.headers.get("redelivered") == "true", again.headers


def test_prefetch_one_lets_a_second_consumer_work_while_the_first_holds_a_message(broker, clients):
    fill(broker, clients, "/queue/prefetch", ["p1", "p2", "p3"])
    first = clients.new(broker, version="1.2")
    first.subscribe("/queue/prefetch", "a", ack="client-individual",
                    headers={"activemq.prefetchSize": "1"})
    held = first.listener.wait_for(1)[0]
    assert held.body == "p1"
    second = clients.new(broker, version="1.2")
    second.subscribe("/queue/prefetch", "b", ack="client-individual",
                     headers={"activemq.prefetchSize": "1"})
    m = second.listener.wait_for(1)[0]
    assert m.body == "p2"
    assert first.listener.bodies() == ["p1"], "prefetch 1: nothing more while p1 is unacked"
    second.ack(m)
    assert second.listener.wait_for(2)[1].body == "p3"
    assert first.listener.bodies() == ["p1"]


def test_unsubscribe_returns_unacked_messages_to_other_consumers(broker, clients):
    fill(broker, clients, "/queue/unsub", ["u1", "u2"])
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/unsub", "s", ack="client-individual")
    msgs = c.listener.wait_for(2)
    c.ack(msgs[0])
    c.unsubscribe("s")
    redelivered = next_consumer_bodies(broker, clients, "/queue/unsub", 1)
    assert [m.body for m in redelivered] == ["u2"]
    assert redelivered[0].headers.get("redelivered") == "true"
    assert c.conn.is_connected(), "the connection itself stays open"


def test_two_subscriptions_on_one_connection_share_a_queue(broker, clients):
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/twosubs", "a", ack="client-individual", headers={"activemq.prefetchSize": "1"})
    c.subscribe("/queue/twosubs", "b", ack="client-individual", headers={"activemq.prefetchSize": "1"})
    fill(broker, clients, "/queue/twosubs", ["t1", "t2"])
    msgs = c.listener.wait_for(2)
    assert sorted(m.body for m in msgs) == ["t1", "t2"]
    assert sorted(m.headers["subscription"] for m in msgs) == ["a", "b"]


def test_client_ack_in_stomp_1_0(broker, clients):
    fill(broker, clients, "/queue/ten", ["t1", "t2"])
    c = clients.new(broker, version="1.0")
    c.subscribe("/queue/ten", "s", ack="client")
    msgs = c.listener.wait_for(2)
    c.ack(msgs[0])  # 1.0 acks by message-id
    c.disconnect()
    redelivered = next_consumer_bodies(broker, clients, "/queue/ten", 1)
    assert [m.body for m in redelivered] == ["t2"]

"""Durable topic subscriptions: client-id + activemq.subscriptionName."""

import tandem_harness as th

DURABLE = {"activemq.subscriptionName": "s1"}


def register_and_go_offline(broker, clients, client_id="c1"):
    c = clients.new(broker, client_id=client_id)
    c.subscribe("/topic/t", "1", headers=DURABLE)
    c.disconnect()


def come_back(broker, clients, client_id="c1"):
    c = clients.new(broker, client_id=client_id)
    c.subscribe("/topic/t", "1", headers=DURABLE)
    return c


def test_messages_sent_while_offline_are_delivered_on_resubscribe(broker, clients):
    register_and_go_offline(broker, clients)
    p = clients.new(broker)
    for i in range(5):
        p.send("/topic/t", f"offline-{i}", persistent=True)
    c = come_back(broker, clients)
    assert [m.body for m in c.listener.wait_for(5)] == [f"offline-{i}" for i in range(5)]
    p.send("/topic/t", "online")
    c.listener.wait_for_body("online")
    assert c.listener.bodies()[-1] == "online" and len(c.listener.bodies()) == 6


def test_offline_messages_survive_a_broker_crash_and_restart(broker, clients):
    register_and_go_offline(broker, clients)
    p = clients.new(broker)
    for i in range(5):
        p.send("/topic/t", f"offline-{i}", persistent=True)
    p.drop()
    broker.kill9()
    broker.restart()
    c = come_back(broker, clients)
    assert [m.body for m in c.listener.wait_for(5)] == [f"offline-{i}" for i in range(5)]


def test_subscription_registered_before_restart_keeps_collecting_after_it(broker, clients):
    register_and_go_offline(broker, clients)
    broker.restart()  # SIGTERM, then start on the same storage
    clients.new(broker).send("/topic/t", "after-restart", persistent=True)
    c = come_back(broker, clients)
    assert c.listener.wait_for(1)[0].body == "after-restart"


def test_acked_durable_messages_are_not_redelivered(broker, clients):
    register_and_go_offline(broker, clients)
    clients.new(broker).send("/topic/t", "once", persistent=True)
    c = come_back(broker, clients)
    assert c.listener.wait_for(1)[0].body == "once"
    c.disconnect()
    c = come_back(broker, clients)
    clients.new(broker).send("/topic/t", "SENTINEL", persistent=True)
    c.listener.wait_for_body("SENTINEL")
    assert c.listener.bodies() == ["SENTINEL"]


def test_two_durable_subscribers_each_get_every_message(broker, clients):
    register_and_go_offline(broker, clients, "c1")
    register_and_go_offline(broker, clients, "c2")
    clients.new(broker).send("/topic/t", "fanout", persistent=True)
    for cid in ("c1", "c2"):
        assert come_back(broker, clients, cid).listener.wait_for(1)[0].body == "fanout"


def test_unsubscribe_with_subscription_name_deletes_the_durable_subscription(broker, clients):
    register_and_go_offline(broker, clients)
    c = come_back(broker, clients)
    c.unsubscribe("1", headers=DURABLE)
    c.disconnect()
    p = clients.new(broker)
    p.send("/topic/t", "while-deleted", persistent=True)
    c = come_back(broker, clients)  # a brand-new subscription from here on
    p.send("/topic/t", "after-resubscribe", persistent=True)
    c.listener.wait_for_body("after-resubscribe")
    assert c.listener.bodies() == ["after-resubscribe"]


def test_deleted_durable_subscription_stays_deleted_after_a_crash(broker, clients):
    register_and_go_offline(broker, clients)
    c = come_back(broker, clients)
    c.unsubscribe("1", headers=DURABLE)
    c.disconnect()
    broker.kill9()
    broker.restart()
    p = clients.new(broker)
    p.send("/topic/t", "while-deleted", persistent=True)
    c = come_back(broker, clients)
    p.send("/topic/t", "after-resubscribe", persistent=True)
    c.listener.wait_for_body("after-resubscribe")
    assert c.listener.bodies() == ["after-resubscribe"]


def test_durable_subscription_with_selector_keeps_only_matching_messages(broker, clients):
    headers = dict(DURABLE, selector="type = 'red'")
    c = clients.new(broker, client_id="c1")
    c.subscribe("/topic/t", "1", headers=headers)
    c.disconnect()
    p = clients.new(broker)
    for body, typ in [("r1", "red"), ("b1", "blue"), ("r2", "red")]:
        p.send("/topic/t", body, persistent=True, headers={"type": typ})
    c = clients.new(broker, client_id="c1")
    c.subscribe("/topic/t", "1", headers=headers)
    assert [m.body for m in c.listener.wait_for(2)] == ["r1", "r2"]
    p.send("/topic/t", "r3", persistent=True, headers={"type": "red"})
    c.listener.wait_for_body("r3")
    assert c.listener.bodies() == ["r1", "r2", "r3"]


def test_unacked_durable_messages_are_redelivered_when_the_subscriber_returns(broker, clients):
    register_and_go_offline(broker, clients)
    p = clients.new(broker)
    for b in ("d1", "d2", "d3"):
        p.send("/topic/t", b, persistent=True)
    c = clients.new(broker, version="1.2", client_id="c1")
    c.subscribe("/topic/t", "1", ack="client-individual", headers=DURABLE)
    msgs = c.listener.wait_for(3)
    c.ack(msgs[1])
    c.drop()
    c = clients.new(broker, version="1.2", client_id="c1")
    c.subscribe("/topic/t", "1", ack="client-individual", headers=DURABLE)
    again = c.listener.wait_for(2)
    assert [m.body for m in again] == ["d1", "d3"]
    assert all(m.headers.get("redelivered") == "true" for m in again)

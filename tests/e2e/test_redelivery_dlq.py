"""Redelivery limit and dead-letter queues (delivery.max_redeliveries: 2)."""

import pytest

import tandem_harness as th


def queue_is_empty(broker, clients, dest):
    c = clients.new(broker)
    c.subscribe(dest, "check")
    clients.new(broker).send(dest, "SENTINEL")
    msgs = c.listener.wait_for_body("SENTINEL")
    c.disconnect()
    return [m.body for m in msgs] == ["SENTINEL"]


def dead_letter(broker, clients, dlq):
    c = clients.new(broker, version="1.2")
    c.subscribe(dlq, "dlq", ack="client-individual")
    return c.listener.wait_for(1)[0]


@pytest.mark.parametrize("strategy,dlq", [
    ("individual", "/queue/DLQ.orders"),
    ("shared", "/queue/ActiveMQ.DLQ"),
])
def test_message_nacked_three_times_goes_to_dead_letter_queue(start_broker, clients, strategy, dlq):
    broker = start_broker(delivery={"max_redeliveries": 2, "dead_letter": strategy})
    p = clients.new(broker)
    p.send("/queue/orders", "order-1", persistent=True, headers={"customer": "c-42"})
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/orders", "s", ack="client-individual")
    for attempt in range(1, 4):
        msg = c.listener.wait_for(attempt)[attempt - 1]
        assert msg.body == "order-1"
        assert msg.headers.get("redelivered", "false") == ("true" if attempt > 1 else "false")
        c.nack(msg)
    dead = dead_letter(broker, clients, dlq)
    assert dead.body == "order-1"
    assert dead.headers.get("original-destination") == "/queue/orders", dead.headers
    assert dead.headers.get("customer") == "c-42", "application headers are kept"
    assert len(c.listener.messages) == 3, "1 delivery + max_redeliveries (2) redeliveries"
    c.disconnect()
    assert queue_is_empty(broker, clients, "/queue/orders")


def test_message_whose_consumers_disconnect_three_times_goes_to_dead_letter_queue(start_broker, clients):
    broker = start_broker(delivery={"max_redeliveries": 2, "dead_letter": "individual"})
    clients.new(broker).send("/queue/orders", "order-2", persistent=True)
    for attempt in range(1, 4):
        c = clients.new(broker, version="1.2")
        c.subscribe("/queue/orders", "s", ack="client-individual")
        msg = c.listener.wait_for(1)[0]
        assert msg.body == "order-2"
        if attempt == 2:
            c.drop()  # crash without DISCONNECT counts as well
        else:
            c.disconnect()
    dead = dead_letter(broker, clients, "/queue/DLQ.orders")
    assert dead.body == "order-2"
    assert dead.headers.get("original-destination") == "/queue/orders", dead.headers
    assert queue_is_empty(broker, clients, "/queue/orders")


def test_dead_lettered_message_survives_a_restart(start_broker, clients):
    broker = start_broker(delivery={"max_redeliveries": 0})
    clients.new(broker).send("/queue/orders", "order-3", persistent=True)
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/orders", "s", ack="client-individual")
    c.nack(c.listener.wait_for(1)[0])
    c.disconnect()
    # The DLQ move is durable before anything else is acknowledged: prove it via a restart.
    broker.kill9()
    broker.restart()
    dead = dead_letter(broker, clients, "/queue/DLQ.orders")
    assert dead.body == "order-3"
    assert queue_is_empty(broker, clients, "/queue/orders")

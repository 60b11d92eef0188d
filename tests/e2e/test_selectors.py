"""Message selectors on SUBSCRIBE."""

import tandem_harness as th

SELECTOR = "type = 'red' AND amount > 10"


def send_orders(broker, clients, dest):
    p = clients.new(broker)
    for body, typ, amount in [("red-5", "red", "5"), ("red-20", "red", "20"),
                              ("blue-50", "blue", "50"), ("red-11", "red", "11")]:
        p.send(dest, body, persistent=True, headers={"type": typ, "amount": amount})


def test_selector_delivers_only_matching_and_leaves_the_rest_for_others(broker, clients):
    picky = clients.new(broker)
    picky.subscribe("/queue/sel", "picky", headers={"selector": SELECTOR})
    send_orders(broker, clients, "/queue/sel")
    assert [m.body for m in picky.listener.wait_for(2)] == ["red-20", "red-11"]
    other = clients.new(broker)
    other.subscribe("/queue/sel", "other")
    assert [m.body for m in other.listener.wait_for(2)] == ["red-5", "blue-50"]
    assert picky.listener.bodies() == ["red-20", "red-11"]


def test_selector_on_string_header_only(broker, clients):
    picky = clients.new(broker)
    picky.subscribe("/queue/sel-str", "picky", headers={"selector": "type = 'red'"})
    send_orders(broker, clients, "/queue/sel-str")
    assert [m.body for m in picky.listener.wait_for(3)] == ["red-5", "red-20", "red-11"]
    other = clients.new(broker)
    other.subscribe("/queue/sel-str", "other")
    assert [m.body for m in other.listener.wait_for(1)] == ["blue-50"]


def test_selector_on_a_subscription_made_after_the_messages_were_queued(broker, clients):
    send_orders(broker, clients, "/queue/sel-late")
    picky = clients.new(broker)
    picky.subscribe("/queue/sel-late", "picky", headers={"selector": SELECTOR})
    assert [m.body for m in picky.listener.wait_for(2)] == ["red-20", "red-11"]


def test_selector_on_a_topic_subscription(broker, clients):
    picky = clients.new(broker)
    picky.subscribe("/topic/sel", "picky", headers={"selector": SELECTOR})
    everyone = clients.new(broker)
    everyone.subscribe("/topic/sel", "all")
    send_orders(broker, clients, "/topic/sel")
    assert len(everyone.listener.wait_for(4)) == 4
    # The topic delivers to both subscribers in send order, so by the time `everyone` has the
    # last message, `picky` has had every chance to receive its own copies.
    picky.listener.wait_for(2)
    assert picky.listener.bodies() == ["red-20", "red-11"]


def test_invalid_selector_is_an_error_naming_the_selector(broker, clients):
    bad = "type = = 'red' AND"
    raw = clients.raw(broker)
    assert raw.connect("1.2").command == "CONNECTED"
    raw.send_frame("SUBSCRIBE", [("destination", "/queue/sel-bad"), ("id", "1"),
                                 ("selector", bad), ("receipt", "sub-1")])
    frames = raw.read_until_closed()
    assert frames and frames[0].command == "ERROR", frames
    text = th.unescape(frames[0].get("message", "")) + frames[0].body.decode(errors="replace")
    assert bad in text, frames[0]


def test_invalid_selector_via_stomp_py(broker, clients):
    c = clients.new(broker, version="1.1")
    c.subscribe("/queue/sel-bad", "1", headers={"selector": "amount >"}, receipt=False)
    err = c.listener.wait_error()
    text = err.headers.get("message", "") + (err.body or "")
    assert "amount >" in text, err.headers

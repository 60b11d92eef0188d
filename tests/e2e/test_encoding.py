"""Header escaping (STOMP 1.1/1.2) and binary bodies with content-length."""

import pytest

import tandem_harness as th

TRICKY = "line1\nline2:with:colons\\and\\backslashes"


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_escaped_header_values_round_trip_through_stomp_py(broker, clients, version):
    c = clients.new(broker, version=version)
    c.subscribe("/queue/escape", "s")
    c.send("/queue/escape", "body", headers={"x-tricky": TRICKY})
    msg = c.listener.wait_for(1)[0]
    assert msg.headers.get("x-tricky") == TRICKY


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_escaped_header_bytes_on_the_wire(broker, clients, version):
    raw = clients.raw(broker)
    assert raw.connect(version).command == "CONNECTED"
    raw.send_frame("SUBSCRIBE", [("destination", "/queue/escape-raw"), ("id", "1"),
                                 ("receipt", "s")])
    assert raw.read_frame().command == "RECEIPT"
    wire = r"a\nb\cc\\d"
    raw.send_frame("SEND", [("destination", "/queue/escape-raw"), ("x-tricky", wire)], b"x",
                   content_length=True)
    msg = raw.read_frame()
    assert msg.command == "MESSAGE", msg
    # The broker re-escapes when it writes: the raw bytes match and decode to the same value.
    assert th.unescape(msg.get("x-tricky")) == "a\nb:c\\d", msg
    assert msg.get("x-tricky") == wire, msg


def test_body_with_nul_bytes_round_trips_with_content_length(broker, clients):
    body = b"\x00head\x00\x01\x02middle\x00\xff\xfetail\x00"
    raw = clients.raw(broker)
    assert raw.connect("1.2").command == "CONNECTED"
    raw.send_frame("SUBSCRIBE", [("destination", "/queue/binary"), ("id", "1"), ("receipt", "s")])
    assert raw.read_frame().command == "RECEIPT"
    raw.send_frame("SEND", [("destination", "/queue/binary"), ("persistent", "true"),
                            ("content-type", "application/octet-stream")], body,
                   content_length=True)
    msg = raw.read_frame()
    assert msg.command == "MESSAGE", msg
    assert msg.body == body
    assert msg.get("content-length") == str(len(body))


def test_binary_body_survives_a_restart_through_stomp_py(broker, clients):
    body = bytes(range(256)) * 4
    p = clients.new(broker, version="1.2", auto_decode=False)
    p.send("/queue/binary-restart", body, persistent=True)
    p.drop()
    broker.kill9()
    broker.restart()
    c = clients.new(broker, version="1.2", auto_decode=False)
    c.subscribe("/queue/binary-restart", "s")
    assert c.listener.wait_for(1)[0].body == body


def test_utf8_body_and_headers_round_trip(broker, clients):
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/utf8", "s")
    c.send("/queue/utf8", "grüße — 日本語 ✓", headers={"x-name": "Zoë ☃"})
    msg = c.listener.wait_for(1)[0]
    assert msg.body == "grüße — 日本語 ✓"
    assert msg.headers["x-name"] == "Zoë ☃"

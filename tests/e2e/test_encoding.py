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


def test_crlf_line_endings_are_accepted_in_stomp_1_2(broker, clients):
    raw = clients.raw(broker)
    raw.send_raw(b"CONNECT\r\naccept-version:1.2\r\nhost:localhost\r\n\r\n\x00")
    assert raw.read_frame().command == "CONNECTED"
    raw.send_raw(b"SUBSCRIBE\r\ndestination:/queue/crlf\r\nid:1\r\nreceipt:s\r\n\r\n\x00")
    assert raw.read_frame().command == "RECEIPT"
    raw.send_raw(b"SEND\r\ndestination:/queue/crlf\r\nx-k:v\r\n\r\nhello\x00")
    msg = raw.read_frame()
    assert msg.command == "MESSAGE" and msg.body == b"hello" and msg.get("x-k") == "v", msg


def test_eols_after_frames_and_client_heartbeats_are_ignored(broker, clients):
    raw = clients.raw(broker)
    raw.send_raw(b"\n\nCONNECT\naccept-version:1.2\nhost:localhost\n\n\x00\n\n")
    assert raw.read_frame().command == "CONNECTED"
    raw.send_raw(b"SUBSCRIBE\ndestination:/queue/eol\nid:1\nreceipt:s\n\n\x00\r\n\n")
    assert raw.read_frame().command == "RECEIPT"
    raw.send_raw(b"\n\nSEND\ndestination:/queue/eol\n\nx\x00\n")
    msg = raw.read_frame()
    assert msg.command == "MESSAGE" and msg.body == b"x", msg


def test_repeated_header_first_value_wins(broker, clients):
    raw = clients.raw(broker)
    assert raw.connect("1.2").command == "CONNECTED"
    raw.send_frame("SUBSCRIBE", [("destination", "/queue/dup-hdr"), ("id", "1"), ("receipt", "s")])
    assert raw.read_frame().command == "RECEIPT"
    raw.send_frame("SEND", [("destination", "/queue/dup-hdr"), ("x-dup", "first"), ("x-dup", "second")],
                   b"x")
    msg = raw.read_frame()
    assert msg.get("x-dup") == "first", msg


def test_stomp_1_0_header_values_are_taken_literally(broker, clients):
    raw = clients.raw(broker)
    assert raw.connect("1.0").command == "CONNECTED"
    raw.send_frame("SUBSCRIBE", [("destination", "/queue/literal"), ("receipt", "s")])
    assert raw.read_frame().command == "RECEIPT"
    raw.send_frame("SEND", [("destination", "/queue/literal"), ("x-path", r"C\new\dir")], b"x")
    msg = raw.read_frame()
    assert msg.get("x-path") == r"C\new\dir", msg
    # A 1.2 consumer sees the same value, escaped for 1.2.
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/literal-12", "s")
    raw.send_frame("SEND", [("destination", "/queue/literal-12"), ("x-path", r"C\new\dir")], b"x")
    assert c.listener.wait_for(1)[0].headers["x-path"] == r"C\new\dir"


def test_content_type_is_preserved(broker, clients):
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/ctype", "s")
    c.conn.send("/queue/ctype", '{"a": 1}', content_type="application/json;charset=utf-8")
    msg = c.listener.wait_for(1)[0]
    assert msg.headers.get("content-type") == "application/json;charset=utf-8"

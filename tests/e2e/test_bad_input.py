"""Bad input on a raw socket: an ERROR that names the problem, then the connection is closed,
while other clients and stored messages are unaffected."""

import re

import pytest

import tandem_harness as th

MAX_FRAME = 65536
MAX_HEADERS = 20
LIMITS = {"limits": {"max_frame_bytes": MAX_FRAME, "max_headers": MAX_HEADERS}}


def headers_block(n):
    return [(f"x-h{i}", "v") for i in range(n)]


# name -> (frame bytes sent after CONNECT, regex the ERROR's message header must match)
CASES = {
    "malformed_header_line": (
        b"SEND\ndestination:/queue/bad\nthis line has no colon\n\nbody\x00",
        r"(?i)malformed|invalid|header|parse|syntax"),
    "unknown_command": (
        b"FROBNICATE\ndestination:/queue/bad\n\n\x00",
        r"(?i)FROBNICATE|unknown|unsupported|invalid command"),
    "send_without_destination": (
        th.encode_frame("SEND", [("receipt", "r1")], b"orphan"),
        r"(?i)destination"),
    "subscribe_without_id": (
        th.encode_frame("SUBSCRIBE", [("destination", "/queue/bad"), ("receipt", "r1")]),
        r"(?i)\bid\b"),
    "frame_over_max_frame_bytes": (
        th.encode_frame("SEND", [("destination", "/queue/bad")], b"z" * (MAX_FRAME * 2),
                        content_length=True),
        r"(?i)frame|size|large|limit|max_frame_bytes"),
    "frame_over_max_frame_bytes_without_content_length": (
        th.encode_frame("SEND", [("destination", "/queue/bad")], b"z" * (MAX_FRAME * 2)),
        r"(?i)frame|size|large|limit|max_frame_bytes"),
    "too_many_headers": (
        th.encode_frame("SEND", [("destination", "/queue/bad")] + headers_block(MAX_HEADERS * 3),
                        b"x"),
        r"(?i)header"),
    "bad_content_length": (
        b"SEND\ndestination:/queue/bad\ncontent-length:abc\n\nbody\x00",
        r"(?i)content-length"),
    "ack_mode_unknown": (
        th.encode_frame("SUBSCRIBE", [("destination", "/queue/bad"), ("id", "1"),
                                      ("ack", "sometimes")]),
        r"(?i)ack"),
}


def keep_working_check(broker, bystander, stored_count):
    """The bystander (connected before the bad client) still works, and the messages stored
    before are all there."""
    bystander.send("/queue/bystander", "still-alive")
    bystander.listener.wait_for_body("still-alive")
    c = broker.client()
    try:
        c.subscribe("/queue/stored", "s")
        assert [m.body for m in c.listener.wait_for(stored_count)] == \
            [f"stored-{i}" for i in range(stored_count)]
    finally:
        c.close_quietly()


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_frame_gets_error_naming_the_problem_then_close(start_broker, clients, case):
    broker = start_broker(**LIMITS)
    producer = clients.new(broker)
    for i in range(5):
        producer.send("/queue/stored", f"stored-{i}", persistent=True)
    bystander = clients.new(broker)
    bystander.subscribe("/queue/bystander", "b")

    data, pattern = CASES[case]
    raw = clients.raw(broker)
    assert raw.connect("1.2").command == "CONNECTED"
    try:
        raw.send_raw(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the broker may close while an oversized frame is still being written
    frames = raw.read_until_closed(timeout=10)
    assert frames, "expected an ERROR frame before the close"
    err = frames[0]
    assert err.command == "ERROR", frames
    message = th.unescape(err.get("message", ""))
    assert re.search(pattern, message), f"ERROR message {message!r} does not name the problem"
    keep_working_check(broker, bystander, 5)


def test_garbage_before_connect_gets_error_and_close(broker, clients):
    raw = clients.raw(broker)
    raw.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    frames = raw.read_until_closed(timeout=10)
    assert frames and frames[0].command == "ERROR", frames


def test_send_before_connect_gets_error_and_close(broker, clients):
    raw = clients.raw(broker)
    raw.send_frame("SEND", [("destination", "/queue/early")], b"x")
    frames = raw.read_until_closed(timeout=10)
    assert frames and frames[0].command == "ERROR", frames
    c = clients.new(broker)
    c.subscribe("/queue/early")
    clients.new(broker).send("/queue/early", "SENTINEL")
    c.listener.wait_for_body("SENTINEL")
    assert c.listener.bodies() == ["SENTINEL"], "nothing from the unconnected client was stored"


def test_subscribe_without_id_is_accepted_in_stomp_1_0(broker, clients):
    raw = clients.raw(broker)
    assert raw.connect("1.0").command == "CONNECTED"
    raw.send_frame("SUBSCRIBE", [("destination", "/queue/ten"), ("receipt", "s")])
    assert raw.read_frame().command == "RECEIPT"
    raw.send_frame("SEND", [("destination", "/queue/ten")], b"hi")
    msg = raw.read_frame()
    assert msg.command == "MESSAGE" and msg.body == b"hi", msg


def test_client_that_vanishes_mid_frame_does_not_disturb_others(broker, clients):
    bystander = clients.new(broker)
    bystander.subscribe("/queue/bystander")
    raw = clients.raw(broker)
    assert raw.connect("1.2").command == "CONNECTED"
    raw.send_raw(b"SEND\ndestination:/queue/half\ncontent-length:1000\n\nonly-a-bit")
    raw.close()
    bystander.send("/queue/bystander", "ok")
    assert bystander.listener.wait_for(1)[0].body == "ok"
    c = clients.new(broker)
    c.subscribe("/queue/half")
    clients.new(broker).send("/queue/half", "SENTINEL")
    c.listener.wait_for_body("SENTINEL")
    assert c.listener.bodies() == ["SENTINEL"]


def test_header_line_over_max_header_bytes_gets_error_and_close(start_broker, clients):
    broker = start_broker(limits={"max_header_bytes": 1024})
    raw = clients.raw(broker)
    assert raw.connect("1.2").command == "CONNECTED"
    raw.send_frame("SEND", [("destination", "/queue/bad"), ("x-long", "y" * 4096)], b"x")
    frames = raw.read_until_closed(timeout=10)
    assert frames and frames[0].command == "ERROR", frames
    assert re.search(r"(?i)header", th.unescape(frames[0].get("message", ""))), frames[0]


def test_connections_over_max_connections_are_refused_and_others_keep_working(start_broker, clients):
    broker = start_broker(limits={"max_connections": 3})
    kept = [clients.new(broker) for _ in range(3)]
    raw = clients.raw(broker)
    try:
        raw.send_frame("CONNECT", [("accept-version", "1.2"), ("host", "localhost")])
        frames = raw.read_until_closed(timeout=10)
    except (ConnectionResetError, BrokenPipeError):
        frames = []
    assert all(f.command != "CONNECTED" for f in frames), frames
    kept[0].subscribe("/queue/capacity")
    kept[1].send("/queue/capacity", "still-fine")
    assert kept[0].listener.wait_for(1)[0].body == "still-fine"
    kept[2].disconnect()
    th.wait_until(lambda: _can_connect(broker), timeout=10, what="a free connection slot")


def _can_connect(broker):
    c = th.Client(broker)
    try:
        c.connect(timeout=2)
        return True
    except AssertionError:
        return False
    finally:
        c.close_quietly()


def test_subscription_id_reused_on_one_connection_is_an_error(broker, clients):
    raw = clients.raw(broker)
    assert raw.connect("1.2").command == "CONNECTED"
    raw.send_frame("SUBSCRIBE", [("destination", "/queue/a"), ("id", "7"), ("receipt", "s")])
    assert raw.read_frame().command == "RECEIPT"
    raw.send_frame("SUBSCRIBE", [("destination", "/queue/b"), ("id", "7")])
    frames = raw.read_until_closed()
    assert frames and frames[0].command == "ERROR" and "7" in frames[0].get("message", ""), frames

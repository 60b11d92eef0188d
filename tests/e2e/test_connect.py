"""CONNECT / STOMP and version negotiation, as a client sees them."""

import pytest
import stomp

import tandem_harness as th


def check_connected(frame, version):
    assert frame.command == "CONNECTED", frame
    assert frame.get("version") == version, frame
    assert frame.get("server", "").startswith(th.SERVER_PREFIX), frame
    if version != "1.0":  # STOMP 1.0 has no heart-beating
        assert frame.get("heart-beat") is not None, frame
        sx, sy = frame.get("heart-beat").split(",")
        int(sx), int(sy)


@pytest.mark.parametrize("accept,expected", [
    ("1.0", "1.0"),
    ("1.1", "1.1"),
    ("1.2", "1.2"),
    ("1.0,1.1,1.2", "1.2"),
    ("1.1,1.0", "1.1"),
    ("1.2,9.9", "1.2"),
])
def test_connect_negotiates_highest_common_version(broker, clients, accept, expected):
    raw = clients.raw(broker)
    check_connected(raw.connect(accept), expected)


def test_connect_without_accept_version_is_stomp_1_0(broker, clients):
    raw = clients.raw(broker)
    raw.send_frame("CONNECT", [("login", "guest"), ("passcode", "guest")])
    frame = raw.read_frame()
    assert frame.command == "CONNECTED", frame
    # A 1.0 server need not send a version header; if it does, it must say 1.0.
    assert frame.get("version", "1.0") == "1.0", frame


def test_stomp_command_works_as_connect(broker, clients):
    raw = clients.raw(broker)
    check_connected(raw.connect("1.2", command="STOMP"), "1.2")


def test_unsupported_version_gets_error_and_close(broker, clients):
    raw = clients.raw(broker)
    raw.send_frame("CONNECT", [("accept-version", "9.9"), ("host", "localhost")])
    frames = raw.read_until_closed()
    assert frames and frames[0].command == "ERROR", frames
    assert all(f.command != "CONNECTED" for f in frames), frames


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_stomp_py_clients_of_each_version_exchange_a_message(broker, clients, version):
    c = clients.new(broker, version=version)
    frame = c.listener.connected_frame
    if version != "1.0":
        assert frame.headers.get("version") == version
        assert frame.headers.get("server", "").startswith(th.SERVER_PREFIX)
    c.subscribe(f"/queue/connect-{version}", "s1")
    c.send(f"/queue/connect-{version}", f"hello {version}")
    msgs = c.listener.wait_for(1)
    assert msgs[0].body == f"hello {version}"
    assert msgs[0].headers["destination"] == f"/queue/connect-{version}"
    assert "message-id" in msgs[0].headers
    c.disconnect()


def test_plain_stomp_py_connect_with_login_and_wait(broker):
    conn = stomp.Connection([broker.host_and_port], reconnect_attempts_max=1)
    try:
        conn.connect("guest", "guest", wait=True)  # bounded by the test watchdog
        assert conn.is_connected()
    finally:
        conn.disconnect()

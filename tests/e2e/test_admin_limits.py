"""Limits of the HTTP listeners (broker/ADMIN_API.md, "Limits"): a client address backing off
after failed logins (429 with Retry-After), failed logins logged at a bounded rate with user
names escaped, request bodies refused before they are read (413, 411, 401), slow clients
cut off by the read timeout, a stop that does not wait for a client trickling bytes, and a node
that fails to start after its HTTP listener opened."""

import base64
import socket
import time

import pytest

import tandem_harness as th

USERS = [th.user("root", "root-pw", role="admin")]


@pytest.fixture
def node(start_broker):
    return start_broker(http=True, security={"users": USERS})


def raw_request(port, head, body=b"", timeout=10.0):
    """Sends `head` (and `body`) on a new connection; returns (status, headers text, body text,
    whether the server closed the connection after answering)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.encode() + body)
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return None, "", data.decode(errors="replace"), False
            if not chunk:
                break
            data += chunk
    head_text, _, rest = data.decode(errors="replace").partition("\r\n\r\n")
    status = int(head_text.split(" ", 2)[1]) if head_text.startswith("HTTP/") else None
    return status, head_text, rest, True


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_client_backs_off_after_five_failed_logins(node):
    console = node.api(console=True)
    assert console.login("root", "root-pw").status == 200
    guesser = node.api(user="root", password="wrong")
    for _ in range(5):
        assert guesser.get("/api/v1/status").status == 401
    r = guesser.get("/api/v1/status")
    assert r.status == 429, r
    assert "too many failed logins from this address" in r.json["error"]
    assert 1 <= int(r.headers["retry-after"]) <= 60
    # The right password from that address waits too (no guessing through the back-off) ...
    assert node.api(user="root", password="root-pw").get("/api/v1/status").status == 429
    assert node.api(console=True).login("root", "root-pw").status == 429
    # ... a session opened before does not, nor another address.
    assert console.ok("GET", "/api/v1/whoami")["user"] == "root"
    assert node.api(user="root", password="root-pw", source="127.0.0.2").get("/api/v1/status").status == 200
    m = node.api(user="root", password="root-pw", source="127.0.0.2").metrics()
    assert th.sample_value(m, "tandem_auth_failures_total", {"protocol": "http"}) == 5


def test_failed_logins_are_logged_at_a_bounded_rate_with_names_escaped(node):
    # 3 addresses x 4 failures: none backs off, 12 failed logins in all.
    for source in ("127.0.0.3", "127.0.0.4", "127.0.0.5"):
        for i in range(4):
            name = "evil\x1b[31mred" if (source, i) == ("127.0.0.3", 0) else "root"
            assert node.api(user=name, password="wrong", source=source).get("/api/v1/status").status == 401
    text = node.log_text()
    lines = [l for l in text.splitlines() if "failed login from" in l]
    assert len(lines) == 10, lines
    assert "more than 10 failed logins within 60 s" in text
    assert "\x1b" not in text and "'evil?[31mred'" in text
    m = node.api(user="root", password="root-pw").metrics()
    assert th.sample_value(m, "tandem_auth_failures_total", {"protocol": "http"}) == 12


def test_large_bodies_are_refused_before_they_are_read(node):
    port = node.http_port
    auth = basic("root", "root-pw")
    # Only the head is sent: the answer comes without the body, and the connection closes.
    head = ("POST /api/v1/queues/x/purge HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Tandem-Request: 1\r\n"
            f"Authorization: {auth}\r\nContent-Length: 1048576\r\n\r\n")
    status, headers, body, closed = raw_request(port, head)
    assert status == 413 and closed, (status, body)
    assert "the request body is 1048576 bytes; the admin API accepts at most 65536" in body
    # A test message may be larger, but only an admin's: credentials are checked first.
    head = ("POST /api/v1/send HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Tandem-Request: 1\r\n"
            "Content-Length: 200000\r\n\r\n")
    status, _, body, closed = raw_request(port, head)
    assert status == 401 and closed and "authentication required" in body, (status, body)
    status, _, body, _ = raw_request(port, head.replace("Content-Length", f"Authorization: {auth}\r\nContent-Length")
                                     .replace("200000", str(64 << 20)))
    assert status == 413 and "limits.max_frame_bytes" in body, (status, body)
    # Chunked bodies have no length to check up front.
    head = ("POST /api/v1/send HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Tandem-Request: 1\r\n"
            f"Authorization: {auth}\r\nTransfer-Encoding: chunked\r\n\r\n")
    status, _, body, _ = raw_request(port, head)
    assert status == 411 and "Content-Length" in body, (status, body)
    # An admin's 200 KB test message is taken.
    admin = node.api(user="root", password="root-pw")
    big = "x" * 200000
    assert admin.ok("POST", "/api/v1/send", {"destination": "/queue/big", "body": big})["message_id"]
    assert admin.ok("GET", "/api/v1/queues/big")["depth"] == 1


def test_a_client_that_stops_sending_is_cut_off(node):
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=30) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the head never ends
        # The node closes the connection (perhaps after a 400), long before the test's own 30 s.
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
        assert b" 200 " not in answer, answer
    assert node.api().get("/healthz").status == 200


def test_stopping_does_not_wait_for_a_client_trickling_bytes(node):
    s = socket.create_connection(("127.0.0.1", node.http_port), timeout=5)
    try:
        # Wait until a worker reads this request's body: the node answers "100 Continue" to
        # the head (a connection still in the listen backlog at stop would simply be reset,
        # with nothing left to close). Then the body trickles.
        s.sendall(b"POST /api/v1/send HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Tandem-Request: 1\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(4096)
            assert chunk, answer
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 100"), answer
        node._expected_exit = True
        node.proc.send_signal(15)
        # One body byte a second would keep the request going for a minute.
        deadline = time.monotonic() + 60
        while node.proc.poll() is None and time.monotonic() < deadline:
            try:
                s.sendall(b"X")
            except OSError:
                pass
            time.sleep(1)
        assert node.proc.poll() == 0, "the node did not stop while a client trickled bytes"
        assert "closed 1 connection(s)" in node.log_text()
    finally:
        s.close()


def test_a_node_that_fails_to_start_stops_its_http_listener(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    b = th.Broker(tmp_path, {"listeners": {"ha": f"127.0.0.1:{taken.getsockname()[1]}"}}, http=True)
    try:
        with pytest.raises(AssertionError, match="exited with code 1"):
            b.start()
        assert "cannot listen for the HA peer link" in b.log_text() and "listening for HTTP" in b.log_text()
        # Its HTTP port is free again: nothing answers for a node that did not start.
        again = socket.socket()
        again.bind(("127.0.0.1", b.http_port))
        again.close()
    finally:
        taken.close()
        b.terminate()

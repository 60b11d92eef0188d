"""STOMP over TLS (listeners.stomp_ssl): stomp.py clients that verify the broker, protocol and
client-certificate refusals, bad certificate files at start, and a pair failing over with TLS.

Certificates are made per test module with the openssl tool (tests/support/tls_certs.py)."""

import os
import socket
import ssl
import subprocess
import sys
import types
import warnings

import pytest
import stomp

import tandem_harness as th

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import tls_certs  # noqa: E402

# stomp.py 8 builds its context with ssl.PROTOCOL_TLS (negotiates the highest version both
# sides have); Python marks the constant deprecated, which is not this test's concern.
pytestmark = pytest.mark.filterwarnings("ignore:ssl.PROTOCOL_TLS is deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tls"))
    ca = tls_certs.make_ca(d)
    other_ca = tls_certs.make_ca(d, "other-ca")
    return types.SimpleNamespace(
        dir=d, ca=ca,
        server=tls_certs.make_cert(d, ca, "server"),
        client=tls_certs.make_cert(d, ca, "client", client=True),
        stranger=tls_certs.make_cert(d, other_ca, "stranger", client=True))


def tls_section(certs, require_client_certs=False, **extra):
    t = {"cert_file": certs.server.cert, "key_file": certs.server.key}
    if require_client_certs:
        t["ca_file"] = certs.ca.cert
    t.update(extra)
    return t


def start_tls_broker(start_broker, certs, **tls_extra):
    ssl_port = th.free_port()
    b = start_broker(listeners={"stomp_ssl": f"127.0.0.1:{ssl_port}"}, tls=tls_section(certs, **tls_extra))
    b.ssl_port = ssl_port
    return b


class _Endpoint:
    """What th.Client needs of a broker: where to connect."""

    def __init__(self, port):
        self.host_and_port = ("127.0.0.1", port)


def tls_client(clients, port, certs, cert=None, connect=True):
    """A stomp.py client over TLS that verifies the broker against the test CA, presenting
    `cert` (a tls_certs.Cert) when given."""
    c = clients.new(_Endpoint(port), version="1.2", connect=False)
    c.conn.set_ssl(for_hosts=[("127.0.0.1", port)], ca_certs=certs.ca.cert,
                   cert_file=cert.cert if cert else None, key_file=cert.key if cert else None)
    if connect:
        c.connect()
    return c


def raw_tls(port, context, timeout=10.0):
    """A TLS socket to `port` after the handshake; raises ssl.SSLError (or OSError) if refused."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return context.wrap_socket(s, server_hostname="127.0.0.1")
    except BaseException:
        s.close()
        raise


def verifying_context(certs, cert=None):
    ctx = ssl.create_default_context(cafile=certs.ca.cert)
    if cert:
        ctx.load_cert_chain(cert.cert, cert.key)
    return ctx


def failed_handshakes(broker):
    return [line for line in broker.log_text().splitlines()
            if "TLS handshake from 127.0.0.1:" in line and " failed: " in line]


def read_until_closed(sock, limit=64 * 1024):
    """Everything the peer sends until it closes (b"" then) or the socket's timeout."""
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(4096)
        except (ssl.SSLError, ConnectionResetError):
            break  # an alert or a reset: closed all the same
        if not chunk:
            break
        data += chunk
    return data


# --- one broker ----------------------------------------------------------------------------

def test_verified_tls_client_sends_and_receives_with_receipts(start_broker, clients, certs):
    b = start_tls_broker(start_broker, certs)
    producer = tls_client(clients, b.ssl_port, certs)
    assert producer.conn.transport.socket.version() in ("TLSv1.2", "TLSv1.3")
    for i in range(5):
        producer.send("/queue/tls.basic", f"secret-{i}", persistent=True)
    consumer = tls_client(clients, b.ssl_port, certs)
    consumer.subscribe("/queue/tls.basic", ack="client-individual")
    got = consumer.listener.wait_for(5)
    assert [m.body for m in got] == [f"secret-{i}" for i in range(5)]
    for m in got:
        consumer.ack(m)
    consumer.disconnect()
    assert "(TLS)" in b.log_text()


def test_plain_and_tls_listeners_serve_at_once(start_broker, clients, certs):
    b = start_tls_broker(start_broker, certs)
    plain = clients.new(b)
    secure = tls_client(clients, b.ssl_port, certs)
    plain.subscribe("/topic/tls.mixed")
    secure.subscribe("/queue/tls.mixed")
    plain.send("/queue/tls.mixed", "plain to tls")
    secure.send("/topic/tls.mixed", "tls to plain")
    assert secure.listener.wait_for_body("plain to tls")
    assert plain.listener.wait_for_body("tls to plain")


def test_tls_1_1_client_is_refused(start_broker, clients, certs):
    b = start_tls_broker(start_broker, certs)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            # OpenSSL 3 allows TLS 1.1 only at security level 0; ask for it so the ClientHello
            # really offers 1.1 and it is the broker that says no.
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        except (ValueError, ssl.SSLError):
            pass  # this OpenSSL refuses to even try: the refusal below holds all the same
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        s = raw_tls(b.ssl_port, ctx)
        s.close()
    # The broker logged the failed handshake with the peer, and serves TLS 1.2+ clients as before.
    th.wait_until(lambda: failed_handshakes(b), what="the failed handshake logged")
    secure = tls_client(clients, b.ssl_port, certs)
    secure.send("/queue/tls.after", "still serving")


def test_client_certificate_is_required_when_ca_file_is_set(start_broker, clients, certs):
    b = start_tls_broker(start_broker, certs, require_client_certs=True)
    # No certificate: the handshake fails (TLS 1.2), or the broker's alert arrives on the first
    # read (TLS 1.3); either way no CONNECTED.
    for cert in (None, certs.stranger):
        try:
            s = raw_tls(b.ssl_port, verifying_context(certs, cert))
        except (ssl.SSLError, ConnectionResetError):
            continue
        with s:
            try:
                s.sendall(b"CONNECT\naccept-version:1.2\nhost:/\n\n\0")
                assert b"CONNECTED" not in read_until_closed(s)
            except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
                pass  # the broker's alert came first: refused all the same
    # stomp.py without a certificate does not get a session either: it times out waiting for
    # CONNECTED, or its send fails on the closed TLS stream, depending on when the alert lands.
    refused = tls_client(clients, b.ssl_port, certs, connect=False)
    with pytest.raises((AssertionError, ssl.SSLError, OSError, stomp.exception.StompException)):
        refused.connect(timeout=5)
    # With a certificate from the configured CA it works.
    ok = tls_client(clients, b.ssl_port, certs, cert=certs.client)
    ok.send("/queue/tls.mutual", "with a client certificate", persistent=True)
    assert len(failed_handshakes(b)) >= 3, b.log_tail()


def test_client_that_says_nothing_is_dropped_after_the_handshake_timeout(start_broker, clients, certs):
    b = start_tls_broker(start_broker, certs, handshake_timeout_ms=300)
    with socket.create_connection(("127.0.0.1", b.ssl_port), timeout=20) as s:
        assert s.recv(1) == b""  # closed by the broker, long before the socket timeout
    th.wait_until(lambda: "no handshake within 300 ms" in b.log_text(), what="the timeout logged")
    tls_client(clients, b.ssl_port, certs).send("/queue/tls.after", "still serving")


def _run_broker(config_path, *args):
    return subprocess.run([th.broker_binary(), *args, config_path], capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL, preexec_fn=th._die_with_parent)


def _write_config(tmp_path, tls):
    cfg = {"node": {"name": "bad-tls"}, "storage": {"path": str(tmp_path / "storage")},
           "listeners": {"stomp": f"127.0.0.1:{th.free_port()}", "stomp_ssl": f"127.0.0.1:{th.free_port()}"},
           "tls": tls}
    path = tmp_path / "broker.yaml"
    path.write_text(th.to_yaml(cfg) + "\n")
    return str(path)


def test_missing_key_file_stops_the_broker_naming_the_file(tmp_path, certs):
    missing = os.path.join(certs.dir, "no-such.key")
    path = _write_config(tmp_path, {"cert_file": certs.server.cert, "key_file": missing})
    for args in (["--config"], ["--check-config"]):
        r = _run_broker(path, *args)
        assert r.returncode != 0, r
        assert missing in r.stderr and "tls.key_file" in r.stderr and "No such file" in r.stderr, r.stderr


def test_key_that_does_not_match_the_certificate_stops_the_broker(tmp_path, certs):
    path = _write_config(tmp_path, {"cert_file": certs.server.cert, "key_file": certs.client.key})
    r = _run_broker(path, "--config")
    assert r.returncode != 0, r
    assert certs.client.key in r.stderr and "does not match the certificate" in r.stderr, r.stderr


def test_certificate_that_is_not_pem_stops_the_broker(tmp_path, certs):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    path = _write_config(tmp_path, {"cert_file": str(junk), "key_file": certs.server.key})
    r = _run_broker(path, "--config")
    assert r.returncode != 0, r
    assert str(junk) in r.stderr and "not a PEM certificate" in r.stderr, r.stderr


# --- a pair ---------------------------------------------------------------------------------

@pytest.mark.limit(120)
def test_pair_fails_over_with_tls_and_only_the_active_serves_it(start_pair, clients, certs):
    pair = start_pair(tls=tls_section(certs))
    old = pair.wait_active()
    standby = pair.other(old)
    pair.wait_role(standby, "standby")
    assert old.stomp_ssl_open() and not standby.stomp_ssl_open()

    producer = tls_client(clients, old.ssl_port, certs)
    for i in range(3):
        producer.send("/queue/tls.failover", f"before-{i}", persistent=True)

    old.kill9()
    new = pair.wait_active(not_node=old)
    assert new is standby and new.stomp_ssl_open()
    consumer = tls_client(clients, new.ssl_port, certs)
    consumer.subscribe("/queue/tls.failover")
    got = consumer.listener.wait_for(3)
    assert sorted(m.body for m in got) == [f"before-{i}" for i in range(3)]

    # The killed node comes back as the standby and keeps its TLS port closed.
    old.start(timeout=30)
    pair.wait_role(old, "standby")
    assert not old.stomp_ssl_open()


@pytest.mark.limit(120)
def test_switchover_closes_tls_connections_and_the_tls_port(start_pair, clients, certs):
    import pair_harness

    pair = start_pair(tls=tls_section(certs))
    old = pair.wait_active()
    pair.wait_role(pair.other(old), "standby")
    connected = tls_client(clients, old.ssl_port, certs)
    connected.subscribe("/queue/tls.switchover")

    code, body = pair_harness.http_post(old.http_port, "/api/v1/switchover")
    assert code == 202, body
    connected.listener.wait_disconnected()
    new = pair.wait_active(not_node=old)
    pair.wait_role(old, "standby")
    assert not old.stomp_ssl_open() and new.stomp_ssl_open()
    tls_client(clients, new.ssl_port, certs).send("/queue/tls.switchover", "after", persistent=True)

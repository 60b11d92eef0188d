"""Authentication and roles of the admin API (broker/ADMIN_API.md): HTTP Basic and the console's
session cookie, viewer and admin, the cross-site request guard (X-Tandem-Request, Origin,
Sec-Fetch-Site) for every kind of credentials and in open mode, /metrics, and HTTPS on
listeners.https with a certificate made by the test."""

import os
import sys
import types

import pytest

import tandem_harness as th

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import tls_certs  # noqa: E402

USERS = [
    th.user("root", "root-pw", role="admin"),
    th.user("ops", "ops-pw", role="viewer", read=["/queue/ops.>"]),
    th.user("app", "app-pw"),  # STOMP only: no HTTP role
]

@pytest.fixture
def node(start_broker):
    return start_broker(http=True, security={"users": USERS})


def test_credentials_are_required_except_for_probes(node):
    anon = node.api()
    r = anon.get("/api/v1/status")
    assert r.status == 401 and "authentication required" in r.json["error"]
    assert r.headers["www-authenticate"].startswith('Basic realm="Tandem"')
    # The console asks for itself: no browser dialog.
    r = node.api(console=True).get("/api/v1/status")
    assert r.status == 401 and "www-authenticate" not in r.headers
    for path in ("/api/v1/destinations", "/api/v1/whoami", "/metrics"):
        assert anon.get(path).status == 401, path
    assert anon.post("/api/v1/queues/x/purge").status == 401
    assert anon.get("/healthz").status == 200
    assert anon.get("/readyz").status == 200


def test_wrong_passwords_are_refused_logged_and_counted(node):
    r = node.api(user="root", password="nope").get("/api/v1/status")
    assert r.status == 401 and r.json["error"] == "wrong user name or password"
    assert node.api(user="nobody", password="x").get("/api/v1/status").status == 401
    assert node.api(user="root", password="nope").login("root", "nope").status == 401
    th.wait_until(lambda: "failed login from 127.0.0.1:" in node.log_text(), what="the failed login in the log")
    assert "nope" not in node.log_text()
    m = node.api(user="ops", password="ops-pw").metrics()
    assert th.sample_value(m, "tandem_auth_failures_total", {"protocol": "http"}) >= 3
    assert th.sample_value(m, "tandem_auth_failures_total", {"protocol": "stomp"}) == 0


def test_a_viewer_reads_and_an_admin_changes(node, clients):
    clients.new(node).send("/queue/ops.jobs", "job", persistent=True)
    clients.new(node).send("/queue/secret", "s", persistent=True)
    viewer = node.api(user="ops", password="ops-pw")
    assert viewer.ok("GET", "/api/v1/whoami") == {"user": "ops", "role": "viewer", "auth": True}
    assert viewer.get("/api/v1/status").status == 200
    assert viewer.get("/api/v1/destinations").status == 200
    assert viewer.get("/api/v1/connections").status == 200
    # Browsing follows the viewer's read permissions.
    assert viewer.ok("GET", "/api/v1/queues/ops.jobs/messages")["total"] == 1
    r = viewer.get("/api/v1/queues/secret/messages")
    assert r.status == 403 and r.json["error"] == "user 'ops' may not read /queue/secret"
    for method, path, body, action in [
            ("POST", "/api/v1/queues/ops.jobs/purge", None, "purge queues"),
            ("DELETE", "/api/v1/queues/ops.jobs", None, "delete queues"),
            ("POST", "/api/v1/send", {"destination": "/queue/ops.jobs", "body": "x"}, "send messages"),
            ("DELETE", "/api/v1/connections/1", None, "close connections"),
            ("POST", "/api/v1/switchover", None, "switch over")]:
        r = viewer.request(method, path, body)
        assert r.status == 403, (method, path, r)
        assert r.json["error"] == f"user 'ops' (viewer) may not {action}: needs admin"
    # A user without an HTTP role gets nothing.
    r = node.api(user="app", password="app-pw").get("/api/v1/status")
    assert r.status == 403 and "(none)" in r.json["error"]
    # The admin may.
    admin = node.api(user="root", password="root-pw")
    assert admin.ok("GET", "/api/v1/queues/secret/messages")["total"] == 1
    assert admin.ok("POST", "/api/v1/queues/ops.jobs/purge") == {"purged": 1}


def test_console_login_with_a_session_cookie(node):
    console = node.api(console=True)
    r = console.login("root", "root-pw")
    assert r.status == 200 and r.json == {"user": "root", "role": "admin", "auth": True}
    cookie = r.headers["set-cookie"]
    # Named after the node ("e2e"), so two nodes under one host name keep their own sessions.
    assert cookie.startswith("tandem_session_e2e=") and len(console.cookie) == len("tandem_session_e2e=") + 64
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/"):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain HTTP
    assert console.ok("GET", "/api/v1/whoami")["user"] == "root"
    assert console.ok("POST", "/api/v1/queues/c.q/purge", status=404)["error"] == "no queue /queue/c.q"

    # The cookie alone does not change anything: the cross-site request guard.
    no_header = node.api(guard_header=False)
    no_header.cookie = console.cookie
    assert no_header.get("/api/v1/status").status == 200
    r = no_header.post("/api/v1/send", {"destination": "/queue/c.q", "body": "x"})
    assert r.status == 403 and "X-Tandem-Request" in r.json["error"]
    assert console.ok("POST", "/api/v1/send", {"destination": "/queue/c.q", "body": "x"})["message_id"]

    assert console.ok("POST", "/api/v1/logout") == {"result": "logged out"}
    r = console.get("/api/v1/whoami")
    assert r.status == 401 and "log in again" in r.json["error"]

    assert node.api(console=True).login("root", "wrong").status == 401
    assert node.api(console=True).login("app", "app-pw").status == 403
    assert node.api(console=True).post("/api/v1/login", "not json").status == 400


def test_metrics_need_a_viewer_unless_public(start_broker):
    closed = start_broker(http=True, security={"users": USERS})
    assert closed.api().get("/metrics").status == 401
    assert closed.api(user="ops", password="ops-pw").get("/metrics").status == 200
    public = start_broker(http=True, security={"users": USERS, "metrics_public": True})
    assert public.api().get("/metrics").status == 200
    assert public.api().get("/api/v1/status").status == 401


def test_open_mode_without_users(start_broker):
    node = start_broker(http=True)
    api = node.api()
    assert api.ok("GET", "/api/v1/whoami") == {"user": None, "role": "admin", "auth": False}
    assert api.ok("POST", "/api/v1/send", {"destination": "/queue/open", "body": "x"})["message_id"]
    assert "security.users is empty" in node.log_text()


GUARDED = [("POST", "/api/v1/queues/g.q/purge", None), ("DELETE", "/api/v1/queues/g.q", None),
           ("POST", "/api/v1/send", {"destination": "/queue/g.q", "body": "x"}), ("POST", "/api/v1/switchover", None),
           ("POST", "/api/v1/logout", None), ("DELETE", "/api/v1/connections/1", None)]


def assert_refused(r, *words):
    assert r.status == 403, r
    for w in words:
        assert w in r.json["error"], (w, r.json)


def test_every_change_needs_the_guard_header_whatever_the_credentials(node):
    basic = node.api(user="root", password="root-pw", guard_header=False)
    console = node.api(console=True)
    assert console.login("root", "root-pw").status == 200
    cookie = node.api(guard_header=False)
    cookie.cookie = console.cookie
    for client in (basic, cookie, node.api(guard_header=False)):
        for method, path, body in GUARDED:
            assert_refused(client.request(method, path, body), f"a {method} request must carry the header X-Tandem-Request")
    # The login too: a form of another site cannot sign a browser in to an account of its choosing.
    r = node.api(guard_header=False).post("/api/v1/login", {"user": "root", "password": "root-pw"})
    assert_refused(r, "X-Tandem-Request")
    assert "set-cookie" not in r.headers
    # Reading needs no header; with it every change goes through as before.
    assert basic.get("/api/v1/status").status == 200
    assert node.api(user="root", password="root-pw").post("/api/v1/queues/g.q/purge").status == 404
    assert console.ok("POST", "/api/v1/queues/g.q/purge", status=404)


def test_changes_from_another_origin_or_site_are_refused(node):
    admin = node.api(user="root", password="root-pw")
    own = f"http://127.0.0.1:{node.http_port}"
    send = ("/api/v1/send", {"destination": "/queue/o.q", "body": "x"})
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{node.http_port + 1}", own.replace("http", "https")):
        assert_refused(admin.post(*send, headers={"Origin": origin}), "refused a request from origin", own)
    assert_refused(admin.post(*send, headers={"Sec-Fetch-Site": "cross-site"}), "Sec-Fetch-Site: cross-site")
    assert_refused(admin.post(*send, headers={"Sec-Fetch-Site": "cross-site", "Origin": own}), "cross-site")
    # The node's own origin, as a browser on the console sends it.
    assert admin.post(*send, headers={"Origin": own, "Sec-Fetch-Site": "same-origin"}).status == 200
    # Reading from another origin is not refused (its page cannot read the answer anyway).
    assert admin.get("/api/v1/status", headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}).status == 200
    assert node.api(user="ops", password="ops-pw").get("/api/v1/queues/o.q").json["depth"] == 1


def test_http_public_url_is_an_accepted_origin(tmp_path):
    # Behind a proxy the browser's origin is the public one, not the Host the node sees.
    b = th.Broker(tmp_path, {"http": {"public_url": "https://tandem.example:8443/console/"},
                             "security": {"users": USERS}}, http=True)
    try:
        b.start()
        admin = b.api(user="root", password="root-pw")
        send = ("/api/v1/send", {"destination": "/queue/p.q", "body": "x"})
        assert admin.post(*send, headers={"Origin": "https://TANDEM.example:8443"}).status == 200
        assert_refused(admin.post(*send, headers={"Origin": "https://tandem.example"}),
                       "http.public_url's https://tandem.example:8443")
    finally:
        b.terminate()


def test_open_mode_changes_need_the_guard_header_too(start_broker):
    node = start_broker(http=True)
    bare = node.api(guard_header=False)
    assert_refused(bare.post("/api/v1/send", {"destination": "/queue/open", "body": "x"}), "X-Tandem-Request")
    assert_refused(bare.post("/api/v1/login", {"user": "x", "password": "y"}), "X-Tandem-Request")
    assert_refused(node.api().post("/api/v1/send", {"destination": "/queue/open", "body": "x"},
                                   headers={"Origin": "http://evil.example"}), "origin 'http://evil.example'")
    assert node.api().ok("POST", "/api/v1/send", {"destination": "/queue/open", "body": "x"})["message_id"]


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tls"))
    ca = tls_certs.make_ca(d)
    return types.SimpleNamespace(ca=ca, server=tls_certs.make_cert(d, ca, "server"))


def test_https_serves_the_same_api_with_secure_cookies(start_broker, certs):
    https_port = th.free_port()
    node = start_broker(http=True, listeners={"https": f"127.0.0.1:{https_port}"},
                        tls={"cert_file": certs.server.cert, "key_file": certs.server.key},
                        security={"users": USERS})
    secure = th.Api(https_port, https=True, ca_file=certs.ca.cert, user="ops", password="ops-pw")
    s = secure.ok("GET", "/api/v1/status")
    assert s["role"] == "active"
    # With an HTTPS listener the console published is the https one; both serve the same routes.
    assert s["console"] == f"https://127.0.0.1:{https_port}/"
    assert node.api(user="ops", password="ops-pw").get("/api/v1/status").status == 200
    console = th.Api(https_port, https=True, ca_file=certs.ca.cert, console=True)
    r = console.login("root", "root-pw")
    assert r.status == 200 and "; Secure" in r.headers["set-cookie"]
    assert console.ok("GET", "/api/v1/whoami")["user"] == "root"
    assert th.Api(https_port, https=True, ca_file=certs.ca.cert).get("/api/v1/status").status == 401
    m = th.Api(https_port, https=True, ca_file=certs.ca.cert, user="ops", password="ops-pw").metrics()
    assert th.sample_value(m, "tandem_up") == 1


def test_a_bad_https_certificate_stops_the_node(tmp_path, certs):
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
    b = th.Broker(tmp_path, {"listeners": {"https": f"127.0.0.1:{th.free_port()}"},
                             "tls": {"cert_file": str(bad), "key_file": certs.server.key}})
    try:
        with pytest.raises(AssertionError, match="exited with code 2"):
            b.start()
    finally:
        b.terminate()
    assert f"tls.cert_file '{bad}': not a PEM certificate chain" in b.log_text()


def test_refused_stomp_logins_count_in_the_metrics_and_logins_show_in_connections(start_broker, clients):
    node = start_broker(http=True, security={"enabled": True, "users": USERS + [
        th.user("orders", "orders-pw", read=[">"], write=[">"])]})
    bad = clients.new(node, login="orders", passcode="wrong", connect=False)
    with pytest.raises(AssertionError):
        bad.connect()
    good = clients.new(node, login="orders", passcode="orders-pw")
    good.subscribe("/queue/auth.q", "s")
    admin = node.api(user="root", password="root-pw")
    m = admin.metrics()
    assert th.sample_value(m, "tandem_auth_failures_total", {"protocol": "stomp"}) == 1
    assert th.sample_value(m, "tandem_auth_failures_total", {"protocol": "http"}) == 0
    conns = admin.ok("GET", "/api/v1/connections")["connections"]
    assert [c["login"] for c in conns] == ["orders"]

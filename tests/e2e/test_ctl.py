"""tandem-ctl, the real binary, against a real active/standby pair with users: the status table
and --json, queues, browse, purge, switchover, an unreachable node, a standby alone, wrong
passwords and a viewer's refused purge, the config file. Exit codes are tools/README.md's."""

import json
import os
import subprocess
import sys

import pair_harness
import tandem_harness as th
from secure_pair import USERS, api, ctl_binary, queue_depth, secure_pair, send_messages, url  # noqa: F401

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import tls_certs  # noqa: E402

EXIT_OK, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_NO_ACTIVE, EXIT_AUTH, EXIT_API = 0, 1, 2, 3, 4, 5


def ctl(*args, nodes=None, user="admin", password=None, env=None, stdin=None, timeout=30):
    cmd = [ctl_binary()]
    if nodes is not None:
        cmd += ["--nodes", ",".join(nodes)]
    if user is not None:
        cmd += ["--user", user, "--password", password if password is not None else USERS[user][0]]
    cmd += list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL if stdin is None else None,
                       input=stdin, env={**os.environ, **(env or {})})
    return r


def both(pair):
    return [url(n) for n in pair.nodes]


def test_status_table_marks_the_active_node_and_json_says_the_same(secure_pair):
    pair = secure_pair()
    active = pair.wait_active()
    standby = pair.other(active)
    r = ctl("status", nodes=both(pair))
    assert r.returncode == EXIT_OK, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NODE", "URL", "ROLE", "EPOCH", "SINCE", "LEASE", "HOLDER", "HEARTBEAT"], lines[0]
    rows = {line.split()[1] if line.startswith("*") else line.split()[0]: line for line in lines[1:]}
    assert rows[active.name].startswith("*"), r.stdout
    assert f" {url(active)} " in rows[active.name] and " active " in rows[active.name], r.stdout
    assert not rows[standby.name].startswith("*") and " standby " in rows[standby.name], r.stdout
    assert "ago" in rows[standby.name], r.stdout  # since / heartbeat ages

    r = ctl("--json", "status", nodes=both(pair))
    assert r.returncode == EXIT_OK, r.stderr
    out = json.loads(r.stdout)
    assert out["active"] == active.name and out["active_url"] == url(active)
    roles = {n["status"]["node"]: n["status"]["role"] for n in out["nodes"]}
    assert roles == {active.name: "active", standby.name: "standby"}
    epochs = {n["status"]["lease"]["epoch"] for n in out["nodes"]}
    assert len(epochs) == 1, out


def test_queues_browse_and_purge_through_the_active_node(secure_pair):
    pair = secure_pair()
    active = pair.wait_active()
    send_messages(active, "/queue/ctl.orders", 7, prefix="order", headers={"order-region": "eu"})
    # The standby is listed first: tandem-ctl must find the active node itself.
    nodes = [url(pair.other(active)), url(active)]

    r = ctl("queues", nodes=nodes)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout.splitlines()[0] == f"{active.name} (active) at {url(active)}"
    row = next(line for line in r.stdout.splitlines() if line.startswith("/queue/ctl.orders "))
    assert row.split()[1:3] == ["queue", "7"], row
    r = ctl("--json", "queues", nodes=nodes)
    dests = {d["name"]: d for d in json.loads(r.stdout)["destinations"]}
    assert dests["/queue/ctl.orders"]["depth"] == 7 and dests["/queue/ctl.orders"]["enqueued"] == 7

    r = ctl("browse", "ctl.orders", "--limit", "5", nodes=nodes)
    assert r.returncode == EXIT_OK, r.stderr
    assert "/queue/ctl.orders: messages 1-5 of 7" in r.stdout, r.stdout
    assert "order 1" in r.stdout and "order 5" in r.stdout and "order 6" not in r.stdout, r.stdout
    assert "more: --offset 5" in r.stdout
    r = ctl("--json", "browse", "/queue/ctl.orders", "--offset", "5", nodes=nodes)
    page = json.loads(r.stdout)
    assert page["total"] == 7 and [m["body_preview"] for m in page["messages"]] == ["order 6", "order 7"]
    r = ctl("browse", "ctl.orders", "--headers", "--limit", "1", nodes=nodes)
    assert "  body: order 1" in r.stdout and "  order-region: eu" in r.stdout, r.stdout
    assert queue_depth(active, "/queue/ctl.orders") == 7, "browsing consumed messages"

    # Without a terminal and without --yes, purge refuses to guess.
    r = ctl("purge", "ctl.orders", nodes=nodes)
    assert r.returncode == EXIT_USAGE and "--yes" in r.stderr, r.stderr
    assert queue_depth(active, "/queue/ctl.orders") == 7
    r = ctl("purge", "ctl.orders", "--yes", nodes=nodes)
    assert r.returncode == EXIT_OK, r.stderr
    assert r.stdout.strip() == f"purged 7 from /queue/ctl.orders on {active.name}", r.stdout
    assert queue_depth(active, "/queue/ctl.orders") == 0

    r = ctl("browse", "no.such.queue", nodes=nodes)
    assert r.returncode == EXIT_API and "tandem-ctl: " in r.stderr, r.stderr


def test_switchover_moves_the_active_role_and_reports_the_new_node(secure_pair):
    pair = secure_pair()
    old = pair.wait_active()
    new = pair.other(old)
    r = ctl("switchover", nodes=both(pair))
    assert r.returncode == EXIT_OK, r.stdout + r.stderr
    assert f"{old.name} (epoch" in r.stdout and "released the lease" in r.stdout, r.stdout
    assert f"{new.name} is active (epoch" in r.stdout, r.stdout
    assert pair.wait_active(30) is new
    code, status = api(new, "GET", "/api/v1/status")
    assert code == 200 and status["role"] == "active"
    # --json carries both names; a second switchover goes back.
    r = ctl("--json", "switchover", nodes=both(pair))
    assert r.returncode == EXIT_OK, r.stderr
    out = json.loads(r.stdout)
    assert out["from"] == new.name and out["to"] == old.name and out["switchover"]["result"] == "switching over"
    assert pair.wait_active(30) is old


def test_an_unreachable_node_is_named_with_the_reason(secure_pair):
    pair = secure_pair()
    active = pair.wait_active()
    dead = f"http://127.0.0.1:{th.free_port()}"  # nothing listens there
    r = ctl("status", nodes=both(pair) + [dead])
    assert r.returncode == EXIT_UNREACHABLE, r.stdout + r.stderr
    assert f"! {dead}: cannot connect: Connection refused" in r.stdout, r.stdout
    row = next(line for line in r.stdout.splitlines() if dead in line)
    assert "unreachable" in row
    # Commands that need the active node still find it past a dead one.
    r = ctl("queues", nodes=[dead, url(active)])
    assert r.returncode == EXIT_OK, r.stderr
    # Every node down: the error names each URL and why.
    r = ctl("queues", nodes=[dead])
    assert r.returncode == EXIT_NO_ACTIVE, r.stderr
    assert f"no active node: {dead}: cannot connect: Connection refused" in r.stderr, r.stderr
    r = ctl("--json", "status", nodes=[dead])
    assert r.returncode == EXIT_UNREACHABLE
    assert json.loads(r.stdout)["nodes"] == [{"url": dead, "reachable": False,
                                              "error": f"{dead}: cannot connect: Connection refused"}]


def test_a_standby_alone_says_which_node_is_active(secure_pair):
    pair = secure_pair()
    active = pair.wait_active()
    standby = pair.other(active)
    r = ctl("queues", nodes=[url(standby)])
    assert r.returncode == EXIT_NO_ACTIVE, r.stderr
    assert f"{standby.name} is standby (it names {active.name} as active" in r.stderr, r.stderr
    r = ctl("status", nodes=[url(standby)])
    assert r.returncode == EXIT_NO_ACTIVE and "! no node is active" in r.stdout, r.stdout


def test_wrong_password_and_a_viewers_purge_are_refused_with_the_apis_message(secure_pair):
    pair = secure_pair()
    active = pair.wait_active()
    send_messages(active, "/queue/ctl.guarded", 2)
    r = ctl("status", nodes=both(pair), password="not-the-password")
    assert r.returncode == EXIT_AUTH, r.stdout + r.stderr
    assert r.stderr.startswith("tandem-ctl: "), r.stderr
    r = ctl("queues", nodes=both(pair), user=None)
    assert r.returncode == EXIT_AUTH and "give --user" in r.stderr, r.stderr
    # A viewer may look but not purge: the API's own sentence reaches the operator.
    r = ctl("queues", nodes=both(pair), user="viewer")
    assert r.returncode == EXIT_OK, r.stderr
    r = ctl("purge", "ctl.guarded", "--yes", nodes=both(pair), user="viewer")
    assert r.returncode == EXIT_AUTH, r.stderr
    assert "viewer" in r.stderr and "admin" in r.stderr, r.stderr
    assert queue_depth(active, "/queue/ctl.guarded") == 2
    # The password may come from the environment instead of the command line.
    r = ctl("queues", "--user", "admin", nodes=both(pair), user=None, env={"TANDEM_PASSWORD": USERS["admin"][0]})
    assert r.returncode == EXIT_OK, r.stderr


def test_config_file_lists_the_nodes_and_credentials(secure_pair, tmp_path):
    pair = secure_pair()
    active = pair.wait_active()
    pw = tmp_path / "admin.password"
    pw.write_text(USERS["admin"][0] + "\n")
    cfg = tmp_path / "ctl.yaml"
    cfg.write_text("nodes:\n" + "".join(f"  - {url(n)}\n" for n in pair.nodes) +
                   "user: admin\npassword_file: admin.password\ntimeout_ms: 3000\n")  # beside the file
    r = ctl("--config", str(cfg), "status", user=None)
    assert r.returncode == EXIT_OK, r.stdout + r.stderr
    assert f"* {active.name} " in r.stdout.replace("*  ", "* "), r.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: [http://127.0.0.1:1]\nusr: admin\n")
    r = ctl("--config", str(bad), "status", user=None)
    assert r.returncode == EXIT_USAGE, r.stderr
    assert f"{bad}:2: usr: unknown key" in r.stderr, r.stderr
    r = ctl("status", nodes=["127.0.0.1"], user=None)
    assert r.returncode == EXIT_USAGE and "node URL '127.0.0.1': no port" in r.stderr, r.stderr


def test_hash_password_prints_a_line_the_broker_accepts(tmp_path):
    r = subprocess.run([ctl_binary(), "hash-password"], input="s3cret\n", capture_output=True, text=True, timeout=30)
    assert r.returncode == EXIT_OK, r.stderr
    line = r.stdout.strip()
    fields = line.split("$")
    assert fields[0] == "pbkdf2-sha256" and fields[1] == "100000" and len(fields) == 4, line
    # Two hashes of one password differ (a fresh salt each time).
    again = subprocess.run([ctl_binary(), "hash-password"], input="s3cret\n", capture_output=True, text=True, timeout=30)
    assert again.stdout.strip() != line
    # The broker's own configuration check accepts it.
    cfg = tmp_path / "node.yaml"
    cfg.write_text(f"node:\n  name: n1\nstorage:\n  path: {tmp_path}\nlisteners:\n  stomp: 127.0.0.1:{th.free_port()}\n"
                   f"security:\n  users:\n    - name: ops\n      password_hash: \"{line}\"\n      role: admin\n")
    check = subprocess.run([th.broker_binary(), "--check-config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    empty = subprocess.run([ctl_binary(), "hash-password"], input="\n", capture_output=True, text=True, timeout=30)
    assert empty.returncode == EXIT_USAGE and "empty password" in empty.stderr


def test_https_nodes_are_verified_with_the_ca_file(secure_pair, tmp_path):
    d = str(tmp_path / "tls")
    os.makedirs(d)
    ca = tls_certs.make_ca(d)
    server = tls_certs.make_cert(d, ca, "server")
    ports = pair_harness.distinct_free_ports(2)

    def https(n):
        n.https_port = ports[int(n.name[-1]) - 1]
        n.config["listeners"]["https"] = f"127.0.0.1:{n.https_port}"
        n.config["tls"] = {"cert_file": server.cert, "key_file": server.key}

    pair = secure_pair(per_node=https)
    active = pair.wait_active()
    nodes = [f"https://127.0.0.1:{n.https_port}" for n in pair.nodes]
    r = ctl("--ca-file", ca.cert, "status", nodes=nodes)
    assert r.returncode == EXIT_OK, r.stdout + r.stderr
    assert f"https://127.0.0.1:{active.https_port}" in r.stdout
    # Without the CA the certificate cannot be verified, and the message says what to do.
    r = ctl("status", nodes=nodes)
    assert r.returncode == EXIT_UNREACHABLE, r.stdout + r.stderr
    assert "TLS certificate verification failed" in r.stdout and "--ca-file" in r.stdout, r.stdout
    r = ctl("--insecure", "queues", nodes=nodes)
    assert r.returncode == EXIT_OK, r.stderr
    # Plain HTTP to the TLS port is no answer either, and named as such.
    r = ctl("queues", nodes=[f"http://127.0.0.1:{active.https_port}"], timeout=30)
    assert r.returncode == EXIT_NO_ACTIVE, r.stderr


def test_help_lists_the_exit_codes_and_repeated_wrong_passwords_back_off(secure_pair):
    r = subprocess.run([ctl_binary(), "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == EXIT_OK, r.stderr
    assert "Exit codes: 0 done; 1 usage" in r.stdout and "(default 7000)" in r.stdout, r.stdout
    pair = secure_pair()
    active = pair.wait_active()
    for _ in range(5):
        assert ctl("queues", nodes=[url(active)], password="wrong").returncode == EXIT_AUTH
    r = ctl("queues", nodes=[url(active)])  # the right password, from an address backing off
    assert r.returncode == EXIT_AUTH and "too many failed logins from this address" in r.stderr, r.stderr


def test_terminal_control_characters_from_clients_are_shown_escaped(secure_pair):
    # Names, message ids and headers are whatever clients sent. Printed raw, an ESC sequence
    # would recolour, clear or retitle the operator's terminal; tables and --headers show it
    # escaped, while --json keeps the exact text (as valid JSON).
    pair = secure_pair()
    active = pair.wait_active()
    queue = "/queue/ctl.\x1b[31mred"
    c = th.Client(active, version="1.2")
    c.connect()
    try:
        c.send(queue, "plain body", persistent=True,
               headers={"message-id": "evil\x1b]0;pwned\x07-1", "x-csi": "a\u009b31mb"})
    finally:
        c.close_quietly()
    nodes = both(pair)

    r = ctl("queues", nodes=nodes)
    assert r.returncode == EXIT_OK, r.stderr
    assert "\x1b" not in r.stdout and "/queue/ctl.\\x1b[31mred " in r.stdout, r.stdout
    r = ctl("browse", "ctl.\x1b[31mred", nodes=nodes)
    assert r.returncode == EXIT_OK, r.stderr
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout, r.stdout
    assert "evil\\x1b]0;pwned\\x07-1" in r.stdout and "plain body" in r.stdout, r.stdout
    r = ctl("browse", "ctl.\x1b[31mred", "--headers", nodes=nodes)
    assert r.returncode == EXIT_OK, r.stderr
    assert not any(ch in r.stdout for ch in "\x1b\x07\u009b"), r.stdout
    assert "  x-csi: a\\u009b31mb" in r.stdout and "evil\\x1b]0;pwned\\x07-1" in r.stdout, r.stdout

    r = ctl("--json", "browse", "ctl.\x1b[31mred", nodes=nodes)
    assert r.returncode == EXIT_OK, r.stderr
    m = json.loads(r.stdout)["messages"][0]
    assert m["message_id"] == "evil\x1b]0;pwned\x07-1" and m["headers"]["x-csi"] == "a\u009b31mb"


def _busy_node(busy_answers):
    """An HTTP server standing in for a node whose password checks are all taken: it answers
    the broker's 'busy' 503 (no `role`, Retry-After: 1) `busy_answers` times, then a status.
    Provoking that on a real node depends on PBKDF2 timing, so the answer is replayed here."""
    import http.server
    import threading

    calls = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            calls.append(self.path)
            if len(calls) <= busy_answers:
                body, status = {"error": "too many password checks at once: try again in a moment"}, 503
            else:
                body, status = {"node": "node-1", "role": "active", "epoch": 7, "lease": {"holder": "node-1"}}, 200
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 503:
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, calls


def test_a_node_busy_checking_passwords_is_retried_and_never_reported_as_standby():
    server, calls = _busy_node(busy_answers=2)
    try:
        node = f"http://127.0.0.1:{server.server_address[1]}"
        r = ctl("status", "--json", nodes=[node], password="x")
        assert r.returncode == EXIT_OK, r.stderr
        assert json.loads(r.stdout)["active"] == "node-1"
        assert len(calls) == 3, calls
    finally:
        server.shutdown()
        server.server_close()

    server, calls = _busy_node(busy_answers=100)
    try:
        node = f"http://127.0.0.1:{server.server_address[1]}"
        r = ctl("status", nodes=[node], password="x")
        assert r.returncode == EXIT_API, (r.returncode, r.stderr)
        assert "too many password checks at once" in r.stderr, r.stderr
        assert "no node is active" not in r.stderr and "standby" not in r.stderr, r.stderr
        assert len(calls) == 4, calls  # bounded: three retries, then the node's answer is reported
    finally:
        server.shutdown()
        server.server_close()

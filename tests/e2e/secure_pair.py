"""An active/standby pair with HTTP users, for the tests of the console and tandem-ctl.

Users are the ones a real operator would configure: password hashes made by the real
`tandem-ctl hash-password` (at the minimum iteration count, so logins stay fast), roles
`admin` and `viewer` (ADMIN_API.md). Also small HTTP helpers that speak to a node's API with
Basic credentials, and `send_messages` through a real STOMP client (stomp.py).
"""

import base64
import functools
import http.client
import json
import os
import subprocess

import pytest

import pair_harness
import tandem_harness as th

USERS = {  # name: (password, role)
    "admin": ("admin-secret-1", "admin"),
    "viewer": ("viewer-secret-2", "viewer"),
}


def ctl_binary():
    path = os.path.join(os.environ.get("TANDEM_BIN_DIR", ""), "tools", "tandem-ctl")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"no tandem-ctl executable at {path} (is TANDEM_BIN_DIR the build directory?)")
    return path


@functools.lru_cache(maxsize=None)
def hash_password(password):
    r = subprocess.run([ctl_binary(), "hash-password", "--iterations", "10000"], input=password + "\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"tandem-ctl hash-password failed: {r.stderr}"
    line = r.stdout.strip()
    assert line.startswith("pbkdf2-sha256$10000$"), line
    return line


def security_yaml(users=USERS):
    lines = ["security:", "  users:"]
    for name, (password, role) in users.items():
        lines += [f'    - name: "{name}"', f'      password_hash: "{hash_password(password)}"', f"      role: {role}"]
    return "\n".join(lines) + "\n"


def make_pair(workdir, users=USERS, per_node=None, **kwargs):
    """A pair_harness.Pair (not started) whose nodes both have `users`. `per_node(node)` may
    change a node's config dict (node.config) first, e.g. to give it its own listener."""
    p = pair_harness.Pair(workdir, **kwargs)
    for n in p.nodes:
        if per_node:
            per_node(n)
        with open(n.config_path, "w") as f:
            f.write(th.to_yaml(n.config) + "\n" + security_yaml(users))
        # The harness reads each node's role from /api/v1/status, which now needs credentials.
        n.status = functools.partial(_status, n, next(iter(users)))
    return p


def _status(node, user):
    try:
        code, body = api(node, "GET", "/api/v1/status", user=user, timeout=2.0)
    except OSError:
        return None
    return body if code == 200 else None


@pytest.fixture
def secure_pair(tmp_path, request):
    """Starts a pair with USERS and waits until one node is active and the other standby;
    stopped by PID at teardown."""
    pairs = []

    def start(**kwargs):
        p = make_pair(tmp_path / f"pair-{len(pairs) + 1}", **kwargs)
        pairs.append(p)
        p.start()
        p.wait_role(p.other(p.wait_active(30)), "standby", 30)
        return p

    yield start
    for p in pairs:
        p.stop()
        rep = getattr(request.node, "rep_call", None)
        if rep is None or rep.failed:
            print(f"\n{p.logs(80)}")


def url(node):
    return f"http://127.0.0.1:{node.http_port}"


def api(node, method, path, user="admin", body=None, timeout=10.0):
    """(status, parsed JSON or text) of one API call with Basic credentials (user=None: none)."""
    headers = {"Accept": "application/json"}
    if user is not None:
        token = base64.b64encode(f"{user}:{USERS[user][0]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    data = None
    if body is not None or method in ("POST", "DELETE"):
        data = json.dumps(body if body is not None else {}).encode()
        headers["Content-Type"] = "application/json"
        headers["X-Tandem-Request"] = "1"  # the API's cross-site request guard
    c = http.client.HTTPConnection("127.0.0.1", node.http_port, timeout=timeout)
    try:
        c.request(method, path, body=data, headers=headers)
        r = c.getresponse()
        text = r.read().decode("utf-8", errors="replace")
    finally:
        c.close()
    try:
        return r.status, json.loads(text)
    except ValueError:
        return r.status, text


def queue_depth(node, queue):
    code, body = api(node, "GET", "/api/v1/queues/" + queue.removeprefix("/queue/"))
    assert code == 200, f"GET queue {queue}: {code} {body}"
    return body["depth"]


def send_messages(node, queue, count, prefix="message", headers=None):
    """Sends `count` persistent messages with stomp.py, each receipted (so durable)."""
    c = th.Client(node, version="1.2")
    c.connect()
    try:
        for i in range(1, count + 1):
            c.send(queue, f"{prefix} {i}", persistent=True, headers=headers)
    finally:
        c.close_quietly()

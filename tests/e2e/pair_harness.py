"""An active/standby pair of tandem-broker processes on one shared storage directory (or an
nfs:// URL), for the HA end-to-end tests and the switchover drill.

Each node is a `tandem_harness.Broker` (so the test watchdog can SIGKILL it by PID) whose start
waits for its HTTP listener instead of its STOMP port: a standby opens no STOMP port.
Every wait is bounded polling on a condition; processes are stopped by PID only.
"""

import base64
import http.client
import json
import os
import signal
import socket
import time

import tandem_harness as th

# Short lease timings keep the tests quick; the drill may pass its own.
FAST_HA = {"lease_ttl_ms": 1500, "renew_interval_ms": 100, "safety_margin_ms": 300,
           "poll_interval_ms": 50}


def _auth_headers(auth):
    """HTTP Basic for (user, password), or nothing. Nodes with security.users need it for the
    status and switchover routes (broker/ADMIN_API.md)."""
    if not auth:
        return {}
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def http_get(port, path, timeout=2.0, auth=None):
    """(status, body text) or (None, error) when the node does not answer."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("GET", path, headers=_auth_headers(auth))
        r = c.getresponse()
        body = r.read().decode("utf-8", errors="replace")
        c.close()
        return r.status, body
    except (OSError, http.client.HTTPException) as e:
        return None, str(e)


def http_post(port, path, timeout=2.0, auth=None):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("POST", path, body=b"", headers={"Content-Length": "0", "X-Tandem-Request": "1", **_auth_headers(auth)})
        r = c.getresponse()
        body = r.read().decode("utf-8", errors="replace")
        c.close()
        return r.status, body
    except (OSError, http.client.HTTPException) as e:
        return None, str(e)


def distinct_free_ports(n):
    """n distinct TCP ports that were free a moment ago (all held bound while choosing, so no
    two roles of the pair get the same number)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Node(th.Broker):
    """One node of the pair. `storage` is {"path": dir} or {"url": "nfs://..."}."""

    def __init__(self, workdir, name, storage, ha=None, extra=None, binary=None, ports=None,
                 tls=None, ssl_port=None, http_auth=None):
        """`tls`: the node's tls section ({"cert_file": ..., "key_file": ...}); with it the node
        also serves STOMP over TLS on `ssl_port` (self.ssl_port). `http_auth`: (user, password)
        for its HTTP routes, when `extra` configures security.users."""
        self.http_auth = http_auth
        stomp_port, self.http_port, self.ha_port = ports or distinct_free_ports(3)
        self._binary = binary
        overrides = {
            "node": {"name": name},
            "storage": dict(storage),
            "listeners": {"http": f"127.0.0.1:{self.http_port}",
                          "ha": f"127.0.0.1:{self.ha_port}"},
            "ha": dict(FAST_HA if ha is None else ha),  # {}: the broker's own defaults
        }
        th._deep_merge(overrides, extra or {})
        super().__init__(workdir, overrides, name=name)
        # Broker.__init__ chose its own STOMP port and storage path; the pair's replace them.
        self.port = stomp_port
        self.config["listeners"]["stomp"] = f"{self.host}:{stomp_port}"
        self.config["storage"] = dict(storage)
        th._deep_merge(self.config["storage"], (extra or {}).get("storage", {}))
        self.ssl_port = None
        if tls is not None:
            self.ssl_port = ssl_port or th.free_port()
            self.config["listeners"]["stomp_ssl"] = f"{self.host}:{self.ssl_port}"
            self.config["tls"] = dict(tls)
        with open(self.config_path, "w") as f:
            f.write(th.to_yaml(self.config) + "\n")
        self.name = name
        self.stopped = False  # SIGSTOPped by the test

    def _command(self):
        binary = self._binary or th.broker_binary()
        return [binary, "--config", self.config_path, "--log-level", os.environ.get("TANDEM_PAIR_LOG_LEVEL", "info")]

    def _wait_accepting(self, timeout):
        # A standby opens no STOMP port: the node is up once its HTTP listener answers.
        deadline = time.monotonic() + timeout
        while True:
            code = self.proc.poll()
            if code is not None:
                self._record_exit("died at start", code)
                raise AssertionError(f"{self.name} exited with code {code} at start\n"
                                     f"--- log tail ---\n{self.log_tail()}")
            if http_get(self.http_port, "/healthz", timeout=0.5)[0] == 200:
                return
            if time.monotonic() >= deadline:
                raise AssertionError(f"{self.name} (pid {self.proc.pid}) did not answer "
                                     f"/healthz within {timeout:.0f}s\n{self.log_tail()}")
            time.sleep(0.05)

    # ----- state -----
    def status(self):
        code, body = http_get(self.http_port, "/api/v1/status", auth=self.http_auth)
        if code != 200:
            return None
        return json.loads(body)

    def role(self):
        s = self.status()
        return s.get("role") if s else None

    def readyz(self):
        return http_get(self.http_port, "/readyz", auth=self.http_auth)

    def stomp_open(self):
        return port_open(self.port)

    def stomp_ssl_open(self):
        return self.ssl_port is not None and port_open(self.ssl_port)

    def is_active(self):
        """Active by its own status and accepting STOMP connections."""
        return self.running() and not self.stopped and self.role() == "active" and self.stomp_open()

    # ----- faults -----
    def sigstop(self):
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.stopped = True

    def sigcont(self):
        os.kill(self.proc.pid, signal.SIGCONT)
        self.stopped = False

    def kill9(self):
        if self.stopped and self.running():
            os.kill(self.proc.pid, signal.SIGCONT)
            self.stopped = False
        super().kill9()

    def terminate(self, timeout=th.STOP_TIMEOUT):
        if self.stopped and self.running():
            os.kill(self.proc.pid, signal.SIGCONT)
            self.stopped = False
        return super().terminate(timeout)


class Pair:
    """Two nodes on one storage. `storage` defaults to a shared directory under `workdir`.
    `tls` (a tls config section) makes both nodes serve STOMP over TLS too (Node.ssl_port).
    `http_auth` (user, password) is sent with the harness's HTTP requests (status, switchover)."""

    def __init__(self, workdir, storage=None, ha=None, extra=None, binary=None, tls=None, http_auth=None):
        workdir = str(workdir)
        if storage is None:
            shared = os.path.join(workdir, "shared")
            os.makedirs(shared, exist_ok=True)
            storage = {"path": shared}
        self.storage = storage
        self.nodes = []
        ports = distinct_free_ports(8)  # stomp, http, ha for each node, then their stomp_ssl
        for i in (1, 2):
            d = os.path.join(workdir, f"node-{i}")
            os.makedirs(d, exist_ok=True)
            self.nodes.append(Node(d, f"node-{i}", storage, ha, extra, binary,
                                   ports[3 * (i - 1):3 * i], tls=tls, ssl_port=ports[5 + i],
                                   http_auth=http_auth))

    def start(self, timeout=th.START_TIMEOUT):
        """Starts both processes at once (neither waits for the other)."""
        for n in self.nodes:
            n.starts += 1
            log = open(n.log_path, "ab")
            log.write(f"\n===== pair-harness: start #{n.starts} =====\n".encode())
            log.flush()
            import subprocess
            n.proc = subprocess.Popen(n._command(), stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, cwd=n.workdir,
                                      preexec_fn=th._die_with_parent)
            log.close()
            n._expected_exit = False
            n.stopped = False
            with th._live_lock:
                th._live_brokers.add(n)
        for n in self.nodes:
            n._wait_accepting(timeout)
        return self

    def endpoints(self):
        return [n.host_and_port for n in self.nodes]

    def other(self, node):
        return self.nodes[1] if node is self.nodes[0] else self.nodes[0]

    def active(self):
        """The one node that is active now, or None (asserts there are never two)."""
        act = [n for n in self.nodes if n.is_active()]
        assert len(act) <= 1, f"two active nodes: {[n.name for n in act]}\n{self.logs()}"
        return act[0] if act else None

    def wait_active(self, timeout=30.0, not_node=None):
        def found():
            a = self.active()
            return a if a is not None and a is not not_node else None
        return th.wait_until(found, timeout, interval=0.02,
                             what=f"an active node{' other than ' + not_node.name if not_node else ''}")

    def wait_role(self, node, roles, timeout=30.0):
        roles = (roles,) if isinstance(roles, str) else tuple(roles)
        return th.wait_until(lambda: node.role() in roles and node.role(), timeout,
                             what=f"{node.name} to be {'/'.join(roles)}")

    def stop(self):
        for n in self.nodes:
            try:
                n.terminate()
            except Exception:
                n.kill9()

    def logs(self, lines=40):
        return "\n".join(f"--- {n.name} ({n.log_path}) ---\n{n.log_tail(lines)}" for n in self.nodes)


# --- fault injection, shared by the tests and deploy/drill.py --------------------------------

FAULTS = ("kill", "stop", "switchover", "term")


def inject_fault(pair, fault, producer=None, timeout=30.0):
    """Injects `fault` into the active node and waits until the other node is active (and, with
    a producer, until the producer got its first receipt from a connection opened after the
    fault). Then brings the faulted node back as the standby:
      kill        SIGKILL; restarted
      term        SIGTERM (graceful stop: releases the lease); restarted
      stop        SIGSTOP until the peer took over, then SIGCONT (it must fence itself)
      switchover  POST /api/v1/switchover
    Returns {fault, old, new, switchover_ms (fault -> first receipt from the new active, or
    None without a producer), takeover_ms (fault -> the new active serving STOMP)}."""
    assert fault in FAULTS, fault
    old = pair.wait_active(timeout)
    new = pair.other(old)
    pair.wait_role(new, "standby", timeout)
    t0 = time.monotonic()
    if fault == "kill":
        old.kill9()
    elif fault == "term":
        old.terminate()
    elif fault == "stop":
        old.sigstop()
    else:
        code, body = http_post(old.http_port, "/api/v1/switchover", auth=old.http_auth)
        assert code == 202, f"switchover answered {code}: {body}"
    pair.wait_active(timeout, not_node=old)
    takeover_ms = (time.monotonic() - t0) * 1000
    first = None
    if producer is not None:
        first = th.wait_until(lambda: producer.first_receipt_after(t0), timeout,
                              interval=0.005, what="the first receipt from the new active")
    if fault in ("kill", "term"):
        old.start(timeout=timeout)
    elif fault == "stop":
        old.sigcont()
    pair.wait_role(old, "standby", timeout)
    return {"fault": fault, "old": old, "new": new, "takeover_ms": takeover_ms,
            "switchover_ms": (first - t0) * 1000 if first is not None else None}

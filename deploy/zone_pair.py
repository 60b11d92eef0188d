"""The Tandem pair across the simulated zones of deploy/zones.py: node-1 in `zone-a`, node-2 in
`zone-b`, both on the storage host's NFS export through the nfs:// backend, clients in `client`.
Used by deploy/chaos.py and the zone tests.

    z = zones.up(); g = zones.start_ganesha(z, export_dir)
    pair = ZonePair(z, workdir, g.url(version=4), broker_binary).start_all()
    old = pair.wait_active(60)
    pair.kill9(old); pair.wait_active(30, not_node=old); pair.start(old)

Every node listens on its zone's address (STOMP 61613, HTTP 8161, HA 61616). Its HTTP API is
asked from inside its own zone, which works while its links are cut. A node is active when it
says so and listens for STOMP (a node handing its lease over may say "active" a moment longer,
but its STOMP port is closed by then). Processes are zone processes (zones.exec): stopped by PID.
"""

import json
import os
import signal
import time

import zones as zn
from drill_load import DrillError, wait_until

NODES = {"node-1": "zone-a", "node-2": "zone-b"}
STOMP, HTTP, HA = 61613, 8161, 61616
# Renewals every 250 ms, each an NFS WRITE+COMMIT and an OPEN of the next epoch (as the NFS tests).
NFS_HA = {"lease_ttl_ms": 1500, "renew_interval_ms": 250, "safety_margin_ms": 250,
          "poll_interval_ms": 50}


def endpoint(name):
    return f"stomp://{zn.HOSTS[NODES[name]]}:{STOMP}"


def failover_uri(options="maxReconnectDelay=1000"):
    return f"failover:({endpoint('node-1')},{endpoint('node-2')})" + (f"?{options}" if options else "")


def _yaml(value, indent=0):
    lines = []
    for key, item in value.items():
        if isinstance(item, dict):
            lines.append(f"{'  ' * indent}{key}:")
            lines.append(_yaml(item, indent + 1))
        else:
            lines.append(f"{'  ' * indent}{key}: {json.dumps(item) if isinstance(item, str) else item}")
    return "\n".join(lines)


class ZonePair:
    def __init__(self, zones, workdir, storage_url, binary, ha=None, log_level="info"):
        self.zones = zones
        self.workdir = str(workdir)
        self.url = storage_url
        self.binary = binary
        self.ha = dict(NFS_HA if ha is None else ha)
        self.log_level = log_level
        self.procs = {}
        self.stopped = set()

    # --- processes ----------------------------------------------------------------------------

    def config_path(self, name):
        return os.path.join(self.workdir, name, "broker.yaml")

    def log_path(self, name):
        return os.path.join(self.workdir, name, "broker.log")

    def start(self, name):
        addr = zn.HOSTS[NODES[name]]
        os.makedirs(os.path.join(self.workdir, name), exist_ok=True)
        cfg = {"node": {"name": name}, "storage": {"url": self.url},
               "listeners": {"stomp": f"{addr}:{STOMP}", "http": f"{addr}:{HTTP}", "ha": f"{addr}:{HA}"},
               "ha": self.ha}
        with open(self.config_path(name), "w") as f:
            f.write(_yaml(cfg) + "\n")
        log = open(self.log_path(name), "ab")
        try:
            self.procs[name] = self.zones.exec(
                NODES[name], [self.binary, "--config", self.config_path(name), "--log-level", self.log_level],
                stdout=log, stderr=log.fileno(), cwd=os.path.join(self.workdir, name))
        finally:
            log.close()
        self.stopped.discard(name)
        wait_until(lambda: self.status(name) is not None, 30, f"{name}'s HTTP status")
        return self

    def start_all(self):
        for name in NODES:
            self.start(name)
        return self

    def running(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    def kill9(self, name):
        p = self.procs[name]
        if name in self.stopped:
            p.send_signal(signal.SIGCONT)
        p.kill()
        p.wait(timeout=10)
        self.stopped.discard(name)

    def sigstop(self, name):
        self.procs[name].send_signal(signal.SIGSTOP)
        self.stopped.add(name)

    def sigcont(self, name):
        self.procs[name].send_signal(signal.SIGCONT)
        self.stopped.discard(name)

    def stop_all(self):
        """SIGTERM (graceful: the active releases the lease) then SIGKILL, by PID."""
        for name, p in self.procs.items():
            if p.poll() is None:
                if name in self.stopped:
                    p.send_signal(signal.SIGCONT)
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except Exception:
                p.kill()
                p.wait(timeout=10)

    # --- state --------------------------------------------------------------------------------

    def _in_zone(self, name, argv, timeout=10):
        return self.zones.run(NODES[name], argv, timeout=timeout)

    def status(self, name):
        """The node's /api/v1/status, asked inside its own zone (None if it does not answer)."""
        if not self.running(name) or name in self.stopped:
            return None
        addr = zn.HOSTS[NODES[name]]
        try:
            r = self._in_zone(name, ["curl", "-s", "-m", "2", f"http://{addr}:{HTTP}/api/v1/status"])
            return json.loads(r.stdout) if r.returncode == 0 and r.stdout else None
        except Exception:
            return None

    def role(self, name):
        s = self.status(name)
        return s.get("role") if s else None

    def stomp_listening(self, name):
        addr = zn.HOSTS[NODES[name]]
        r = self._in_zone(name, ["ss", "-Hltn", f"src {addr}:{STOMP}"])
        return r.returncode == 0 and bool(r.stdout.strip())

    def active(self):
        act = [n for n in NODES if self.role(n) == "active" and self.stomp_listening(n)]
        if len(act) > 1:
            raise DrillError(f"two active nodes\n{self.logs()}")
        return act[0] if act else None

    def wait_active(self, timeout=30.0, not_node=None):
        def found():
            a = self.active()
            return a if a is not None and a != not_node else None
        return wait_until(found, timeout, f"an active node{' other than ' + not_node if not_node else ''}",
                          interval=0.05)

    def wait_role(self, name, roles, timeout=30.0):
        roles = (roles,) if isinstance(roles, str) else tuple(roles)
        return wait_until(lambda: self.role(name) in roles and self.role(name), timeout,
                          f"{name} to be {'/'.join(roles)}")

    def wait_pair(self, timeout=60.0):
        """One node active, the other standby (the state every drill starts from); returns the active."""
        def ok():
            a = self.active()
            return a if a and self.role(self.other(a)) == "standby" else None
        return wait_until(ok, timeout, "one active node and one standby")

    @staticmethod
    def other(name):
        return "node-2" if name == "node-1" else "node-1"

    def switchover(self, name):
        """POST /api/v1/switchover to `name`, from inside its zone (an operator on that host)."""
        addr = zn.HOSTS[NODES[name]]
        r = self._in_zone(name, ["curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "-d", "",
                                 "-H", "X-Tandem-Request: 1", f"http://{addr}:{HTTP}/api/v1/switchover"])
        if r.stdout.strip() != "202":
            raise DrillError(f"switchover on {name} answered {r.stdout.strip() or r.stderr.strip()}")

    def endpoint_nodes(self):
        return {endpoint(n): n for n in NODES}

    def log_paths(self):
        return [self.log_path(n) for n in NODES]

    def logs(self, lines=30):
        out = []
        for n in NODES:
            try:
                with open(self.log_path(n), errors="replace") as f:
                    tail = "".join(f.readlines()[-lines:])
            except OSError:
                tail = "(no log)"
            out.append(f"--- {n} ({self.log_path(n)}) ---\n{tail}")
        return "\n".join(out)


def wait_quiet(seconds):
    """A deliberate stretch of time in a drill (a fault that lasts), not a synchronisation."""
    time.sleep(seconds)

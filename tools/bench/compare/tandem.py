"""Tandem for the comparison: a single node for the workload rows and an active/standby pair on a
local shared directory for the failover rows, both from tests/e2e/pair_harness.py (the
processes deploy/drill.py runs), with the broker's defaults except the STOMP connection limit.

The single node is a pair_harness.Node on its own storage directory: a pair of one, which takes
the lease alone and serves, like `tandem-broker --config` with a storage path. Its log level is
TANDEM_PAIR_LOG_LEVEL (the comparison sets `warn`).
"""

import os

import pair_harness as ph


def _yaml(path):
    with open(path) as f:
        return f.read()


class TandemNode:
    def __init__(self, workdir, name, binary, max_connections):
        self.name = name
        self.workdir = str(workdir)
        self.store = os.path.join(self.workdir, "store")
        os.makedirs(self.store, exist_ok=True)
        self.node = ph.Node(self.workdir, name, {"path": self.store}, ha={},
                            extra={"limits": {"max_connections": max_connections}}, binary=binary)
        self.port = self.node.port
        self.config_text = _yaml(self.node.config_path)

    @property
    def store_dir(self):
        return self.store

    @property
    def pid(self):
        return self.node.proc.pid

    def start(self):
        self.node.start()  # returns when /healthz answers; the caller probes STOMP
        return self

    def running(self):
        return self.node.running()

    def kill9(self):
        self.node.kill9()

    def terminate(self):
        self.node.terminate()

    def log_tail(self, lines=30):
        return f"--- {self.node.log_path} ---\n{self.node.log_tail(lines)}\n"

    def describe(self):
        return {"config_file": self.node.config_path, "config": self.config_text,
                "command": " ".join(self.node._command())}


class TandemPair:
    """Two nodes on one shared directory, the broker's HA defaults (ttl 3000 ms, renew 100 ms;
    a killed active is seen at once through the HA link)."""

    label = "Tandem pair (defaults)"

    def __init__(self, workdir, binary, max_connections):
        self.pair = ph.Pair(str(workdir), ha={}, extra={"limits": {"max_connections": max_connections}},
                            binary=binary)
        self.nodes = self.pair.nodes

    def ports(self):
        return [n.port for n in self.nodes]

    def start(self, timeout):
        self.pair.start(timeout=timeout)
        active = self.pair.wait_active(timeout)
        self.pair.wait_role(self.pair.other(active), "standby", timeout)

    def active(self, timeout):
        return self.pair.wait_active(timeout)

    def other(self, node):
        return self.pair.other(node)

    def wait_standby(self, node, timeout):
        self.pair.wait_role(node, "standby", timeout)

    def restart(self, node, timeout):
        node.start(timeout=timeout)
        self.wait_standby(node, timeout)

    def stop(self):
        self.pair.stop()

    def logs(self):
        return self.pair.logs()

    def describe(self):
        return {"label": self.label, "shared_dir": self.pair.storage.get("path"),
                "config": {n.name: _yaml(n.config_path) for n in self.nodes}}

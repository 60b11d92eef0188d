"""The NFS test server harness (tests/support/ganesha.py) as operators and tests use it.

Needs nfs-ganesha, nfs-ganesha-vfs and rpcbind (scripts/install-deps.sh) and root.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

SUPPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support")
sys.path.insert(0, SUPPORT)
import ganesha  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists(ganesha.GANESHA_BIN),
                                reason="nfs-ganesha not installed (scripts/install-deps.sh)")


def port_of(url):
    query = url.split("?", 1)[1]
    return int(dict(kv.split("=") for kv in query.split("&"))["nfsport"])


def answers(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_server_restarts_on_the_same_port_and_stops_by_pid(tmp_path):
    with ganesha.Ganesha(tmp_path / "export", tmp_path / "work", protocols=(3, 4)) as g:
        url4, url3 = g.url(version=4), g.url(version=3, path="sub")
        assert url4.startswith("nfs://127.0.0.1/export?version=4&nfsport=")
        assert url3.startswith("nfs://127.0.0.1/export/sub?nfsport=") and "mountport=" in url3
        port, first = port_of(url4), g.pid
        assert answers(port)
        g.freeze()
        g.thaw()
        g.kill()
        assert not alive(first)
        g.restart()
        assert g.pid != first and port_of(g.url(version=4)) == port and answers(port)
        pid = g.pid
    assert not alive(pid)


def test_serve_prints_urls_and_stops_on_ctrl_c(tmp_path):
    proc = subprocess.Popen(["/usr/bin/python3", os.path.join(SUPPORT, "ganesha.py"), "serve",
                             str(tmp_path / "export"), "--protocols", "4"],
                            stdout=subprocess.PIPE, text=True)
    try:
        lines = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline().strip()
            if not line or line == "ready":
                break
            key, value = line.split(" ", 1)
            lines[key] = value
        assert "url4" in lines and "pid" in lines
        server = int(lines["pid"])
        assert answers(port_of(lines["url4"]))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert not alive(server)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

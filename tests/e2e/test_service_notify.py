"""systemd readiness and watchdog (Type=notify, WatchdogSec=): the broker speaks sd_notify.

The test plays systemd's part: it binds the datagram socket a service manager would pass in
NOTIFY_SOCKET and reads what a real tandem-broker sends there through its life.
"""

import os
import signal
import socket
import time

import pytest

import tandem_harness as th


class NotifySocket:
    """The service manager's end: a bound AF_UNIX datagram socket, collecting messages.
    `path` "@name" binds in the abstract namespace, as systemd may."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.path[1:] if self.path.startswith("@") else self.path)
        self.sock.setblocking(False)
        self.messages = []  # (monotonic time, {key: value})

    def drain(self):
        """Reads every datagram waiting now (the broker may keep sending: never blocks)."""
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append((time.monotonic(), fields))

    def wait(self, predicate, what, timeout=th.DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.drain()
            for _, fields in self.messages:
                if predicate(fields):
                    return fields
            time.sleep(0.02)
        raise AssertionError(f"no notification {what} within {timeout}s; got {self.messages[-20:]}")

    def count(self, key):
        return sum(1 for _, f in self.messages if key in f)

    def close(self):
        self.sock.close()


@pytest.fixture
def notify(tmp_path):
    n = NotifySocket(tmp_path / "notify.sock")
    yield n
    n.close()


def start(tmp_path, env):
    workdir = tmp_path / "broker"
    workdir.mkdir()
    b = th.Broker(workdir, env=env)
    b.start()
    return b


@pytest.mark.limit(60)
def test_ready_status_watchdog_and_stopping_are_sent(tmp_path, notify):
    b = start(tmp_path, {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"})
    try:
        first = notify.wait(lambda f: "READY" in f, "READY=1")
        assert first["READY"] == "1"
        assert first["STATUS"].startswith("standby"), first  # ready as soon as it contends
        notify.wait(lambda f: f.get("STATUS", "").startswith("active"), "STATUS=active")
        assert notify.count("READY") == 1, "READY=1 is sent once"
        # The activation (the journal's replay on the event loop) runs with a raised watchdog
        # timeout, restored once the node serves.
        usec = [f["WATCHDOG_USEC"] for _, f in notify.messages if "WATCHDOG_USEC" in f]
        assert usec[:2] == ["600000000", "200000"], notify.messages[:8]
        # WATCHDOG_USEC 200 ms: pings every 100 ms from the event loop.
        before = notify.count("WATCHDOG")
        notify.wait(lambda f: notify.count("WATCHDOG") >= before + 3, "three more WATCHDOG=1")

        # A stopped event loop sends no pings: what lets systemd restart a hung node.
        b.proc.send_signal(signal.SIGSTOP)
        try:
            time.sleep(0.3)
            notify.drain()
            stopped_at = notify.count("WATCHDOG")
            time.sleep(1.0)
            notify.drain()
            assert notify.count("WATCHDOG") == stopped_at, "a frozen node kept pinging the watchdog"
        finally:
            b.proc.send_signal(signal.SIGCONT)
        notify.wait(lambda f: notify.count("WATCHDOG") > stopped_at, "WATCHDOG=1 after SIGCONT")

        assert b.terminate() == 0
        stopping = notify.wait(lambda f: "STOPPING" in f, "STOPPING=1")
        assert "releasing the lease" in stopping["STATUS"], stopping
    finally:
        b.terminate()


@pytest.mark.limit(60)
def test_watchdog_meant_for_another_process_is_ignored(tmp_path, notify):
    # systemd sets WATCHDOG_PID to the main process; a broker started under another process
    # (a wrapper script) must not ping for it.
    b = start(tmp_path, {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000",
                         "WATCHDOG_PID": str(os.getpid())})
    try:
        notify.wait(lambda f: f.get("STATUS", "").startswith("active"), "STATUS=active")
        time.sleep(0.5)
        notify.drain()
        assert notify.count("WATCHDOG") == 0
    finally:
        assert b.terminate() == 0


@pytest.mark.limit(60)
def test_unusable_notify_socket_is_reported_and_the_broker_serves(tmp_path):
    b = start(tmp_path, {"NOTIFY_SOCKET": str(tmp_path / "nobody-listens.sock")})
    try:
        c = b.client()
        c.send("/queue/q", "still served")  # waits for its receipt
        c.disconnect()
        assert "cannot reach NOTIFY_SOCKET" in b.log_text()
    finally:
        assert b.terminate() == 0


@pytest.mark.limit(60)
def test_abstract_notify_socket(tmp_path):
    n = NotifySocket(f"@tandem-notify-test-{os.getpid()}")
    try:
        b = start(tmp_path, {"NOTIFY_SOCKET": n.path})
        try:
            n.wait(lambda f: f.get("READY") == "1", "READY=1 on an abstract socket")
        finally:
            assert b.terminate() == 0
    finally:
        n.close()

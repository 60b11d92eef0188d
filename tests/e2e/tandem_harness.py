"""Harness for Tandem's end-to-end tests: a real tandem-broker process, real stomp.py clients
and raw sockets for the frames no well-behaved client would send.

Every wait here is bounded polling on a condition, never a fixed sleep used as synchronisation.
Processes are stopped by PID only.
"""

import base64
import collections
import ctypes
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

import stomp

DEFAULT_TIMEOUT = 10.0
START_TIMEOUT = 10.0
# After a SIGKILL the new process may have to wait for the dead holder's lease to expire
# before it becomes active and opens its port.
RESTART_AFTER_CRASH_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
ANCHOR = os.environ.get("TANDEM_E2E_ANCHOR")  # "activemq": run the tests against ActiveMQ
SERVER_PREFIX = "ActiveMQ/" if ANCHOR == "activemq" else "Tandem/"

# Every broker started in this process, so a watchdog can kill them all by PID.
_live_brokers = set()
_live_lock = threading.Lock()


def broker_binary():
    bin_dir = os.environ.get("TANDEM_BIN_DIR")
    if not bin_dir:
        raise RuntimeError("TANDEM_BIN_DIR is not set (the CMake build directory)")
    path = os.path.join(bin_dir, "broker", "tandem-broker")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"no tandem-broker executable at {path}")
    return path


_handed_out = collections.deque(maxlen=256)  # ports free_port() returned lately


def free_port():
    """A TCP port that was free a moment ago (bind to 0, read it, close), and not one this
    process was handed lately: the kernel may offer a just-closed port again at once, and a
    config asking for two ports (STOMP and HA) would then name the same one twice."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.append(port)
            return port
    raise AssertionError("no free TCP port on 127.0.0.1 that was not handed out lately")


def wait_until(predicate, timeout=DEFAULT_TIMEOUT, interval=0.02, what="condition"):
    """Polls `predicate` until it returns a truthy value; raises AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def _deep_merge(base, overrides):
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def _yaml_scalar(item):
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, (int, float)):
        return str(item)
    escaped = str(item).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def to_yaml(value, indent=0):
    """A tiny YAML writer for nested dicts of scalars (strings are written as quoted scalars),
    lists of scalars (flow style) and lists of dicts (block style, e.g. security.users)."""
    lines = []
    pad = "  " * indent
    for key, item in value.items():
        if isinstance(item, dict):
            lines.append(f"{pad}{key}:")
            lines.append(to_yaml(item, indent + 1))
        elif isinstance(item, (list, tuple)) and any(isinstance(x, dict) for x in item):
            lines.append(f"{pad}{key}:")
            for x in item:
                body = to_yaml(x, indent + 2).split("\n")
                lines.append(f"{pad}  - {body[0].lstrip()}")
                lines.extend(body[1:])
        elif isinstance(item, (list, tuple)):
            lines.append(f"{pad}{key}: [{', '.join(_yaml_scalar(x) for x in item)}]")
        else:
            lines.append(f"{pad}{key}: {_yaml_scalar(item)}")
    return "\n".join(lines)


# --- security.users (auth/password.h, broker/ADMIN_API.md) -----------------------------------

# The least the broker accepts; a quick hash keeps tests fast. The login storm test uses the
# default (100,000) to exercise the real cost.
TEST_HASH_ITERATIONS = 10000


def hash_password(password, iterations=TEST_HASH_ITERATIONS):
    """A `password_hash` for security.users: pbkdf2-sha256$ITERATIONS$SALT$HASH with a random
    16-byte salt, standard base64 (the format `tandem-ctl hash-password` prints)."""
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return (f"pbkdf2-sha256${iterations}${base64.b64encode(salt).decode()}$"
            f"{base64.b64encode(digest).decode()}")


def user(name, password, role=None, read=(), write=(), iterations=TEST_HASH_ITERATIONS):
    """One entry of security.users."""
    u = {"name": name, "password_hash": hash_password(password, iterations)}
    if role:
        u["role"] = role
    if read or write:
        u["permissions"] = {"read": list(read), "write": list(write)}
    return u


def security(*users, enabled=True):
    """A `security` config section: start_broker(security=th.security(th.user(...), ...))."""
    return {"enabled": enabled, "users": list(users)}


def _die_with_parent():
    # Runs in the child between fork and exec: if the test process dies (even by SIGKILL),
    # the kernel kills the broker too, so no broker outlives its test run.
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


class Broker:
    """One tandem-broker process with its own config, storage directory and log file.

    Start/restart must be called from the test's main thread (the child is tied to the thread
    that forked it); kill9() may be called from any thread.
    """

    def __init__(self, workdir, overrides=None, name="e2e", http=False, env=None):
        """`http`: also serve HTTP (the admin API, /metrics) on a free port, self.http_port.
        `env`: variables added to the broker's environment."""
        self.workdir = str(workdir)
        self.env = dict(os.environ, **(env or {}))
        self.storage_dir = os.path.join(self.workdir, "storage")
        os.makedirs(self.storage_dir, exist_ok=True)
        self.port = free_port()
        self.host = "127.0.0.1"
        cfg = {
            "node": {"name": name},
            "storage": {"path": self.storage_dir},
            # The HA listener lets a restart after kill9() recognise its own stale lease at
            # once (it holds the port the lease record names) instead of waiting the ttl.
            "listeners": {"stomp": f"{self.host}:{self.port}", "ha": f"{self.host}:{free_port()}"},
        }
        if http:
            self.http_port = free_port()
            cfg["listeners"]["http"] = f"{self.host}:{self.http_port}"
        _deep_merge(cfg, overrides or {})
        self.config = cfg
        self.config_path = os.path.join(self.workdir, "broker.yaml")
        with open(self.config_path, "w") as f:
            f.write(to_yaml(cfg) + "\n")
        self.log_path = os.path.join(self.workdir, "broker.log")
        self.proc = None
        self.starts = 0
        self.exit_codes = []  # (how it was stopped, returncode) for every process that ended
        self._expected_exit = False

    # ----- lifecycle -----

    @property
    def host_and_port(self):
        return (self.host, self.port)

    def start(self, timeout=START_TIMEOUT):
        assert self.proc is None or self.proc.poll() is not None, "broker already running"
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"\n===== tandem-harness: start #{self.starts} =====\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            self._command(),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=self.workdir, env=self.env, preexec_fn=_die_with_parent)
        log.close()
        self._expected_exit = False
        with _live_lock:
            _live_brokers.add(self)
        self._wait_accepting(timeout)
        return self

    def _command(self):
        if ANCHOR == "activemq":
            return _activemq_command(self)
        return [broker_binary(), "--config", self.config_path, "--log-level", "debug"]

    def _wait_accepting(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            code = self.proc.poll()
            if code is not None:
                self._record_exit("died at start", code)
                raise AssertionError(
                    f"tandem-broker exited with code {code} before accepting on port {self.port}\n"
                    f"--- config ---\n{to_yaml(self.config)}\n--- log tail ---\n{self.log_tail()}")
            try:
                with socket.create_connection(self.host_and_port, timeout=0.5):
                    return
            except OSError:
                pass
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"tandem-broker (pid {self.proc.pid}) did not accept on port {self.port} "
                    f"within {timeout:.0f}s\n--- log tail ---\n{self.log_tail()}")
            time.sleep(0.05)

    def _record_exit(self, how, code):
        self.exit_codes.append((how, code))
        with _live_lock:
            _live_brokers.discard(self)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit code of the SIGTERM
        (None if it had to be SIGKILLed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            if not self.exit_codes or self.exit_codes[-1][1] != self.proc.returncode:
                self._record_exit("had already exited", self.proc.returncode)
            return self.proc.returncode
        self._expected_exit = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
            self._record_exit("SIGTERM", code)
            return code
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=timeout)
            self._record_exit("SIGTERM timed out, SIGKILL", code)
            return None

    def kill9(self):
        """SIGKILL the broker (a crash); safe to call from another thread."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        self._expected_exit = True
        proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=STOP_TIMEOUT)
        self._record_exit("SIGKILL", code)

    def restart(self, after_crash=None):
        """Stops the broker if it runs (SIGTERM) and starts it again on the same config,
        port and storage directory."""
        if self.running():
            self.terminate()
        crashed = after_crash if after_crash is not None else (
            bool(self.exit_codes) and self.exit_codes[-1][0] != "SIGTERM")
        return self.start(timeout=RESTART_AFTER_CRASH_TIMEOUT if crashed else START_TIMEOUT)

    def died_unexpectedly(self):
        """The returncode if the process exited without the harness asking it to."""
        if self.proc is not None and self.proc.poll() is not None and not self._expected_exit:
            return self.proc.returncode
        return None

    # ----- logs -----

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=60):
        return "\n".join(self.log_text().splitlines()[-lines:])

    # ----- clients -----

    def client(self, version="1.1", **kwargs):
        """A connected stomp.py client (see Client)."""
        c = Client(self, version=version, **kwargs)
        c.connect()
        return c

    def raw(self, timeout=DEFAULT_TIMEOUT):
        return RawClient(self.host_and_port, timeout=timeout)

    def api(self, **kwargs):
        """An Api client for this broker's HTTP listener (see Api)."""
        return Api(self.http_port, **kwargs)


_ACTIVEMQ_XML = """<beans xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans
    http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
    http://activemq.apache.org/schema/core
    http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" useJmx="false" brokerName="anchor"
          dataDirectory="{data}">
    <persistenceAdapter><kahaDB directory="{data}/kahadb"/></persistenceAdapter>
    <transportConnectors>
      <transportConnector name="stomp" uri="stomp://{host}:{port}"/>
    </transportConnectors>
  </broker>
</beans>
"""


def _activemq_command(broker):
    """Anchor mode (TANDEM_E2E_ANCHOR=activemq): run Debian's ActiveMQ 5.17 instead of Tandem,
    to check the tests themselves against an established broker. Only the listener and the
    storage directory are mapped; Tandem-specific overrides are ignored."""
    xml = os.path.join(broker.workdir, "activemq.xml")
    with open(xml, "w") as f:
        f.write(_ACTIVEMQ_XML.format(data=broker.storage_dir, host=broker.host, port=broker.port))
    return ["java", "-Xmx256m", "-Dactivemq.home=/usr/share/activemq",
            f"-Dactivemq.base={broker.workdir}", f"-Dactivemq.conf={broker.workdir}",
            f"-Dactivemq.data={broker.storage_dir}", "-jar",
            "/usr/share/activemq/bin/activemq.jar", "start", f"xbean:file:{xml}"]


def kill_all_brokers():
    """Watchdog use only: SIGKILL every broker this process started, by PID."""
    with _live_lock:
        brokers = list(_live_brokers)
    for b in brokers:
        try:
            b.kill9()
        except Exception:
            pass


class Collector(stomp.ConnectionListener):
    """Collects everything a stomp.py connection receives, with bounded waits."""

    def __init__(self):
        self.cond = threading.Condition()
        self.messages = []
        self.receipts = []
        self.errors = []
        self.connected_frame = None
        self.disconnected = False
        self.heartbeats = 0

    def _add(self, fn):
        with self.cond:
            fn()
            self.cond.notify_all()

    def on_connected(self, frame):
        self._add(lambda: setattr(self, "connected_frame", frame))

    def on_message(self, frame):
        self._add(lambda: self.messages.append(frame))

    def on_receipt(self, frame):
        self._add(lambda: self.receipts.append(frame.headers.get("receipt-id")))

    def on_error(self, frame):
        self._add(lambda: self.errors.append(frame))

    def on_disconnected(self):
        self._add(lambda: setattr(self, "disconnected", True))

    def on_heartbeat(self):
        self._add(lambda: setattr(self, "heartbeats", self.heartbeats + 1))

    def wait(self, predicate, timeout=DEFAULT_TIMEOUT, what="condition"):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"timed out after {timeout:.1f}s waiting for {what}; got "
                        f"{len(self.messages)} messages {self.bodies()[:20]}, "
                        f"receipts {self.receipts[-10:]}, errors {[e.headers for e in self.errors]}, "
                        f"disconnected={self.disconnected}")
                self.cond.wait(min(remaining, 0.2))

    def wait_for(self, n, timeout=DEFAULT_TIMEOUT):
        """Waits until at least n messages arrived; returns a copy of all received so far."""
        self.wait(lambda: len(self.messages) >= n, timeout, f"{n} messages")
        with self.cond:
            return list(self.messages)

    def wait_for_body(self, body, timeout=DEFAULT_TIMEOUT):
        self.wait(lambda: body in self.bodies(), timeout, f"message {body!r}")
        with self.cond:
            return list(self.messages)

    def wait_receipt(self, receipt_id, timeout=DEFAULT_TIMEOUT):
        # A closed connection will never bring the receipt: fail at once rather than at timeout.
        self.wait(lambda: receipt_id in self.receipts or self.disconnected, timeout,
                  f"RECEIPT {receipt_id}")
        with self.cond:
            if receipt_id not in self.receipts:
                raise AssertionError(
                    f"connection closed without RECEIPT {receipt_id}; errors "
                    f"{[e.headers for e in self.errors]}")

    def wait_error(self, timeout=DEFAULT_TIMEOUT):
        self.wait(lambda: self.errors, timeout, "an ERROR frame")
        return self.errors[0]

    def wait_disconnected(self, timeout=DEFAULT_TIMEOUT):
        self.wait(lambda: self.disconnected, timeout, "the connection to close")

    def bodies(self):
        return [m.body for m in self.messages]


_receipt_counter = [0]
_receipt_lock = threading.Lock()


def next_receipt(prefix="r"):
    with _receipt_lock:
        _receipt_counter[0] += 1
        return f"{prefix}-{_receipt_counter[0]}"


class Client:
    """A stomp.py connection used the way an application would use it, plus a Collector.

    `conn` is the plain stomp.py connection; the helper methods only add bounded waits for
    receipts and version-specific ACK headers.
    """

    CLASSES = {"1.0": stomp.Connection10, "1.1": stomp.Connection11, "1.2": stomp.Connection12}

    def __init__(self, broker, version="1.1", client_id=None, heartbeats=(0, 0),
                 auto_decode=True, headers=None, login=None, passcode=None):
        self.version = version
        cls = self.CLASSES[version]
        kwargs = dict(reconnect_attempts_max=1, auto_decode=auto_decode)
        if version != "1.0":
            kwargs["heartbeats"] = heartbeats
        self.conn = cls([broker.host_and_port], **kwargs)
        self.listener = Collector()
        self.conn.set_listener("collector", self.listener)
        self.connect_headers = dict(headers or {})
        if client_id:
            self.connect_headers["client-id"] = client_id
        if login is not None:
            self.connect_headers["login"] = login
        if passcode is not None:
            self.connect_headers["passcode"] = passcode

    def connect(self, timeout=DEFAULT_TIMEOUT):
        self.conn.connect(wait=False, headers=dict(self.connect_headers))
        self.listener.wait(lambda: self.listener.connected_frame is not None or self.listener.errors
                           or self.listener.disconnected, timeout, "CONNECTED")
        if self.listener.connected_frame is None:
            raise AssertionError(f"connect failed: errors={[e.headers for e in self.listener.errors]}")
        return self.listener.connected_frame

    # --- sending ---
    def send(self, destination, body, persistent=None, headers=None, receipt=True,
             timeout=DEFAULT_TIMEOUT):
        """Sends; with receipt=True waits for the RECEIPT and returns its id."""
        h = dict(headers or {})
        if persistent is not None:
            h["persistent"] = "true" if persistent else "false"
        rid = next_receipt("send") if receipt else None
        if rid:
            self.conn.send(destination, body, headers=h, receipt=rid)
            self.listener.wait_receipt(rid, timeout)
        else:
            self.conn.send(destination, body, headers=h)
        return rid

    def subscribe(self, destination, sub_id="1", ack="auto", headers=None, receipt=True):
        rid = next_receipt("sub") if receipt else None
        h = dict(headers or {})
        if rid:
            h["receipt"] = rid
        self.conn.subscribe(destination, sub_id, ack=ack, headers=h)
        if rid:
            self.listener.wait_receipt(rid)

    def unsubscribe(self, sub_id="1", headers=None, receipt=True):
        rid = next_receipt("unsub") if receipt else None
        h = dict(headers or {})
        if rid:
            h["receipt"] = rid
        self.conn.unsubscribe(sub_id, headers=h)
        if rid:
            self.listener.wait_receipt(rid)

    # --- acknowledging ---
    def ack(self, frame, transaction=None, receipt=True):
        rid = next_receipt("ack") if receipt else None
        h = frame.headers
        if self.version == "1.2":
            self.conn.ack(h["ack"], transaction=transaction, receipt=rid)
        elif self.version == "1.1":
            self.conn.ack(h["message-id"], h["subscription"], transaction=transaction, receipt=rid)
        else:
            self.conn.ack(h["message-id"], transaction=transaction, receipt=rid)
        if rid:
            self.listener.wait_receipt(rid)

    def nack(self, frame, transaction=None, receipt=True):
        rid = next_receipt("nack") if receipt else None
        h = frame.headers
        if self.version == "1.2":
            self.conn.nack(h["ack"], transaction=transaction, receipt=rid)
        else:
            self.conn.nack(h["message-id"], h["subscription"], transaction=transaction, receipt=rid)
        if rid:
            self.listener.wait_receipt(rid)

    # --- transactions ---
    def begin(self, tx, receipt=True):
        rid = next_receipt("begin") if receipt else None
        self.conn.begin(tx, headers={"receipt": rid} if rid else None)
        if rid:
            self.listener.wait_receipt(rid)

    def commit(self, tx, receipt=True):
        rid = next_receipt("commit") if receipt else None
        self.conn.commit(tx, headers={"receipt": rid} if rid else None)
        if rid:
            self.listener.wait_receipt(rid)

    def abort(self, tx, receipt=True):
        rid = next_receipt("abort") if receipt else None
        self.conn.abort(tx, headers={"receipt": rid} if rid else None)
        if rid:
            self.listener.wait_receipt(rid)

    # --- closing ---
    def disconnect(self, timeout=DEFAULT_TIMEOUT):
        """Graceful DISCONNECT with a receipt (waits for it, then the socket is closed)."""
        if not self.conn.is_connected():
            self.drop()
            return
        rid = next_receipt("disc")
        self.conn.disconnect(receipt=rid)
        self.listener.wait_receipt(rid, timeout)

    def drop(self):
        """Closes the socket without DISCONNECT, like a crashed application."""
        try:
            self.conn.transport.disconnect_socket()
        except Exception:
            pass
        try:
            self.conn.transport.stop()
        except Exception:
            pass

    def close_quietly(self):
        try:
            if self.conn.is_connected():
                self.conn.disconnect()
                # stomp.py's receiver thread closes the socket itself after DISCONNECT; closing it
                # here at the same time races inside OpenSSL on a TLS socket (and can crash the
                # interpreter), so let that thread finish first.
                self.listener.wait_disconnected(timeout=5)
        except Exception:
            pass
        self.drop()


# ---------------------------------------------------------------------------------------------
# Raw sockets


class Frame:
    def __init__(self, command, headers, body):
        self.command = command
        self.header_list = headers  # [(key, value)] in wire order, values not unescaped
        self.body = body  # bytes

    def get(self, key, default=None):
        for k, v in self.header_list:
            if k == key:
                return v
        return default

    @property
    def headers(self):
        d = {}
        for k, v in self.header_list:
            d.setdefault(k, v)
        return d

    def __repr__(self):
        return f"Frame({self.command!r}, {self.header_list!r}, {self.body[:80]!r})"


class ConnectionClosed(Exception):
    pass


def encode_frame(command, headers=(), body=b"", content_length=None):
    """Builds frame bytes. `headers` is a list of (key, value) or a dict, written verbatim
    (no escaping). content_length=True adds a content-length header for the body."""
    if isinstance(headers, dict):
        headers = list(headers.items())
    if isinstance(body, str):
        body = body.encode()
    lines = [command]
    for k, v in headers:
        lines.append(f"{k}:{v}")
    if content_length:
        lines.append(f"content-length:{len(body)}")
    return ("\n".join(lines) + "\n\n").encode() + body + b"\x00"


_UNESCAPES = {"\\n": "\n", "\\r": "\r", "\\c": ":", "\\\\": "\\"}


def unescape(value):
    return re.sub(r"\\.", lambda m: _UNESCAPES.get(m.group(0), m.group(0)), value)


class RawClient:
    """A plain TCP socket speaking STOMP by hand, for malformed input and exact byte checks."""

    def __init__(self, host_and_port, timeout=DEFAULT_TIMEOUT):
        self.sock = socket.create_connection(host_and_port, timeout=timeout)
        self.buf = b""
        self.eof = False
        self.heartbeats = 0  # EOLs received between frames

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, command, headers=(), body=b"", content_length=None):
        self.send_raw(encode_frame(command, headers, body, content_length))

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for data from the broker")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("timed out waiting for data from the broker")
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
            raise ConnectionClosed()
        self.buf += chunk

    def read_frame(self, timeout=DEFAULT_TIMEOUT):
        """The next frame (heart-beat EOLs are counted and skipped). Raises ConnectionClosed
        at EOF and TimeoutError after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            # Skip heart-beats / EOLs between frames.
            while self.buf[:1] in (b"\n", b"\r"):
                if self.buf[:2] == b"\r\n":
                    self.buf = self.buf[2:]
                elif self.buf[:1] == b"\r":
                    if len(self.buf) < 2:
                        break
                    self.buf = self.buf[1:]
                else:
                    self.buf = self.buf[1:]
                self.heartbeats += 1
            end = self.buf.find(b"\n\n")
            end_crlf = self.buf.find(b"\r\n\r\n")
            if end_crlf != -1 and (end == -1 or end_crlf < end):
                head, body_start = self.buf[:end_crlf], end_crlf + 4
            elif end != -1:
                head, body_start = self.buf[:end], end + 2
            else:
                self._fill(deadline)
                continue
            lines = head.decode("utf-8", errors="replace").replace("\r\n", "\n").split("\n")
            command, headers = lines[0], []
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers.append((k, v))
            length = None
            for k, v in headers:
                if k == "content-length":
                    length = int(v)
                    break
            if length is not None:
                if len(self.buf) < body_start + length + 1:
                    self._fill(deadline)
                    continue
                body = self.buf[body_start:body_start + length]
                rest = body_start + length + 1
            else:
                nul = self.buf.find(b"\x00", body_start)
                if nul == -1:
                    self._fill(deadline)
                    continue
                body = self.buf[body_start:nul]
                rest = nul + 1
            self.buf = self.buf[rest:]
            return Frame(command, headers, body)

    def read_until_closed(self, timeout=DEFAULT_TIMEOUT):
        """Reads frames until the broker closes the connection; returns them. Raises
        TimeoutError if the connection is still open after `timeout`."""
        deadline = time.monotonic() + timeout
        frames = []
        while True:
            try:
                frames.append(self.read_frame(timeout=max(0.0, deadline - time.monotonic())))
            except ConnectionClosed:
                return frames
            except TimeoutError:
                raise AssertionError(
                    f"the broker did not close the connection within {timeout:.0f}s; frames "
                    f"received before that: {frames!r}; unparsed bytes: {self.buf[:200]!r}")

    def connect(self, version="1.2", headers=None, command="CONNECT", timeout=DEFAULT_TIMEOUT):
        h = [("accept-version", version), ("host", "localhost")]
        h += list((headers or {}).items())
        self.send_frame(command, h)
        return self.read_frame(timeout)


# ---------------------------------------------------------------------------------------------
# The admin API (broker/ADMIN_API.md)


class ApiResponse:
    def __init__(self, status, headers, text):
        self.status = status
        self.headers = headers  # {lower-case name: value}
        self.text = text

    @property
    def json(self):
        return json.loads(self.text)

    def __repr__(self):
        return f"ApiResponse({self.status}, {self.text[:300]!r})"


class Api:
    """An HTTP client of one node's admin API: JSON in and out, HTTP Basic credentials or the
    console's session cookie, plain HTTP or HTTPS (verified against `ca_file`).

    Requests that change anything (POST, PUT, DELETE) carry `X-Tandem-Request: 1`, the API's
    cross-site request guard, unless `guard_header=False`; `console=True` sends it on every
    request, as the console does (then a 401 has no Basic challenge). `source` binds the client
    to a local address (e.g. "127.0.0.2"), to look like another client."""

    def __init__(self, port, host="127.0.0.1", user=None, password=None, https=False, ca_file=None,
                 console=False, timeout=10.0, guard_header=True, source=None):
        self.host, self.port, self.https, self.timeout = host, port, https, timeout
        self.user, self.password = user, password
        self.ca_file = ca_file
        self.console = console
        self.guard_header = guard_header
        self.source = (source, 0) if source else None
        self.cookie = None

    def _connection(self):
        if self.https:
            ctx = ssl.create_default_context(cafile=self.ca_file)
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=ctx,
                                               source_address=self.source)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout, source_address=self.source)

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        if method in ("POST", "PUT", "DELETE"):
            h.setdefault("Content-Length", str(len(data.encode() if isinstance(data, str) else data or b"")))
        if self.user is not None:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            h.setdefault("Authorization", f"Basic {token}")
        if self.cookie:
            h.setdefault("Cookie", self.cookie)
        if self.console or (self.guard_header and method in ("POST", "PUT", "DELETE")):
            h.setdefault("X-Tandem-Request", "1")
        c = self._connection()
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            text = r.read().decode("utf-8", errors="replace")
            return ApiResponse(r.status, {k.lower(): v for k, v in r.getheaders()}, text)
        finally:
            c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else b"", **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def ok(self, method, path, body=None, status=200):
        """The JSON of a request that must answer `status`."""
        r = self.request(method, path, body)
        assert r.status == status, f"{method} {path} answered {r.status}, expected {status}: {r.text}"
        return r.json

    def login(self, user, password):
        """POST /api/v1/login; keeps the session cookie for later requests."""
        r = self.post("/api/v1/login", {"user": user, "password": password})
        if r.status == 200 and "set-cookie" in r.headers:
            self.cookie = r.headers["set-cookie"].split(";", 1)[0]
        return r

    def metrics(self):
        """GET /metrics parsed by prometheus_client's own parser: {family name: Metric}."""
        from prometheus_client.parser import text_string_to_metric_families
        r = self.get("/metrics")
        assert r.status == 200, f"/metrics answered {r.status}: {r.text}"
        assert r.headers.get("content-type", "").startswith("text/plain; version=0.0.4")
        return {f.name: f for f in text_string_to_metric_families(r.text)}


def sample_value(families, name, labels=None):
    """The value of the sample `name` (with exactly `labels`) in parsed /metrics, or None.
    Looks in every family: a counter's samples keep their _total, a histogram's their
    _bucket/_sum/_count, while the family names drop them."""
    for fam in families.values():
        for s in fam.samples:
            if s.name == name and s.labels == (labels or {}):
                return s.value
    return None


def drain_queue(broker, clients, destination, expect_at_least=0, timeout=30):
    """Consumes a queue until a sentinel sent now comes back; returns the bodies before it.

    FIFO order means everything queued before the sentinel arrives before it.
    """
    consumer = clients.new(broker)
    consumer.subscribe(destination, "drain")
    if expect_at_least:
        consumer.listener.wait_for(expect_at_least, timeout=timeout)
    clients.new(broker).send(destination, "SENTINEL")
    msgs = consumer.listener.wait_for_body("SENTINEL", timeout=timeout)
    consumer.disconnect()
    bodies = [m.body for m in msgs]
    return bodies[:bodies.index("SENTINEL")]

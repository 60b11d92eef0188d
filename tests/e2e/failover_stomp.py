"""A small failover-aware STOMP producer and consumer for the HA tests and the switchover drill.

Both know every endpoint of the pair and fail over by themselves (raw sockets, STOMP 1.2):

- `FailoverProducer` sends persistent messages with receipts and message-ids `PRODUCER:N`
  (the broker's duplicate detection key). When the connection breaks it reconnects to whichever
  endpoint accepts and re-sends, in order and with the same message-id, every message that had
  no receipt yet.
- `FailoverConsumer` subscribes with `ack:client-individual`, acks every message with a receipt
  and reconnects on failure. Because acks carry receipts it can tell a *redelivery* (a message
  seen again whose ack was never confirmed: allowed after a failover) from a *duplicate* (a
  message delivered again after the broker confirmed its ack, or a message-id stored twice).

`account(producer, consumer)` gives the numbers a test asserts and the drill prints: sent,
receipted, delivered (distinct message-ids), redelivered, duplicated, lost (receipted but never
delivered after the final drain).

Every wait is bounded; threads are daemons and stop on `stop()`.
"""

import re
import socket
import threading
import time

CONNECT_TIMEOUT = 1.0
# The client asks the broker for a heart-beat every HEARTBEAT_MS and treats a connection that
# stayed silent for HEARTBEAT_MS * SILENCE_FACTOR as dead: a frozen (SIGSTOPped) broker keeps
# its TCP connections open, so without this a client would wait on it forever.
HEARTBEAT_MS = 250
SILENCE_FACTOR = 3


class _Closed(Exception):
    pass


_ESC = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", ":": "\\c"}
_UNESC = {"\\\\": "\\", "\\n": "\n", "\\r": "\r", "\\c": ":"}


def _escape(value):
    return "".join(_ESC.get(ch, ch) for ch in str(value))


def _unescape(value):
    return re.sub(r"\\.", lambda m: _UNESC.get(m.group(0), m.group(0)), value)


def _encode(command, headers, body=b""):
    """A STOMP 1.2 frame; header values escaped (':' -> '\\c', as 1.2 requires)."""
    if isinstance(body, str):
        body = body.encode()
    head = command + "\n" + "".join(f"{k}:{_escape(v)}\n" for k, v in headers) + "\n"
    return head.encode() + body + b"\x00"


class _Conn:
    """One STOMP 1.2 connection: blocking writes, a frame reader for a reader thread."""

    def __init__(self, endpoint, login_headers=(), connect_timeout=CONNECT_TIMEOUT):
        self.endpoint = endpoint
        self.opened_at = time.monotonic()
        self.sock = socket.create_connection(endpoint, timeout=connect_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.wlock = threading.Lock()
        self.closed = False
        self.write(_encode("CONNECT", [("accept-version", "1.2"), ("host", "localhost"),
                                       ("heart-beat", f"0,{HEARTBEAT_MS}")] + list(login_headers)))
        try:
            frame = self.read_frame(deadline=time.monotonic() + connect_timeout)
        except _Closed:
            self.close()
            raise
        if frame[0] != "CONNECTED":
            self.close()
            raise _Closed(f"expected CONNECTED, got {frame[0]} {frame[1]}")
        # heart-beat:sx,sy from the broker: it sends every max(sy, our HEARTBEAT_MS) ms.
        try:
            server_sends = int(frame[1].get("heart-beat", "0,0").split(",")[0])
        except ValueError:
            server_sends = 0
        self.silence_s = max(server_sends, HEARTBEAT_MS) * SILENCE_FACTOR / 1000 if server_sends else None
        self.sock.settimeout(self.silence_s)

    def write(self, data):
        with self.wlock:
            if self.closed:
                raise _Closed("closed")
            try:
                self.sock.sendall(data)
            except OSError as e:
                raise _Closed(str(e))

    def send_frame(self, command, headers, body=b""):
        self.write(_encode(command, headers, body))

    def _fill(self, deadline):
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Closed("timed out")
            self.sock.settimeout(remaining)
        # Otherwise the socket's timeout is the heart-beat silence bound (None: none agreed).
        try:
            chunk = self.sock.recv(262144)
        except (socket.timeout, OSError) as e:
            raise _Closed(str(e))
        if not chunk:
            raise _Closed("EOF")
        self.buf += chunk

    def read_frame(self, deadline=None):
        """(command, headers dict, body bytes); raises _Closed on EOF/error/deadline."""
        while True:
            self.buf = self.buf.lstrip(b"\r\n")
            end = self.buf.find(b"\n\n")
            if end == -1:
                self._fill(deadline)
                continue
            lines = self.buf[:end].decode("utf-8", errors="replace").split("\n")
            headers = {}
            for line in lines[1:]:
                k, _, v = line.rstrip("\r").partition(":")
                headers.setdefault(k, _unescape(v) if lines[0].strip() != "CONNECTED" else v)
            start = end + 2
            if "content-length" in headers:
                n = int(headers["content-length"])
                if len(self.buf) < start + n + 1:
                    self._fill(deadline)
                    continue
                body, rest = self.buf[start:start + n], start + n + 1
            else:
                nul = self.buf.find(b"\x00", start)
                if nul == -1:
                    self._fill(deadline)
                    continue
                body, rest = self.buf[start:nul], nul + 1
            self.buf = self.buf[rest:]
            return lines[0].strip(), headers, body

    def close(self):
        with self.wlock:
            self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def connect_any(endpoints, stop_event, give_up_after=60.0, last=None):
    """Tries the endpoints in turn, starting after `last` (the one that just failed), until one
    answers CONNECTED; None if stopped or given up."""
    deadline = time.monotonic() + give_up_after
    i = endpoints.index(last) + 1 if last in endpoints else 0
    while not stop_event.is_set() and time.monotonic() < deadline:
        ep = endpoints[i % len(endpoints)]
        i += 1
        try:
            return _Conn(ep)
        except (OSError, _Closed):
            if i % len(endpoints) == 0:
                stop_event.wait(0.02)
    return None


class FailoverProducer:
    """Sends `count` messages (None = until stopped) at `rate` per second to `destination`."""

    def __init__(self, endpoints, destination, producer_id, rate=500, count=None, body_bytes=64,
                 window=2000):
        self.endpoints = list(endpoints)
        self.destination = destination
        self.producer_id = producer_id
        self.rate = rate
        self.count = count
        self.body_pad = b"x" * max(0, body_bytes)
        self.window = window
        self.lock = threading.Condition()
        self.sent = 0                 # distinct messages sent at least once
        self.resent = 0               # SEND frames repeated after a reconnect
        self.receipted = set()        # sequence numbers with a RECEIPT
        self.unreceipted = {}         # seq -> True, in send order
        self.receipt_log = []         # (monotonic time, seq, conn opened_at, endpoint)
        self.connections = []         # (opened_at, endpoint)
        self.errors = []              # ERROR frames (headers)
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._conn = None
        self._thread = None

    def message_id(self, seq):
        return f"{self.producer_id}:{seq}"

    # ----- control -----
    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True, name="producer")
        self._thread.start()
        return self

    def stop_sending(self):
        """Stops sending new messages; unreceipted ones are still re-sent until receipted."""
        with self.lock:
            self.count = self.sent
            self.lock.notify_all()

    def wait_all_receipted(self, timeout):
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.unreceipted or (self.count is None or self.sent < self.count):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.lock.wait(min(remaining, 0.2))
        return True

    def wait_receipts(self, n, timeout):
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.receipted) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.lock.wait(min(remaining, 0.2))
        return True

    def first_receipt_after(self, t):
        """Monotonic time of the first receipt on a connection opened after t (None if none)."""
        with self.lock:
            for when, _, opened, _ in self.receipt_log:
                if when >= t and opened >= t:
                    return when
        return None

    def stop(self):
        self._stop.set()
        with self.lock:
            self.lock.notify_all()
        conn = self._conn
        if conn:
            conn.close()
        if self._thread:
            self._thread.join(10)

    # ----- work -----
    def _send(self, conn, seq):
        body = self.message_id(seq).encode() + b" " + self.body_pad
        conn.send_frame("SEND", [("destination", self.destination), ("persistent", "true"),
                                 ("message-id", self.message_id(seq)), ("receipt", str(seq)),
                                 ("content-type", "text/plain"), ("content-length", len(body))],
                        body)

    def _reader(self, conn):
        try:
            while True:
                command, headers, _ = conn.read_frame()
                if command == "RECEIPT":
                    seq = int(headers.get("receipt-id", "-1"))
                    now = time.monotonic()
                    with self.lock:
                        if seq in self.unreceipted:
                            del self.unreceipted[seq]
                        self.receipted.add(seq)
                        self.receipt_log.append((now, seq, conn.opened_at, conn.endpoint))
                        self.lock.notify_all()
                elif command == "ERROR":
                    with self.lock:
                        self.errors.append(headers)
                    break
        except _Closed:
            pass
        conn.close()

    def _run(self):
        start = time.monotonic()
        last = None
        while not self._stop.is_set():
            conn = connect_any(self.endpoints, self._stop, last=last)
            if conn is None:
                return
            self._conn, last = conn, conn.endpoint
            with self.lock:
                self.connections.append((conn.opened_at, conn.endpoint))
                pending = list(self.unreceipted)
            reader = threading.Thread(target=self._reader, args=(conn,), daemon=True)
            reader.start()
            try:
                for seq in pending:  # in-doubt sends: same message-id, the broker dedups
                    self._send(conn, seq)
                    with self.lock:
                        self.resent += 1
                while not self._stop.is_set() and not conn.closed:
                    with self.lock:
                        if self.count is not None and self.sent >= self.count:
                            self.lock.wait(0.1)
                            continue
                        if len(self.unreceipted) >= self.window:
                            self.lock.wait(0.05)
                            continue
                        seq = self.sent + 1
                    due = start + seq / self.rate if self.rate else 0
                    delay = due - time.monotonic()
                    if delay > 0:
                        self._stop.wait(min(delay, 0.05))
                        if delay > 0.05:
                            continue
                    with self.lock:
                        if seq != self.sent + 1 or (self.count is not None and seq > self.count):
                            continue  # stop_sending() ran meanwhile
                        self.unreceipted[seq] = True
                        self.sent = seq
                    self._send(conn, seq)
            except _Closed:
                pass
            conn.close()
            reader.join(5)


class FailoverConsumer:
    """Consumes `destination` with client-individual acks (each with a receipt)."""

    def __init__(self, endpoints, destination, prefetch=100):
        self.endpoints = list(endpoints)
        self.destination = destination
        self.prefetch = prefetch
        self.lock = threading.Condition()
        self.delivered = {}        # message-id -> times delivered
        self.acked = set()         # message-ids whose ACK was receipted
        self.redelivered = 0       # seen again, ack not confirmed before
        self.duplicates = []       # seen again after its ack was confirmed
        self.connections = []
        self._ack_receipts = {}    # receipt id -> message-id
        self._ack_counter = 0
        self._stop = threading.Event()
        self._conn = None
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True, name="consumer")
        self._thread.start()
        return self

    def wait_delivered(self, ids, timeout):
        """Waits until every id in `ids` was delivered at least once. (Not until its ack is
        confirmed: an ack whose receipt died with the old active may have been applied, and
        then the message is rightly never delivered again.)"""
        ids = set(ids)
        deadline = time.monotonic() + timeout
        with self.lock:
            while not ids <= self.delivered.keys():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.lock.wait(min(remaining, 0.2))
        return True

    def stop(self):
        self._stop.set()
        conn = self._conn
        if conn:
            conn.close()
        if self._thread:
            self._thread.join(10)

    def _run(self):
        last = None
        while not self._stop.is_set():
            conn = connect_any(self.endpoints, self._stop, last=last)
            if conn is None:
                return
            self._conn, last = conn, conn.endpoint
            with self.lock:
                self.connections.append((conn.opened_at, conn.endpoint))
            try:
                conn.send_frame("SUBSCRIBE", [("destination", self.destination), ("id", "1"),
                                              ("ack", "client-individual"),
                                              ("activemq.prefetchSize", str(self.prefetch))])
                while not self._stop.is_set():
                    command, headers, _ = conn.read_frame()
                    if command == "MESSAGE":
                        self._on_message(conn, headers)
                    elif command == "RECEIPT":
                        with self.lock:
                            mid = self._ack_receipts.pop(headers.get("receipt-id"), None)
                            if mid is not None:
                                self.acked.add(mid)
                                self.lock.notify_all()
                    elif command == "ERROR":
                        break
            except _Closed:
                pass
            conn.close()

    def _on_message(self, conn, headers):
        mid = headers.get("message-id")
        with self.lock:
            n = self.delivered.get(mid, 0)
            if n:
                if mid in self.acked:
                    self.duplicates.append(mid)
                else:
                    self.redelivered += 1
            self.delivered[mid] = n + 1
            self._ack_counter += 1
            rid = f"ack-{self._ack_counter}"
            self._ack_receipts[rid] = mid
            self.lock.notify_all()
        conn.send_frame("ACK", [("id", headers.get("ack", "")), ("receipt", rid)])


def account(producer, consumer):
    """The message accounting of one producer/consumer pair (after a final drain)."""
    with producer.lock:
        receipted = {producer.message_id(s) for s in producer.receipted}
        sent = producer.sent
    with consumer.lock:
        delivered = set(consumer.delivered)
        lost = sorted(receipted - delivered)
        return {
            "sent": sent,
            "receipted": len(receipted),
            "delivered": len(delivered),
            "redelivered": consumer.redelivered,
            "duplicated": len(consumer.duplicates),
            "duplicate_ids": consumer.duplicates[:10],
            "lost": len(lost),
            "lost_ids": lost[:10],
            # Delivered but never receipted: allowed (in-doubt send that was stored), reported.
            "unreceipted_delivered": len(delivered - receipted),
        }

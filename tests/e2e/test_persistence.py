"""Persistence across crashes and restarts, and a clean SIGTERM stop."""

import collections
import threading

import pytest
import stomp

import tandem_harness as th




def test_persistent_messages_survive_sigkill_and_restart(broker, clients):
    producer = clients.new(broker)
    for i in range(20):
        producer.send("/queue/durable", f"p{i}", persistent=True)
    producer.drop()
    broker.kill9()
    broker.restart()
    assert th.drain_queue(broker, clients, "/queue/durable", 20) == [f"p{i}" for i in range(20)]


def test_non_persistent_messages_do_not_survive_a_restart(broker, clients):
    producer = clients.new(broker)
    producer.send("/queue/volatile", "memory-only", persistent=False)
    producer.send("/queue/volatile", "kept", persistent=True)
    producer.disconnect()
    broker.kill9()
    broker.restart()
    assert th.drain_queue(broker, clients, "/queue/volatile", 1) == ["kept"]


@pytest.mark.limit(150)
def test_every_receipted_message_survives_a_crash_during_sending_exactly_once(broker, clients):
    """A producer streams N persistent messages with receipts (a window of W in flight); the
    broker is SIGKILLed once about half are receipted. After a restart every receipted message
    must be delivered exactly once; unreceipted ones may or may not be there, never twice."""
    n, window = 2000, 32
    dest = "/queue/crash"
    receipted = set()
    cond = threading.Condition()

    class ReceiptTracker(stomp.ConnectionListener):
        def on_receipt(self, frame):
            with cond:
                receipted.add(frame.headers["receipt-id"])
                cond.notify_all()

        def on_disconnected(self):
            with cond:
                cond.notify_all()

    conn = stomp.Connection([broker.host_and_port], reconnect_attempts_max=1)
    conn.set_listener("tracker", ReceiptTracker())
    collector = th.Collector()
    conn.set_listener("collector", collector)
    conn.connect(wait=False)
    collector.wait(lambda: collector.connected_frame, what="CONNECTED")

    sent = []
    kill_done = threading.Event()

    def killer():
        with cond:
            cond.wait_for(lambda: len(receipted) >= n // 2 or collector.disconnected, timeout=60)
        broker.kill9()
        kill_done.set()

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    send_error = None
    for i in range(n):
        body = f"c{i:05d}"
        with cond:
            ok = cond.wait_for(lambda: len(sent) - len(receipted) < window or collector.disconnected
                               or kill_done.is_set(), timeout=20)
        if not ok or collector.disconnected or kill_done.is_set():
            break
        try:
            conn.send(dest, body, headers={"persistent": "true"}, receipt=body)
        except Exception as e:  # the connection went away under us: that's the crash
            send_error = e
            break
        sent.append(body)
    t.join(timeout=70)
    assert kill_done.is_set(), "the killer thread never fired"
    try:
        conn.disconnect()
    except Exception:
        pass
    with cond:
        acked = set(receipted)
    assert len(acked) >= n // 2, f"only {len(acked)} receipts before the crash"
    assert len(acked) < n or send_error is None, "sanity"

    broker.restart()
    bodies = th.drain_queue(broker, clients, dest, expect_at_least=len(acked), timeout=60)
    counts = collections.Counter(bodies)
    duplicates = {b: c for b, c in counts.items() if c > 1}
    missing = sorted(acked - set(bodies))
    unknown = set(bodies) - set(sent)
    print(f"sent {len(sent)}, receipted {len(acked)}, delivered after restart {len(bodies)}")
    assert not missing, f"{len(missing)} receipted messages lost, e.g. {missing[:10]}"
    assert not duplicates, f"{len(duplicates)} messages delivered twice, e.g. {list(duplicates)[:10]}"
    assert not unknown, f"messages never sent were delivered: {sorted(unknown)[:10]}"
    assert bodies == sorted(bodies), "order of a single producer's messages is kept"


def test_sigterm_stops_cleanly_and_keeps_persistent_messages(broker, clients):
    producer = clients.new(broker)
    for i in range(10):
        producer.send("/queue/graceful", f"g{i}", persistent=True)
    idle = clients.new(broker)  # a client still connected during the stop
    idle.subscribe("/queue/elsewhere")
    code = broker.terminate()
    assert code == 0, f"SIGTERM exit: {broker.exit_codes[-1]}"
    broker.restart()
    assert th.drain_queue(broker, clients, "/queue/graceful", 10) == [f"g{i}" for i in range(10)]


@pytest.mark.limit(120)
def test_sigterm_during_a_stream_exits_cleanly_and_keeps_every_receipted_message(broker, clients):
    receipted = []
    stop_seen = threading.Event()

    def produce():
        c = th.Client(broker)
        try:
            c.connect()
            for i in range(5000):
                body = f"s{i:05d}"
                c.send("/queue/term-stream", body, persistent=True, timeout=10)
                receipted.append(body)
        except Exception:
            pass
        finally:
            stop_seen.set()
            c.drop()

    t = threading.Thread(target=produce, daemon=True)
    t.start()
    th.wait_until(lambda: len(receipted) >= 300 or stop_seen.is_set(), timeout=60,
                  what="300 receipted sends")
    code = broker.terminate()
    t.join(20)
    assert code == 0, f"SIGTERM under load: {broker.exit_codes[-1]}"
    broker.restart()
    bodies = th.drain_queue(broker, clients, "/queue/term-stream", len(receipted), timeout=60)
    assert not set(receipted) - set(bodies), "receipted messages lost"
    assert len(bodies) == len(set(bodies)), "duplicates"

"""Split brain: the active is frozen (SIGSTOP) longer than the lease ttl, the standby takes over,
then the frozen process resumes.

The resumed process must fence itself before doing anything a client can see: close its STOMP
port and send nothing more on the connections it still holds - no MESSAGE to a subscriber
whose ACK arrived during the freeze, no RECEIPT for a SEND that arrived during the freeze.
Everything receipted before the freeze is delivered by the new active.
"""

import pytest

import pair_harness as ph
import tandem_harness as th

QUEUE = "/queue/ha.split"


def drain(broker_node, n, timeout=20):
    """Consumes from QUEUE on `broker_node` until n messages arrived; returns their bodies."""
    c = th.RawClient(broker_node.host_and_port)
    try:
        assert c.connect("1.2").command == "CONNECTED"
        c.send_frame("SUBSCRIBE", [("destination", QUEUE), ("id", "d"), ("ack", "auto")])
        bodies = []
        while len(bodies) < n:
            f = c.read_frame(timeout)
            assert f.command == "MESSAGE", f
            bodies.append(f.body.decode())
        return bodies
    finally:
        c.close()


@pytest.mark.limit(90)
def test_frozen_active_resumes_fenced_and_sends_nothing_after_the_takeover(start_pair):
    pair = start_pair()
    old = pair.wait_active()
    new = pair.other(old)
    pair.wait_role(new, "standby")
    epoch = old.status()["epoch"]

    # Five messages receipted by the active before the freeze.
    prod = th.RawClient(old.host_and_port)
    assert prod.connect("1.2").command == "CONNECTED"
    for i in range(1, 6):
        prod.send_frame("SEND", [("destination", QUEUE), ("persistent", "true"),
                                 ("receipt", f"before-{i}")], f"before-{i}")
        f = prod.read_frame()
        assert (f.command, f.get("receipt-id")) == ("RECEIPT", f"before-{i}")

    # A subscriber on the active holding one unacked message (prefetch 1): an ACK would make
    # the active dispatch the next message to it.
    sub = th.RawClient(old.host_and_port)
    assert sub.connect("1.2").command == "CONNECTED"
    sub.send_frame("SUBSCRIBE", [("destination", QUEUE), ("id", "s"), ("ack", "client-individual"),
                                 ("activemq.prefetchSize", "1"), ("receipt", "sub")])
    frames = [sub.read_frame(), sub.read_frame()]
    assert sorted(f.command for f in frames) == ["MESSAGE", "RECEIPT"]
    first = next(f for f in frames if f.command == "MESSAGE")
    assert first.body == b"before-1"

    old.sigstop()
    # While frozen: the subscriber acks, the producer sends. Both sit in the frozen process's
    # socket buffers and must never be acted on.
    sub.send_frame("ACK", [("id", first.get("ack")), ("receipt", "ack-during-freeze")])
    prod.send_frame("SEND", [("destination", QUEUE), ("persistent", "true"),
                             ("receipt", "during-freeze")], "during-freeze")

    pair.wait_active(timeout=30, not_node=old)
    s_new = new.status()
    assert s_new["role"] == "active" and s_new["epoch"] > epoch

    # The new active takes traffic.
    p2 = th.RawClient(new.host_and_port)
    assert p2.connect("1.2").command == "CONNECTED"
    for i in range(1, 11):
        p2.send_frame("SEND", [("destination", QUEUE), ("persistent", "true"),
                               ("receipt", f"after-{i}")], f"after-{i}")
        f = p2.read_frame()
        assert (f.command, f.get("receipt-id")) == ("RECEIPT", f"after-{i}")
    p2.close()

    old.sigcont()
    # The resumed process closes both connections and sends nothing on them first.
    on_sub = sub.read_until_closed(timeout=15)
    on_prod = prod.read_until_closed(timeout=15)
    sub.close()
    prod.close()
    assert [f for f in on_sub if f.command in ("MESSAGE", "RECEIPT")] == [], \
        f"the fenced node sent to its subscriber after the takeover: {on_sub}\n{pair.logs()}"
    assert [f for f in on_prod if f.command == "RECEIPT"] == [], \
        f"the fenced node receipted a send made during the freeze: {on_prod}\n{pair.logs()}"

    pair.wait_role(old, ("fenced", "standby"))
    th.wait_until(lambda: not old.stomp_open(), what="the fenced node's STOMP port to close")
    code, body = old.readyz()
    assert code == 503
    assert new.is_active() and pair.active() is new
    assert "fenced" in old.log_text() or "lost" in old.log_text()

    # The new active has everything receipted before the freeze (before-1 again: its ack was
    # never applied) and after; the send made during the freeze was never stored.
    bodies = drain(new, 15)
    assert sorted(bodies) == sorted([f"before-{i}" for i in range(1, 6)] +
                                    [f"after-{i}" for i in range(1, 11)])
    extra = th.RawClient(new.host_and_port)
    try:
        assert extra.connect("1.2").command == "CONNECTED"
        extra.send_frame("SUBSCRIBE", [("destination", QUEUE), ("id", "x"), ("ack", "auto"),
                                       ("receipt", "x")])
        f = extra.read_frame()
        assert f.command == "RECEIPT"
        # Probe for a leftover with a marker sent after it: FIFO means the marker comes last.
        extra.send_frame("SEND", [("destination", QUEUE), ("receipt", "m")], "marker")
        rest = []
        while True:
            f = extra.read_frame()
            if f.command == "MESSAGE":
                rest.append(f.body.decode())
                if f.body == b"marker":
                    break
        assert rest == ["marker"], f"unexpected messages on the new active: {rest}"
    finally:
        extra.close()

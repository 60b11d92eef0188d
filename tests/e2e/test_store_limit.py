"""storage.max_bytes: producers get a clear error at the limit, nothing receipted is lost."""

import re

import pytest

import tandem_harness as th

LIMIT = 2 * 1024 * 1024
# Tandem requires max_bytes >= segment_bytes (64 MiB by default), so a small limit needs small
# segments too.
STORAGE = {"max_bytes": LIMIT, "segment_bytes": 1024 * 1024}
BODY = "s" * (16 * 1024)


@pytest.mark.limit(120)
def test_persistent_sends_past_the_store_limit_get_an_error_and_nothing_receipted_is_lost(
        start_broker, clients):
    broker = start_broker(storage=STORAGE)
    p = clients.new(broker)
    receipted, problems = [], []
    # Three times the limit in bodies alone: the limit must be hit well before the end.
    for i in range(3 * LIMIT // len(BODY)):
        rid = th.next_receipt("fill")
        try:
            p.conn.send("/queue/full", f"{i:05d}:{BODY}", headers={"persistent": "true"},
                        receipt=rid)
        except Exception:
            break
        try:
            p.listener.wait(lambda: rid in p.listener.receipts or p.listener.errors
                            or p.listener.disconnected, what=f"RECEIPT or ERROR for send {i}")
        except AssertionError:
            problems.append(f"send {i} (after {len(receipted)} receipted) got neither RECEIPT nor "
                            "ERROR within 10 s: the producer hangs")
            break
        if rid in p.listener.receipts:
            receipted.append(f"{i:05d}")
        if p.listener.errors or p.listener.disconnected:
            break
    if not problems:
        if not p.listener.errors:
            problems.append(f"no ERROR after {len(receipted)} receipted 16 KiB sends with a "
                            f"{LIMIT}-byte store limit")
        else:
            error = p.listener.errors[0]
            text = error.headers.get("message", "") + " " + (error.body or "")
            if not (re.search(r"(?i)store|storage|journal", text)
                    and re.search(r"(?i)limit|full|max", text)):
                problems.append(f"ERROR does not mention the store limit: {error.headers}")
    assert receipted, "some messages fit under the limit"
    p.drop()

    # Whatever happened to the producer, nothing receipted may be lost.
    c = clients.new(broker)
    c.subscribe("/queue/full", "s")
    msgs = c.listener.wait_for(len(receipted), timeout=30)
    got = [m.body.split(":", 1)[0] for m in msgs]
    assert got[:len(receipted)] == receipted, "every receipted message, in order"
    assert all(m.body.split(":", 1)[1] == BODY for m in msgs)
    assert not problems, "; ".join(problems)


@pytest.mark.limit(120)
def test_store_accepts_sends_again_after_consumers_free_space(start_broker, clients):
    broker = start_broker(storage=STORAGE)
    c = clients.new(broker)
    c.subscribe("/queue/flowing", "s", ack="auto")
    p = clients.new(broker)
    # Twice the limit passes through a queue that is consumed as it fills.
    total = 2 * LIMIT // len(BODY)
    for i in range(total):
        p.send("/queue/flowing", f"{i:05d}:{BODY}", persistent=True, timeout=20)
        c.listener.wait_for(i + 1, timeout=20)
    assert not p.listener.errors


def test_non_persistent_messages_past_the_memory_limit_get_an_error(start_broker, clients):
    # max_frame_bytes may not exceed max_memory_bytes (checked at start).
    broker = start_broker(limits={"max_memory_bytes": 1024 * 1024, "max_frame_bytes": 256 * 1024})
    p = clients.new(broker)
    body = "m" * (64 * 1024)
    receipted = 0
    for i in range(64):  # 4 MiB: four times the limit
        rid = th.next_receipt("mem")
        p.conn.send("/queue/mem", body, headers={"persistent": "false"}, receipt=rid)
        p.listener.wait(lambda: rid in p.listener.receipts or p.listener.errors
                        or p.listener.disconnected, what=f"RECEIPT or ERROR for send {i}")
        if p.listener.errors or p.listener.disconnected:
            break
        receipted += 1
    assert p.listener.errors, f"no ERROR after {receipted} x 64 KiB non-persistent sends"
    assert re.search(r"(?i)memory", p.listener.errors[0].headers.get("message", "")), \
        p.listener.errors[0].headers
    # Persistent messages can still be sent: their bodies wait on disk.
    q = clients.new(broker)
    q.send("/queue/mem", "persistent-still-ok", persistent=True)
    c = clients.new(broker)
    c.subscribe("/queue/mem")
    msgs = c.listener.wait_for(receipted + 1, timeout=20)
    assert msgs[-1].body == "persistent-still-ok"


@pytest.mark.limit(120)
def test_a_persistent_backlog_past_the_memory_limit_leaves_room_for_non_persistent_messages(start_broker, clients):
    # Journaled bodies held in memory are paged out to make room: a backlog of persistent
    # messages that filled limits.max_memory_bytes must not refuse non-persistent messages
    # that fit in the limit.
    broker = start_broker(limits={"max_memory_bytes": 1024 * 1024, "max_frame_bytes": 256 * 1024})
    p = clients.new(broker)
    body = "p" * (16 * 1024)
    backlog = 128  # 2 MiB of persistent messages nobody consumes yet
    for i in range(backlog):
        p.send("/queue/backlog", f"{i:04d}:{body}", persistent=True, timeout=20)
    fan = "f" * (32 * 1024)
    waiting = 16  # 512 KiB of non-persistent messages, also waiting for a consumer
    for i in range(waiting):
        p.send("/queue/transient", f"{i:04d}:{fan}", persistent=False, timeout=20)
    assert not p.listener.errors, p.listener.errors[0].headers
    t = clients.new(broker)
    t.subscribe("/queue/transient", "t", ack="auto")
    msgs = t.listener.wait_for(waiting, timeout=30)
    assert [m.body.split(":", 1)[0] for m in msgs] == [f"{i:04d}" for i in range(waiting)]
    # Every message of the backlog is still delivered, in order, read back from the journal.
    c = clients.new(broker)
    c.subscribe("/queue/backlog", "q", ack="auto")
    msgs = c.listener.wait_for(backlog, timeout=30)
    assert [m.body.split(":", 1)[0] for m in msgs] == [f"{i:04d}" for i in range(backlog)]
    assert all(m.body.split(":", 1)[1] == body for m in msgs)

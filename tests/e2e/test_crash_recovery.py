"""Crash recovery beyond a single producer: acks, transactions, concurrent producers and a
journal that has been checkpointed and compacted."""

import collections
import os
import threading

import pytest

import tandem_harness as th




def test_receipted_acks_survive_a_crash_and_unacked_messages_come_back(broker, clients):
    p = clients.new(broker)
    for i in range(40):
        p.send("/queue/acks", f"a{i:02d}", persistent=True)
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/acks", "s", ack="client-individual")
    msgs = c.listener.wait_for(40)
    acked = set()
    for m in msgs[::2]:  # ack every other message, each ACK receipted
        c.ack(m)
        acked.add(m.body)
    broker.kill9()
    broker.restart()
    bodies = th.drain_queue(broker, clients, "/queue/acks", 20)
    assert sorted(bodies) == sorted({f"a{i:02d}" for i in range(40)} - acked)


def test_committed_transaction_survives_a_crash_and_an_open_one_does_not(broker, clients):
    p = clients.new(broker)
    p.begin("done")
    for i in range(5):
        p.send("/queue/tx-crash", f"committed-{i}", persistent=True, headers={"transaction": "done"})
    p.commit("done")
    p.begin("open")
    for i in range(5):
        p.send("/queue/tx-crash", f"open-{i}", persistent=True, headers={"transaction": "open"})
    broker.kill9()
    broker.restart()
    assert th.drain_queue(broker, clients, "/queue/tx-crash", 5) == [f"committed-{i}" for i in range(5)]


@pytest.mark.limit(150)
def test_concurrent_producers_lose_nothing_receipted_in_a_crash(broker, clients):
    producers, per_producer = 6, 300
    receipted = collections.defaultdict(list)
    errors = []
    half = threading.Event()
    lock = threading.Lock()
    total = [0]

    def produce(k):
        c = th.Client(broker)
        try:
            c.connect()
            for i in range(per_producer):
                body = f"p{k}-{i:04d}"
                c.send("/queue/multi", body, persistent=True, timeout=10)
                receipted[k].append(body)
                with lock:
                    total[0] += 1
                    if total[0] >= producers * per_producer // 2:
                        half.set()
        except Exception as e:  # the crash interrupts every producer
            errors.append(repr(e))
        finally:
            c.drop()

    threads = [threading.Thread(target=produce, args=(k,), daemon=True) for k in range(producers)]
    for t in threads:
        t.start()
    assert half.wait(60), f"half the sends never receipted (errors: {errors[:3]})"
    broker.kill9()
    for t in threads:
        t.join(30)
    broker.restart()
    acked = [b for k in receipted for b in receipted[k]]
    bodies = th.drain_queue(broker, clients, "/queue/multi", len(acked), timeout=60)
    dupes = [b for b, n in collections.Counter(bodies).items() if n > 1]
    missing = set(acked) - set(bodies)
    print(f"{len(acked)} receipted, {len(bodies)} delivered after the crash")
    assert not missing, f"{len(missing)} receipted messages lost, e.g. {sorted(missing)[:5]}"
    assert not dupes, f"duplicates: {dupes[:5]}"
    for k in range(producers):  # each producer's messages stay in its own order
        mine = [b for b in bodies if b.startswith(f"p{k}-")]
        assert mine == sorted(mine)


@pytest.mark.limit(150)
def test_messages_survive_checkpoints_and_segment_reclamation(start_broker, clients):
    """Small segments and frequent checkpoints: most messages are consumed, a few old ones stay
    behind and keep segments alive; after a crash exactly the unconsumed ones remain."""
    broker = start_broker(storage={"segment_bytes": 1024 * 1024,
                                   "checkpoint_every_bytes": 1024 * 1024})
    body = "k" * 8192
    p = clients.new(broker)
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/reclaim", "s", ack="client-individual",
                headers={"activemq.prefetchSize": "1000"})
    kept = []
    n = 0
    for rnd in range(4):
        for i in range(150):
            p.send("/queue/reclaim", f"{n:05d}:{body}", persistent=True, receipt=(i == 149))
            n += 1
        msgs = c.listener.wait_for(n, timeout=30)
        for m in msgs[n - 150:n]:
            seq = m.body.split(":", 1)[0]
            if int(seq) % 37 == 0:
                kept.append(seq)  # left unacked: must survive
            else:
                c.ack(m)
    c.drop()
    broker.kill9()
    broker.restart()
    bodies = th.drain_queue(broker, clients, "/queue/reclaim", len(kept), timeout=30)
    assert [b.split(":", 1)[0] for b in bodies] == kept
    assert all(b.split(":", 1)[1] == body for b in bodies)
    print(f"storage after recovery: {sorted(os.listdir(broker.storage_dir))}")


def test_large_persistent_message_round_trips_and_survives_a_crash(broker, clients):
    body = ("0123456789abcdef" * 65536 * 5)[:5 * 1024 * 1024]  # 5 MiB, under the 10 MiB default
    p = clients.new(broker)
    p.send("/queue/large", body, persistent=True, timeout=30)
    broker.kill9()
    broker.restart()
    c = clients.new(broker)
    c.subscribe("/queue/large", "s")
    got = c.listener.wait_for(1, timeout=30)[0].body
    assert len(got) == len(body) and got == body


def test_unacked_message_of_a_crashed_broker_is_delivered_again(broker, clients):
    clients.new(broker).send("/queue/inflight", "in-flight", persistent=True)
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/inflight", "s", ack="client-individual")
    assert c.listener.wait_for(1)[0].body == "in-flight"
    broker.kill9()
    broker.restart()
    assert th.drain_queue(broker, clients, "/queue/inflight", 1) == ["in-flight"]


def test_topic_message_acked_by_one_durable_subscriber_survives_a_crash_for_the_other(broker, clients):
    for cid in ("c1", "c2"):
        c = clients.new(broker, client_id=cid)
        c.subscribe("/topic/shared-ref", "1", headers={"activemq.subscriptionName": "s"})
        c.disconnect()
    clients.new(broker).send("/topic/shared-ref", "both", persistent=True)
    c1 = clients.new(broker, version="1.2", client_id="c1")
    c1.subscribe("/topic/shared-ref", "1", ack="client-individual",
                 headers={"activemq.subscriptionName": "s"})
    c1.ack(c1.listener.wait_for(1)[0])
    c1.disconnect()
    broker.kill9()
    broker.restart()
    c2 = clients.new(broker, client_id="c2")
    c2.subscribe("/topic/shared-ref", "1", headers={"activemq.subscriptionName": "s"})
    assert c2.listener.wait_for(1)[0].body == "both"
    c1 = clients.new(broker, client_id="c1")
    c1.subscribe("/topic/shared-ref", "1", headers={"activemq.subscriptionName": "s"})
    clients.new(broker).send("/topic/shared-ref", "SENTINEL", persistent=True)
    c1.listener.wait_for_body("SENTINEL")
    assert c1.listener.bodies() == ["SENTINEL"], "c1 acked it before the crash"


def test_ack_in_a_committed_transaction_survives_a_crash(broker, clients):
    p = clients.new(broker)
    for b in ("t1", "t2", "t3"):
        p.send("/queue/tx-ack-crash", b, persistent=True)
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/tx-ack-crash", "s", ack="client-individual")
    msgs = c.listener.wait_for(3)
    c.begin("acks")
    c.ack(msgs[0], transaction="acks")
    c.ack(msgs[2], transaction="acks")
    c.commit("acks")
    broker.kill9()
    broker.restart()
    assert th.drain_queue(broker, clients, "/queue/tx-ack-crash", 1) == ["t2"]


def test_nacked_message_survives_a_crash(broker, clients):
    clients.new(broker).send("/queue/nack-crash", "n", persistent=True)
    c = clients.new(broker, version="1.2")
    c.subscribe("/queue/nack-crash", "s", ack="client-individual")
    c.nack(c.listener.wait_for(1)[0])
    c.listener.wait_for(2)  # redelivered to the same subscription
    broker.kill9()
    broker.restart()
    assert th.drain_queue(broker, clients, "/queue/nack-crash", 1) == ["n"]


def test_many_destinations_recover_after_a_crash(broker, clients):
    p = clients.new(broker)
    for q in range(60):
        for i in range(3):
            p.send(f"/queue/many.{q}", f"{q}-{i}", persistent=True, receipt=(i == 2))
    broker.kill9()
    broker.restart()
    c = clients.new(broker)
    for q in range(60):
        c.subscribe(f"/queue/many.{q}", f"s{q}")
    msgs = c.listener.wait_for(180, timeout=20)
    by_queue = {}
    for m in msgs:
        by_queue.setdefault(m.headers["destination"], []).append(m.body)
    assert by_queue == {f"/queue/many.{q}": [f"{q}-{i}" for i in range(3)] for q in range(60)}


def test_message_that_expires_while_the_broker_is_down_is_not_delivered(broker, clients):
    import time
    p = clients.new(broker)
    expires = int(time.time() * 1000) + 1500
    p.send("/queue/expire-down", "short", persistent=True, headers={"expires": str(expires)})
    p.send("/queue/expire-down", "long", persistent=True,
           headers={"expires": str(expires + 600_000)})
    broker.kill9()
    th.wait_until(lambda: time.time() * 1000 > expires + 50, timeout=5, what="expiry time")
    broker.restart()
    assert th.drain_queue(broker, clients, "/queue/expire-down", 1) == ["long"]


@pytest.mark.limit(120)
def test_three_crashes_in_a_row_with_traffic_in_between(broker, clients):
    expected = []
    for rnd in range(3):
        p = clients.new(broker)
        for i in range(200):
            body = f"r{rnd}-{i:03d}"
            p.send("/queue/multi-crash", body, persistent=True, receipt=(i % 20 == 19))
            expected.append(body)
        # Consume (and ack, receipted) the oldest 50 of what is queued.
        c = clients.new(broker, version="1.2")
        c.subscribe("/queue/multi-crash", "s", ack="client-individual",
                    headers={"activemq.prefetchSize": "50"})
        for m in c.listener.wait_for(50):
            c.ack(m)
            expected.remove(m.body)
        broker.kill9()
        broker.restart()
    assert th.drain_queue(broker, clients, "/queue/multi-crash", len(expected), timeout=30) == expected

"""Failover of the active/standby pair under load, seen by failover-aware clients.

A producer sends persistent messages with receipts and message-ids PRODUCER:N to both
endpoints, re-sending what had no receipt after a reconnect; a consumer acks each message
(client-individual, with receipts). After every fault the other node takes over; at the end
every receipted message must have been delivered (0 lost) and no message delivered again after
its ack was confirmed (0 duplicated). Redeliveries of messages whose ack was in doubt are
allowed and only reported.
"""

import pytest

import failover_stomp as fs
import pair_harness as ph


def run_faults(pair, fault, runs, rate=300, progress=60, dest="/queue/ha.failover"):
    producer = fs.FailoverProducer(pair.endpoints(), dest, f"{fault}-run", rate=rate).start()
    consumer = fs.FailoverConsumer(pair.endpoints(), dest).start()
    results = []
    try:
        for i in range(runs):
            # Faults land under load: wait for fresh receipts before each one.
            assert producer.wait_receipts(len(producer.receipted) + progress, 30), \
                f"run {i}: the producer made no progress\n{pair.logs()}"
            results.append(ph.inject_fault(pair, fault, producer))
        producer.stop_sending()
        assert producer.wait_all_receipted(60), \
            f"{len(producer.unreceipted)} sends never receipted\n{pair.logs()}"
        ids = {producer.message_id(s) for s in producer.receipted}
        drained = consumer.wait_delivered(ids, 60)
    finally:
        producer.stop()
        consumer.stop()
    acc = fs.account(producer, consumer)
    print(f"{fault} x{runs}: {acc}; switchover ms "
          f"{[round(r['switchover_ms']) for r in results]}")
    assert drained or acc["lost"] == 0, f"consumer did not drain: {acc}"
    assert acc["lost"] == 0, f"receipted messages lost: {acc}"
    assert acc["duplicated"] == 0, f"messages delivered again after their ack: {acc}"
    assert not producer.errors, producer.errors[:3]
    assert acc["receipted"] == acc["sent"]
    return acc, results


@pytest.mark.limit(150)
def test_sigkill_of_the_active_ten_times_loses_and_duplicates_nothing(start_pair):
    pair = start_pair()
    acc, results = run_faults(pair, "kill", 10)
    # The nodes alternated: every kill handed over to the other one.
    assert all(r["new"] is not r["old"] for r in results)
    assert acc["receipted"] >= 10 * 60


@pytest.mark.limit(120)
def test_graceful_switchover_back_and_forth_loses_and_duplicates_nothing(start_pair):
    pair = start_pair()
    acc, results = run_faults(pair, "switchover", 6)
    names = [r["new"].name for r in results]
    assert names[0::2] == [names[0]] * 3 and names[1::2] == [names[1]] * 3 and names[0] != names[1]


@pytest.mark.limit(90)
def test_sigterm_of_the_active_hands_over_and_loses_nothing(start_pair):
    pair = start_pair()
    old = pair.wait_active()
    acc, results = run_faults(pair, "term", 2)
    assert results[0]["old"] is old
    # A graceful stop released the lease: the node exited cleanly.
    assert old.exit_codes[0] == ("SIGTERM", 0)
    assert "released epoch" in old.log_text()


@pytest.mark.limit(90)
def test_sigstop_of_the_active_under_load_loses_and_duplicates_nothing(start_pair):
    # The frozen node keeps its TCP connections open; the clients notice the silence through
    # heart-beats, fail over, and re-send what the frozen node never receipted.
    pair = start_pair()
    acc, results = run_faults(pair, "stop", 2)
    # inject_fault waited for each resumed node to stand by; the last one still does.
    last = results[-1]["old"]
    assert last.role() == "standby" and not last.stomp_open()
    assert "fenced" in last.log_text()

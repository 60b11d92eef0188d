"""The drills' accounting (deploy/drill_load.py) on traces and logs written by hand: it must
flag what it exists to find - a receipted message never delivered, a message stored twice, a copy
delivered twice without being marked redelivered, a delivery from a node after the other took
over - and accept a legitimate redelivery after a failover."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy"))
import drill_load as dl  # noqa: E402

A, B = "stomp://10.0.0.1:61613", "stomp://10.0.0.2:61613"
T = 1_800_000_000.0  # seconds since the epoch


def line(t, kind, *fields):
    return "\t".join([f"{t * 1000:.3f}", kind, *map(str, fields)]) + "\n"


def write(path, lines):
    with open(path, "w") as f:
        f.writelines(lines)


def make_load(tmp_path, messages):
    load = dl.Load("/nonexistent", "failover:()", "/queue/q", str(tmp_path), spawn=None, label="m")
    write(load.send_trace, [line(T, "connected", 1, A)] + [line(T + n / 100, "receipt", n, 1) for n in (1, 2, 3)]
          + [line(T + 1.5, "interrupted", 1, A, "x"), line(T + 2.0, "resumed", 2, B, 500, 1),
             line(T + 2.1, "receipt", 4, 2)])
    write(load.send_err, ["tandem-send: sent 4, receipted 4, re-sent 1, 1 failover\n"])
    write(load.recv_trace, [line(T, "connected", 1, A), line(T + 2.0, "resumed", 2, B, 500, 0)]
          + [line(t, "message", gen, red, stamp, f"p:{n}", f"m-{n}") for t, gen, red, stamp, n in messages])
    return load


def account(load):
    activations = [(T - 10, "node-1", 1), (T + 1.8, "node-2", 2)]
    return load.account({A: "node-1", B: "node-2"}, activations)


def test_a_clean_failover_with_a_redelivery_is_clean(tmp_path):
    acc = account(make_load(tmp_path, [
        (T + 0.1, 1, 0, 111, 1), (T + 0.2, 1, 0, 222, 2), (T + 0.3, 1, 0, 333, 3),
        (T + 2.2, 2, 1, 333, 3),  # its ack was lost in the failover: marked, same stored copy
        (T + 2.3, 2, 0, 444, 4)]))
    assert (acc["sent"], acc["receipted"], acc["delivered"]) == (4, 4, 4)
    assert (acc["lost"], acc["duplicated"], acc["fenced_deliveries"], acc["redelivered"]) == (0, 0, 0, 1)
    assert acc["resent"] == 1


def test_a_receipted_message_never_delivered_is_lost(tmp_path):
    acc = account(make_load(tmp_path, [(T + 0.1, 1, 0, 111, 1), (T + 0.2, 1, 0, 222, 2), (T + 2.3, 2, 0, 444, 4)]))
    assert acc["lost"] == 1 and acc["lost_ids"] == [3]


def test_a_second_stored_copy_or_an_unmarked_repeat_is_a_duplicate(tmp_path):
    acc = account(make_load(tmp_path, [
        (T + 0.1, 1, 0, 111, 1), (T + 0.2, 1, 0, 222, 2), (T + 0.3, 1, 0, 333, 3),
        (T + 2.2, 2, 1, 999, 3),  # marked redelivered, but accepted again: stored twice
        (T + 2.3, 2, 0, 444, 4), (T + 2.4, 2, 0, 444, 4)]))  # the same copy twice, unmarked
    assert acc["duplicated"] == 2


def test_a_delivery_over_the_old_nodes_connection_after_the_takeover_is_from_a_fenced_node(tmp_path):
    acc = account(make_load(tmp_path, [
        (T + 0.1, 1, 0, 111, 1), (T + 0.2, 1, 0, 222, 2), (T + 0.3, 1, 0, 333, 3),
        (T + 1.9, 1, 0, 444, 4)]))  # node-2 activated at T + 1.8; this came from node-1
    assert acc["fenced_deliveries"] == 1 and acc["fenced_examples"][0][:2] == (4, "node-1")


def test_role_changes_are_read_from_a_broker_log(tmp_path):
    log = tmp_path / "broker.log"
    log.write_text("2026-12-05T07:58:52.754Z info node: node-2 is activating (epoch 2): won the lease\n"
                   "2026-12-05T07:58:52.793Z info stomp: listening on 10.77.0.12:61613\n"
                   "2026-12-05T07:58:52.793Z info node: node-2 is active (epoch 2): serving STOMP\n")
    changes = dl.role_changes(str(log))
    assert [(n, r, e) for _, n, r, e in changes] == [("node-2", "activating", 2), ("node-2", "active", 2)]
    assert abs(changes[1][0] - changes[0][0] - 0.039) < 1e-6
    assert dl.activations([str(log)]) == [(changes[0][0], "node-2", 2)]

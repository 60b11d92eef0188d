"""tandem-send and tandem-recv against one real broker: what a script using them sees on stdout,
stderr and in the exit status (0 done, 1 usage/bad URI, 2 could not connect, 3 failed)."""

import signal
import subprocess
import time

import pytest

import cli_tools as ct
import tandem_harness as th
from cli_tools import ok, recv, send


def bodies(r):
    return r.stdout.splitlines()


def test_a_sent_message_is_received_and_printed_as_one_line(broker):
    s = ok(send(ct.uri(broker), "/queue/cli.roundtrip", "hello world"))
    assert ct.summary(s.stderr, "tandem-send")["receipted"] == 1
    r = ok(recv(ct.uri(broker), "/queue/cli.roundtrip", "--count", 1, "--timeout", 10000))
    assert r.stdout == "hello world\n"
    assert ct.summary(r.stderr, "tandem-recv")["received"] == 1


def test_body_comes_from_a_file_or_from_stdin(broker, tmp_path):
    body_file = tmp_path / "body.txt"
    body_file.write_text("from a file")
    ok(send(ct.uri(broker), "/queue/cli.body", "--file", body_file))
    ok(send(ct.uri(broker), "/queue/cli.body", input="from stdin"))
    r = ok(recv(ct.uri(broker), "/queue/cli.body", "--count", 2, "--timeout", 10000))
    assert bodies(r) == ["from a file", "from stdin"]


def test_count_with_number_sends_numbered_messages_in_order_at_the_given_rate(broker):
    started = time.monotonic()
    s = ok(send(ct.uri(broker), "/queue/cli.count", "m-{n}", "--number", "--count", 20, "--rate", 100,
                "--persistent"))
    elapsed = time.monotonic() - started
    # Pacing can only make the run longer: 20 messages at 100/s take at least 0.19 s.
    assert elapsed >= 0.19
    assert ct.summary(s.stderr, "tandem-send") == {"sent": 20, "receipted": 20, "re-sent": 0, "failovers": 0}
    r = ok(recv(ct.uri(broker), "/queue/cli.count", "--count", 20, "--timeout", 10000))
    assert bodies(r) == [f"m-{n}" for n in range(1, 21)]


def test_pipelined_and_transactional_sends_all_arrive(broker):
    ok(send(ct.uri(broker), "/queue/cli.pipe", "p-{n}", "--number", "--count", 300, "--no-receipt",
            "--window", 50))
    ok(send(ct.uri(broker), "/queue/cli.pipe", "t-{n}", "--number", "--count", 10, "--transaction-batch", 4))
    r = ok(recv(ct.uri(broker), "/queue/cli.pipe", "--count", 310, "--timeout", 10000))
    assert bodies(r) == [f"p-{n}" for n in range(1, 301)] + [f"t-{n}" for n in range(1, 11)]


def test_extra_headers_show_up_with_headers(broker):
    ok(send(ct.uri(broker), "/queue/cli.headers", "with headers", "--header", "color=red",
            "--header", "formula=a=b", "--header", "url=http://x:1/", "--header", "note=two\nlines",
            "--persistent"))
    r = ok(recv(ct.uri(broker), "/queue/cli.headers", "--count", 1, "--headers", "--timeout", 10000))
    [(headers, body)] = ct.parse_headers_output(r.stdout)
    assert body == "with headers"
    assert headers["color"] == "red"
    assert headers["formula"] == "a=b"
    assert headers["url"] == "http://x:1/"
    assert headers["note"] == "two\\nlines"  # escaped: one line per header
    assert headers["destination"] == "/queue/cli.headers"
    assert headers["persistent"] == "true"
    assert "message-id" in headers


def test_selector_receives_only_matching_messages(broker):
    for n, colour in enumerate(["red", "blue", "red", "green"], 1):
        ok(send(ct.uri(broker), "/queue/cli.selector", f"{colour}-{n}", "--header", f"type={colour}"))
    r = ok(recv(ct.uri(broker), "/queue/cli.selector", "--selector", "type = 'red'", "--count", 2,
                "--timeout", 10000))
    assert bodies(r) == ["red-1", "red-3"]
    # The others are still there, in order, and the red ones are not.
    rest = ok(recv(ct.uri(broker), "/queue/cli.selector", "--timeout", 1000))
    assert bodies(rest) == ["blue-2", "green-4"]


def test_an_invalid_selector_fails_with_exit_3_naming_it(broker):
    r = recv(ct.uri(broker), "/queue/cli.badselector", "--selector", "type = = 'x'", "--timeout", 5000)
    assert r.returncode == 3, r.stderr
    assert "selector" in r.stderr.lower()


@pytest.mark.parametrize("mode", ["auto", "client", "client-individual"])
def test_each_ack_mode_consumes_exactly_the_printed_messages(broker, mode):
    dest = f"/queue/cli.ack.{mode}"
    ok(send(ct.uri(broker), dest, "a-{n}", "--number", "--count", 5, "--persistent"))
    first = ok(recv(ct.uri(broker), dest, "--ack", mode, "--count", 3, "--timeout", 10000))
    assert bodies(first) == ["a-1", "a-2", "a-3"]
    # What was printed was acknowledged; what was not printed is still there (prefetched
    # copies come back when the first receiver leaves).
    second = ok(recv(ct.uri(broker), dest, "--ack", mode, "--timeout", 1500))
    assert bodies(second) == ["a-4", "a-5"]
    assert ct.summary(second.stderr, "tandem-recv")["received"] == 2


def test_timeout_exits_0_when_nothing_arrives(broker):
    r = recv(ct.uri(broker), "/queue/cli.empty", "--timeout", 300)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert "nothing arrived for 300 ms" in r.stderr


def test_durable_subscription_keeps_messages_sent_while_away(broker):
    sub = ["--durable", "cli-durable", "--client-id", "cli-recv-1"]
    ok(recv(ct.uri(broker), "/topic/cli.durable", *sub, "--timeout", 300))  # registers it
    ok(send(ct.uri(broker), "/topic/cli.durable", "while away {n}", "--number", "--count", 2, "--persistent"))
    r = ok(recv(ct.uri(broker), "/topic/cli.durable", *sub, "--count", 2, "--timeout", 10000))
    assert bodies(r) == ["while away 1", "while away 2"]
    # --durable without a client id is a usage error.
    bad = recv(ct.uri(broker), "/topic/cli.durable", "--durable", "x", "--timeout", 300)
    assert bad.returncode == 1 and "client id" in bad.stderr


def test_a_misspelt_uri_option_exits_1_naming_it():
    for tool in ("tandem-send", "tandem-recv"):
        args = ["failover:(stomp://127.0.0.1:1)?maxReconectAttempts=1", "/queue/cli.bad"]
        r = ct.run(tool, *args, *(["x"] if tool == "tandem-send" else []), timeout=20)
        assert r.returncode == 1, (tool, r.stderr)
        assert "maxReconectAttempts" in r.stderr
    r = send("stomp://127.0.0.1", "/queue/cli.bad", "x", timeout=20)
    assert r.returncode == 1 and "stomp://127.0.0.1" in r.stderr


def test_usage_errors_exit_1():
    assert send(timeout=20).returncode == 1  # no URI, no destination
    r = send("stomp://127.0.0.1:1", "/queue/x", "body", "--header", "no-equals-sign", timeout=20)
    assert r.returncode == 1 and "no-equals-sign" in r.stderr
    assert recv("stomp://127.0.0.1:1", "/queue/x", "--ack", "sometimes", timeout=20).returncode == 1


def test_an_unreachable_broker_exits_2_quickly():
    # Port 1 refuses at once; a plain stomp:// URI tries once (no reconnect loop).
    for tool, extra in (("tandem-send", ["x"]), ("tandem-recv", [])):
        r = ct.run(tool, "stomp://127.0.0.1:1", "/queue/cli.unreachable", *extra, timeout=20)
        assert r.returncode == 2, (tool, r.stderr)
        assert "cannot connect" in r.stderr and "127.0.0.1:1" in r.stderr
    # A failover URI gives up after its startup attempts.
    r = send("failover:(stomp://127.0.0.1:1)?startupMaxReconnectAttempts=2&initialReconnectDelay=1",
             "/queue/cli.unreachable", "x", timeout=20)
    assert r.returncode == 2, r.stderr


def test_a_send_the_broker_refuses_exits_3(broker):
    # A destination that is neither /queue/ nor /topic/ gets an ERROR from the broker.
    for uri in (ct.uri(broker), ct.failover_uri([broker.port])):
        r = send(uri, "/nowhere/cli", "x", timeout=20)
        assert r.returncode == 3, r.stderr
        assert "message 1 to /nowhere/cli failed" in r.stderr and "must be /queue/NAME" in r.stderr


def test_sigterm_stops_a_receiver_with_a_summary(broker, tmp_path):
    r = ct.Background(tmp_path, "recv", "tandem-recv", ct.uri(broker), "/queue/cli.sigterm", "--ack", "client")
    try:
        ok(send(ct.uri(broker), "/queue/cli.sigterm", "before the signal"))
        th.wait_until(lambda: r.stdout() == "before the signal\n", 10, what="the message printed")
        r.proc.send_signal(signal.SIGTERM)
        assert r.wait(10) == 130
        assert ct.summary(r.stderr(), "tandem-recv")["received"] == 1
        assert "(interrupted)" in r.stderr()
    finally:
        r.close()
    # The printed message was acked: nothing is left.
    assert ok(recv(ct.uri(broker), "/queue/cli.sigterm", "--timeout", 300)).stdout == ""


def test_a_killed_receiver_loses_nothing_and_repeats_only_as_redelivered(broker, tmp_path):
    # tandem-recv prints, then acks: after a SIGKILL the broker gives back what was not acked,
    # marked redelivered:true, to the next receiver.
    dest = "/queue/cli.killed.recv"
    producer = ct.Background(tmp_path, "producer", "tandem-send", ct.uri(broker), dest, "k-{n}", "--number",
                             "--count", 1000, "--rate", 500, "--persistent")
    first = ct.Background(tmp_path, "first", "tandem-recv", ct.uri(broker), dest, "--ack", "client-individual",
                          "--headers")
    try:
        th.wait_until(lambda: first.stdout().count("\n\nk-") >= 200, 30, what="200 messages printed")
        first.proc.kill()
        first.wait(10)
        assert producer.wait(60) == 0, producer.stderr()
    finally:
        producer.close()
        first.close()
    second = ok(recv(ct.uri(broker), dest, "--ack", "client-individual", "--headers", "--timeout", 1000))
    copies = {}
    for headers, body in ct.parse_headers_output(first.stdout()) + ct.parse_headers_output(second.stdout):
        copies.setdefault(body, []).append(headers.get("redelivered") == "true")
    assert set(copies) == {f"k-{n}" for n in range(1, 1001)}
    assert all(flags.count(False) <= 1 for flags in copies.values()), \
        [b for b, flags in copies.items() if flags.count(False) > 1][:10]


def test_a_message_that_cannot_be_written_to_stdout_is_not_acked(broker):
    ok(send(ct.uri(broker), "/queue/cli.full", "f-{n}", "--number", "--count", 3))
    with open("/dev/full", "w") as full:
        r = subprocess.run([ct.binary("tandem-recv"), ct.uri(broker), "/queue/cli.full", "--count", "3",
                            "--ack", "client-individual"], stdout=full, stderr=subprocess.PIPE, text=True,
                           timeout=30)
    assert r.returncode == 3 and "cannot write to stdout" in r.stderr, r.stderr
    assert bodies(ok(recv(ct.uri(broker), "/queue/cli.full", "--timeout", 1000))) == ["f-1", "f-2", "f-3"]


def test_trace_files_name_the_connection_of_every_receipt_and_message(broker, tmp_path):
    send_trace, recv_trace = tmp_path / "send.trace", tmp_path / "recv.trace"
    ok(send(ct.uri(broker), "/queue/cli.trace", "t-{n}\ttab", "--number", "--count", 3, "--persistent",
            "--trace", send_trace))
    ok(recv(ct.uri(broker), "/queue/cli.trace", "--count", 3, "--timeout", 10000, "--trace", recv_trace))
    sent = [line.split("\t") for line in send_trace.read_text().splitlines()]
    got = [line.split("\t") for line in recv_trace.read_text().splitlines()]
    assert [f[1] for f in sent] == ["connected", "receipt", "receipt", "receipt", "closed"]
    gen = sent[0][2]
    assert sent[0][3] == f"stomp://127.0.0.1:{broker.port}"
    assert [(f[2], f[3]) for f in sent[1:4]] == [("1", gen), ("2", gen), ("3", gen)]
    times = [float(f[0]) for f in sent]
    assert times == sorted(times) and abs(times[0] / 1000 - time.time()) < 600
    assert [f[1] for f in got[:4]] == ["connected", "message", "message", "message"]
    messages = got[1:4]
    assert [f[6] for f in messages] == ["t-1\\ttab", "t-2\\ttab", "t-3\\ttab"]  # escaped tab
    assert all(f[2] == got[0][2] and f[3] == "0" and f[4].isdigit() for f in messages)
    assert len({f[5] for f in messages}) == 3  # message-ids


def test_a_trace_file_that_cannot_be_written_is_a_usage_error(broker, tmp_path):
    r = send(ct.uri(broker), "/queue/cli.trace", "x", "--trace", tmp_path / "no" / "such" / "dir")
    assert r.returncode == 1
    assert "--trace" in r.stderr and "cannot open" in r.stderr

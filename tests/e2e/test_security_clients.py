"""STOMP security with many clients and with Tandem's own clients (security.enabled).

- A login storm (200 clients connecting at once with the right passcode, plus wrong passcodes
  and clients that hang up while their login is checked) all get the right answer while
  another client's traffic keeps flowing: passwords are checked off the event loop.
- tandem-send / tandem-recv pass credentials with --login/--passcode, TANDEM_PASSCODE or the
  URI's options; a refused login exits 2, a refused SEND exits 3, each naming the reason.
- Through a failover URI a login survives SIGKILLs of the active node of a pair.
"""

import threading

import pytest

import cli_tools as ct
import pair_harness as ph
import tandem_harness as th
from cli_tools import ok, recv, send

SECURITY = th.security(
    th.user("admin", "admin-pw", role="admin"),
    th.user("app", "app-pw", read=["/queue/orders.>"], write=["/queue/orders.>"]),
    # The broker's default cost (100,000 iterations): the storm pays the real price.
    th.user("storm", "storm-pw", read=["/queue/storm.>"], write=["/queue/storm.>"], iterations=100_000),
)
STORM_GOOD = 200
STORM_WRONG = 20
STORM_HANG_UP = 20


def connect_raw(broker, login, passcode, hang_up=False):
    """CONNECT on a fresh socket; returns the first frame's command and message (or "hung up")."""
    r = th.RawClient(broker.host_and_port, timeout=60)
    try:
        r.send_frame("CONNECT", {"accept-version": "1.2", "host": "x", "login": login, "passcode": passcode})
        if hang_up:
            return "hung up", None  # closed while the broker checks the passcode
        f = r.read_frame(timeout=60)
        return f.command, f.get("message")
    finally:
        r.close()


class Traffic(threading.Thread):
    """Sends numbered messages with receipts to a queue while the test runs, as admin."""

    def __init__(self, broker, clients, destination):
        super().__init__(daemon=True)
        self.producer = clients.new(broker, version="1.2", login="admin", passcode="admin-pw")
        self.destination = destination
        self.sent = 0
        self.error = None
        self.stop = threading.Event()

    def run(self):
        try:
            while not self.stop.is_set():
                self.producer.send(self.destination, f"t-{self.sent + 1}", timeout=60)
                self.sent += 1
        except Exception as e:  # reported by the test
            self.error = e


@pytest.mark.limit(180)
def test_a_login_storm_is_answered_correctly_while_other_traffic_flows(start_broker, clients):
    broker = start_broker(security=SECURITY)
    consumer = clients.new(broker, version="1.2", login="admin", passcode="admin-pw")
    consumer.subscribe("/queue/traffic", "t")
    traffic = Traffic(broker, clients, "/queue/traffic")
    traffic.start()
    th.wait_until(lambda: traffic.sent >= 10 or traffic.error, what="traffic before the storm")

    jobs = ([("storm", "storm-pw", False)] * STORM_GOOD + [("storm", "wrong", False)] * STORM_WRONG
            + [("storm", "storm-pw", True)] * STORM_HANG_UP)
    results = [None] * len(jobs)
    go = threading.Barrier(len(jobs))

    def one(i):
        login, passcode, hang_up = jobs[i]
        try:
            go.wait(timeout=60)
            results[i] = connect_raw(broker, login, passcode, hang_up)
        except Exception as e:
            results[i] = ("exception", repr(e))

    sent_before = traffic.sent
    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    sent_during = traffic.sent - sent_before
    traffic.stop.set()
    traffic.join(60)

    assert traffic.error is None, f"the bystander's traffic failed: {traffic.error!r}"
    good = results[:STORM_GOOD]
    wrong = results[STORM_GOOD:STORM_GOOD + STORM_WRONG]
    assert good == [("CONNECTED", None)] * STORM_GOOD, [r for r in good if r != ("CONNECTED", None)][:5]
    assert wrong == [("ERROR", "login failed for user 'storm'")] * STORM_WRONG, wrong[:5]
    assert all(r == ("hung up", None) for r in results[STORM_GOOD + STORM_WRONG:])
    # Every message the bystander sent (receipted) arrives, in order, none twice.
    bodies = consumer.listener.wait_for(traffic.sent, timeout=60)
    assert [m.body for m in bodies] == [f"t-{n}" for n in range(1, traffic.sent + 1)]
    print(f"bystander sent {sent_during} receipted messages during the storm, {traffic.sent} in all")
    assert sent_during > 0, "the bystander made no progress while the storm was answered"
    # Still serving: a fresh login (now from the cache) works.
    clients.new(broker, version="1.2", login="storm", passcode="storm-pw").send("/queue/storm.after", "x")


# --- tandem-send / tandem-recv --------------------------------------------------------------

def test_tandem_send_and_recv_pass_credentials_from_flags_environment_and_uri(start_broker, tmp_path):
    broker = start_broker(security=SECURITY)
    dest = "/queue/orders.cli"
    ok(send(ct.uri(broker), dest, "by-flags", "--login", "app", "--passcode", "app-pw"))
    ok(send(ct.uri(broker), dest, "by-env", "--login", "app", env={"TANDEM_PASSCODE": "app-pw"}))
    ok(send(ct.uri(broker, query="login=app&passcode=app-pw"), dest, "by-uri"))
    # The flags win over the URI's options.
    ok(send(ct.uri(broker, query="login=app&passcode=wrong"), dest, "flags-win", "--passcode", "app-pw"))
    r = ok(recv(ct.uri(broker), dest, "--count", 4, "--timeout", 10000, "--login", "app",
                env={"TANDEM_PASSCODE": "app-pw"}))
    assert r.stdout.split() == ["by-flags", "by-env", "by-uri", "flags-win"]


def test_tandem_send_names_a_refused_login_and_a_refused_destination(start_broker):
    broker = start_broker(security=SECURITY)
    r = send(ct.uri(broker), "/queue/orders.cli", "x", "--login", "app", "--passcode", "wrong")
    assert r.returncode == 2, r.stderr
    assert "login failed for user 'app'" in r.stderr
    r = send(ct.uri(broker), "/queue/payments", "x", "--login", "app", "--passcode", "app-pw")
    assert r.returncode == 3, r.stderr
    assert "user 'app' may not write to /queue/payments" in r.stderr
    # Through a failover URI too: the refusal is final, not re-sent after the reconnect.
    r = send(ct.failover_uri([broker.port], "maxReconnectDelay=100"), "/queue/payments", "x",
             "--login", "app", "--passcode", "app-pw")
    assert r.returncode == 3, r.stderr
    assert "message 1 to /queue/payments failed: broker ERROR: user 'app' may not write to /queue/payments" in r.stderr
    assert broker.log_text().count("SEND refused for user 'app'") == 2, "sent once per run, never again"
    r = recv(ct.uri(broker), "/queue/payments", "--timeout", 2000, "--login", "app", "--passcode", "app-pw")
    assert r.returncode == 3 and "user 'app' may not read from /queue/payments" in r.stderr, r.stderr


@pytest.mark.limit(150)
def test_a_login_on_a_failover_uri_survives_sigkills_of_the_active(start_pair, tmp_path):
    pair = start_pair(extra={"security": SECURITY}, http_auth=("admin", "admin-pw"))
    pair.wait_active()
    ports = [n.port for n in pair.nodes]
    uri = ct.failover_uri(ports, "login=app&passcode=app-pw&timeout=10000&maxReconnectDelay=200")
    dest, count = "/queue/orders.failover", 600
    producer = ct.Background(tmp_path, "producer", "tandem-send", uri, dest, "m-{n}", "--number",
                             "--count", count, "--rate", 200, "--persistent")
    # Until 5 s of silence: copies redelivered after a kill are printed too, so --count would
    # stop short of the last messages.
    consumer = ct.Background(tmp_path, "consumer", "tandem-recv", ct.failover_uri(ports, "maxReconnectDelay=200"),
                             dest, "--login", "app", "--ack", "client-individual", "--headers",
                             "--timeout", 5000, env={"TANDEM_PASSCODE": "app-pw"})
    try:
        for _ in range(2):
            seen = consumer.stdout().count("\n\nm-")
            th.wait_until(lambda: consumer.stdout().count("\n\nm-") >= seen + 50, 30, interval=0.05,
                          what=f"consumer progress\n{consumer.stderr()[-2000:]}")
            ph.inject_fault(pair, "kill")
        assert producer.wait(90) == 0, producer.stderr()[-3000:]
        assert "resumed on" in producer.stderr()
        consumer_code = consumer.wait(60)
    finally:
        producer.close()
        consumer.close()
    assert consumer_code == 0, consumer.stderr()[-3000:]
    bodies = {body for _, body in ct.parse_headers_output(consumer.stdout())}
    assert bodies == {f"m-{n}" for n in range(1, count + 1)}, "every receipted message delivered"
    assert "login failed" not in producer.stderr() + consumer.stderr()

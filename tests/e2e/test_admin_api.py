"""The admin API on an active node (broker/ADMIN_API.md), with data made by real stomp.py
clients: what each route shows, and that what it changes really happened (purged messages stay
gone after SIGKILL, a closed connection's message is redelivered, browsing consumes nothing)."""

import time

import pytest

import tandem_harness as th

PREFETCH_1 = {"activemq.prefetchSize": "1"}


@pytest.fixture
def node(start_broker):
    return start_broker(http=True, delivery={"max_redeliveries": 1})


def fill_and_hold(node, clients, queue, count, prefetch):
    """Sends `count` persistent messages "<last name part>-<i>" to `queue`, then a client-individual
    consumer takes `prefetch` of them without acknowledging; returns (producer, consumer)."""
    producer = clients.new(node)
    for i in range(count):
        producer.send(queue, f"{queue.rsplit('.', 1)[-1]}-{i}", persistent=True)
    consumer = clients.new(node, version="1.2")
    consumer.subscribe(queue, "c", ack="client-individual", headers={"activemq.prefetchSize": str(prefetch)})
    return producer, consumer


def destination(api, name):
    for d in api.ok("GET", "/api/v1/destinations")["destinations"]:
        if d["name"] == name:
            return d
    return None


def test_status_of_the_active_node(node):
    s = node.api().ok("GET", "/api/v1/status")
    assert s["node"] == "e2e" and s["role"] == "active" and s["epoch"] >= 1
    assert s["console"] == f"http://127.0.0.1:{node.http_port}/"
    assert s["active_node"] == "e2e" and s["active_console"] == s["console"]
    assert s["lease"]["holder"] == "e2e" and s["lease"]["holder_console"] == s["console"]
    assert s["stomp"] == f"127.0.0.1:{node.port}"
    assert s["store"]["segments"] >= 1 and s["store"]["max_bytes"] == 0 and s["store"]["used_fraction"] is None
    assert s["uptime_ms"] >= 0 and s["version"] and s["failovers"] == 0 and s["fencing_events"] == 0


def test_destinations_count_what_clients_did(node, clients):
    api = node.api()
    producer, consumer = fill_and_hold(node, clients, "/queue/api.orders", 5, prefetch=2)
    first = consumer.listener.wait_for(2)
    th.wait_until(lambda: destination(api, "/queue/api.orders")["inflight"] == 2, what="2 in flight")
    d = destination(api, "/queue/api.orders")
    assert (d["kind"], d["depth"], d["enqueued"], d["dequeued"]) == ("queue", 5, 5, 0)
    assert d["consumers"] == 1 and d["producers"] == 1
    assert d["oldest_age_ms"] >= 0 and d["dlq"] == "/queue/DLQ.api.orders" and d["dlq_depth"] == 0
    consumer.ack(first[0])
    th.wait_until(lambda: destination(api, "/queue/api.orders")["dequeued"] == 1, what="one dequeued")
    d = destination(api, "/queue/api.orders")
    assert d["depth"] == 4 and d["enqueued"] == 5
    # The messages of the last 10 s show as a rate once the once-a-second sample has them.
    producer.send("/queue/api.orders", "order-5", persistent=True)
    th.wait_until(lambda: destination(api, "/queue/api.orders")["enqueue_rate"] > 0, what="a positive rate")
    assert destination(api, "/queue/api.orders")["enqueue_rate"] <= 6

    # A message NACKed past delivery.max_redeliveries (1) lands in the DLQ.
    poison = clients.new(node, version="1.2")
    producer.send("/queue/api.poison", "poison", persistent=True)
    poison.subscribe("/queue/api.poison", "p", ack="client-individual")
    for n in (1, 2):
        poison.nack(poison.listener.wait_for(n)[-1])
    th.wait_until(lambda: destination(api, "/queue/api.poison")["dlq_depth"] == 1, what="the DLQ to hold it")
    assert destination(api, "/queue/DLQ.api.poison")["depth"] == 1
    assert destination(api, "/queue/DLQ.api.poison")["dlq"] is None

    # A topic: its messages, subscribers and what they consumed.
    sub = clients.new(node)
    sub.subscribe("/topic/api.prices", "t")
    for i in range(3):
        producer.send("/topic/api.prices", f"price-{i}")
    sub.listener.wait_for(3)
    th.wait_until(lambda: destination(api, "/topic/api.prices")["dequeued"] == 3, what="3 topic deliveries")
    t = destination(api, "/topic/api.prices")
    assert (t["kind"], t["enqueued"], t["subscribers"], t["durable_subscribers"], t["producers"]) == ("topic", 3, 1, 0, 1)
    assert t["depth"] == 0

    one = api.ok("GET", "/api/v1/queues/api.orders")
    assert one["name"] == "/queue/api.orders" and one["enqueued"] == 6
    assert api.get("/api/v1/queues/api.nothing").status == 404


def test_browse_pages_without_consuming(node, clients):
    api = node.api()
    p = clients.new(node)
    for i in range(6):
        p.send("/queue/api.browse", f"m{i}", persistent=True, headers={"k": f"v{i}"})
    p.send("/queue/api.browse", "urgent", persistent=True, headers={"priority": "9"})
    p.send("/queue/api.browse", "x" * 300, persistent=False)

    page = api.ok("GET", "/api/v1/queues/api.browse/messages?offset=0&limit=3")
    assert page["total"] == 8 and page["offset"] == 0 and page["limit"] == 3
    assert [m["body_preview"] for m in page["messages"]] == ["urgent", "m0", "m1"]
    urgent, m0 = page["messages"][0], page["messages"][1]
    assert urgent["priority"] == 9 and urgent["persistent"] and not urgent["inflight"] and not urgent["redelivered"]
    assert m0["headers"]["k"] == "v0" and m0["size"] >= 2 and m0["timestamp_ms"] > 0 and m0["message_id"]
    rest = api.ok("GET", "/api/v1/queues/api.browse/messages?offset=3&limit=10")["messages"]
    assert [m["body_preview"] for m in rest[:4]] == ["m2", "m3", "m4", "m5"]
    big = rest[4]
    assert big["body_truncated"] and big["body_preview"] == "x" * 256 and not big["persistent"] and big["size"] >= 300
    assert api.get("/api/v1/queues/api.browse/messages?limit=abc").status == 400
    assert api.get("/api/v1/queues/api.none/messages").status == 404

    # A delivered, unacknowledged message is listed first, flagged in flight.
    c = clients.new(node, version="1.2")
    c.subscribe("/queue/api.browse", "b", ack="client-individual", headers=PREFETCH_1)
    got = c.listener.wait_for(1)
    assert got[0].body == "urgent"
    th.wait_until(lambda: api.ok("GET", "/api/v1/queues/api.browse/messages")["messages"][0]["inflight"],
                  what="the delivery to show as in flight")
    page = api.ok("GET", "/api/v1/queues/api.browse/messages")
    assert page["total"] == 8 and page["messages"][0]["message_id"] == got[0].headers["message-id"]

    # Browsing consumed nothing: every message arrives, in order, none marked redelivered.
    for n in range(1, 9):
        c.ack(c.listener.wait_for(n)[-1])
    bodies = c.listener.bodies()
    assert bodies[:7] == ["urgent", "m0", "m1", "m2", "m3", "m4", "m5"] and bodies[7] == "x" * 300
    assert not any("redelivered" in m.headers for m in c.listener.messages)


def test_browse_after_a_restart_reads_messages_back_from_the_journal(node, clients):
    p = clients.new(node)
    for i in range(3):
        p.send("/queue/api.kept", f"kept-{i}", persistent=True, headers={"n": str(i)})
    p.drop()
    node.kill9()
    node.restart()
    page = node.api().ok("GET", "/api/v1/queues/api.kept/messages")
    assert [m["body_preview"] for m in page["messages"]] == ["kept-0", "kept-1", "kept-2"]
    assert [m["headers"]["n"] for m in page["messages"]] == ["0", "1", "2"]
    assert all(m["timestamp_ms"] > 0 and m["persistent"] for m in page["messages"])
    assert th.drain_queue(node, clients, "/queue/api.kept", expect_at_least=3) == ["kept-0", "kept-1", "kept-2"]


def test_purge_is_durable_and_spares_messages_in_flight(node, clients):
    api = node.api()
    p, c = fill_and_hold(node, clients, "/queue/api.purge", 10, prefetch=2)
    held = [m.body for m in c.listener.wait_for(2)]
    assert api.ok("POST", "/api/v1/queues/api.purge/purge") == {"purged": 8}
    assert destination(api, "/queue/api.purge")["depth"] == 2
    assert api.post("/api/v1/queues/api.nothing/purge").status == 404
    # The answer came after the journal had the removals: a crash now loses none of them.
    c.drop()
    p.drop()
    node.kill9()
    node.restart()
    assert destination(node.api(), "/queue/api.purge")["depth"] == 2
    assert th.drain_queue(node, clients, "/queue/api.purge", expect_at_least=2) == held


def test_deleting_a_queue_ends_its_consumer_with_an_error(node, clients):
    api = node.api()
    p = clients.new(node)
    for i in range(3):
        p.send("/queue/api.doomed", f"d{i}", persistent=True)
    p.send("/queue/api.other", "other", persistent=True)
    c = clients.new(node, version="1.2")
    c.subscribe("/queue/api.doomed", "c", ack="client-individual", headers=PREFETCH_1)
    c.listener.wait_for(1)
    r = api.ok("DELETE", "/api/v1/queues/api.doomed")
    assert r == {"deleted": "/queue/api.doomed", "purged": 2}
    err = c.listener.wait_error()
    assert "/queue/api.doomed was deleted" in err.headers["message"]
    c.listener.wait_disconnected()
    assert destination(api, "/queue/api.doomed") is None
    assert api.get("/api/v1/queues/api.doomed").status == 404
    assert api.delete("/api/v1/queues/api.doomed").status == 404
    # Nothing of it comes back after a crash; other queues are untouched.
    p.drop()
    node.kill9()
    node.restart()
    assert destination(node.api(), "/queue/api.doomed") is None
    assert th.drain_queue(node, clients, "/queue/api.other", expect_at_least=1) == ["other"]


def test_deleting_a_topic_ends_its_subscribers_and_durable_subscriptions(node, clients):
    api = node.api()
    d = clients.new(node, client_id="api-d")
    d.subscribe("/topic/api.news", "1", headers={"activemq.subscriptionName": "s"})
    d.disconnect()
    live = clients.new(node)
    live.subscribe("/topic/api.news", "live")
    clients.new(node).send("/topic/api.news", "hello", persistent=True)
    live.listener.wait_for(1)
    assert [s["name"] for s in api.ok("GET", "/api/v1/subscriptions/durable")["subscriptions"]] == ["s"]
    r = api.ok("DELETE", "/api/v1/topics/api.news")
    assert r["deleted"] == "/topic/api.news" and r["durable_subscriptions_deleted"] == 1
    assert "/topic/api.news was deleted" in live.listener.wait_error().headers["message"]
    assert api.ok("GET", "/api/v1/subscriptions/durable")["subscriptions"] == []
    assert destination(api, "/topic/api.news") is None
    assert api.delete("/api/v1/topics/api.news").status == 404


def test_send_a_test_message(node, clients):
    api = node.api()
    c = clients.new(node)
    c.subscribe("/queue/api.test", "t")
    r = api.ok("POST", "/api/v1/send", {"destination": "/queue/api.test", "body": "from the console",
                                        "headers": {"x-note": "hi"}, "priority": 7})
    assert r["destination"] == "/queue/api.test" and r["message_id"]
    m = c.listener.wait_for(1)[0]
    assert m.body == "from the console" and m.headers["x-note"] == "hi"
    assert m.headers["priority"] == "7" and m.headers["persistent"] == "true"
    assert m.headers["message-id"] == r["message_id"]
    assert destination(api, "/queue/api.test")["enqueued"] == 1

    for bad, why in [({"destination": "orders", "body": "x"}, "must be /queue/NAME"),
                     ({"destination": "/queue/x", "headers": {"priority": "1"}}, "set by the broker"),
                     ({"destination": "/queue/x", "persistent": "yes"}, "true or false"),
                     ({"body": "x"}, "destination")]:
        resp = api.post("/api/v1/send", bad)
        assert resp.status == 400 and why in resp.json["error"], resp
    resp = api.post("/api/v1/send", "{not json")
    assert resp.status == 400


def test_connections_are_listed_and_closing_one_redelivers_its_message(node, clients):
    api = node.api()
    clients.new(node).send("/queue/api.conn", "held", persistent=True)
    holder = clients.new(node, version="1.2", client_id="holder-1", headers={"login": "alice"})
    holder.subscribe("/queue/api.conn", "h", ack="client-individual", headers=PREFETCH_1)
    held = holder.listener.wait_for(1)[0]

    conns = api.ok("GET", "/api/v1/connections")["connections"]
    mine = [c for c in conns if c["client_id"] == "holder-1"]
    assert len(mine) == 1
    h = mine[0]
    assert h["protocol"] == "STOMP 1.2" and h["tls"] is False and h["login"] == "alice"
    assert h["remote"].startswith("127.0.0.1:") and h["connected_ms"] > 0 and h["messages_out"] == 1
    assert h["inflight"] == 1
    assert h["subscriptions"] == [{"id": "h", "destination": "/queue/api.conn", "ack": "client-individual",
                                   "prefetch": 1, "inflight": 1, "durable": None, "selector": None}]
    assert any(c["messages_in"] == 1 for c in conns)

    other = clients.new(node)
    other.subscribe("/queue/api.conn", "o")
    assert api.ok("DELETE", f"/api/v1/connections/{h['id']}") == {"closed": h["id"]}
    assert holder.listener.wait_error().headers["message"] == "closed by an administrator"
    holder.listener.wait_disconnected()
    m = other.listener.wait_for(1)[0]
    assert m.body == "held" and m.headers.get("redelivered") == "true"
    assert m.headers["message-id"] == held.headers["message-id"]
    assert h["id"] not in [c["id"] for c in api.ok("GET", "/api/v1/connections")["connections"]]
    assert api.delete(f"/api/v1/connections/{h['id']}").status == 404
    assert api.delete("/api/v1/connections/abc").status == 400


def test_durable_subscriptions_are_listed_and_deleted(node, clients):
    api = node.api()
    sub = {"activemq.subscriptionName": "s1"}
    c = clients.new(node, client_id="dur-1")
    c.subscribe("/topic/api.durable", "1", headers={**sub, "selector": "kind = 'a'"})
    c.disconnect()
    p = clients.new(node)
    for kind in ("a", "a", "b"):
        p.send("/topic/api.durable", kind, persistent=True, headers={"kind": kind})
    subs = api.ok("GET", "/api/v1/subscriptions/durable")["subscriptions"]
    assert subs == [{"client_id": "dur-1", "name": "s1", "topic": "/topic/api.durable",
                     "selector": "kind = 'a'", "active": False, "depth": 2}]

    back = clients.new(node, client_id="dur-1")
    back.subscribe("/topic/api.durable", "1", headers={**sub, "selector": "kind = 'a'"})
    back.listener.wait_for(2)
    assert api.ok("GET", "/api/v1/subscriptions/durable")["subscriptions"][0]["active"] is True
    r = api.delete("/api/v1/subscriptions/durable/dur-1/s1")
    assert r.status == 409 and "attached" in r.json["error"]
    back.disconnect()
    assert api.ok("DELETE", "/api/v1/subscriptions/durable/dur-1/s1") == {"deleted": {"client_id": "dur-1", "name": "s1"}}
    assert api.ok("GET", "/api/v1/subscriptions/durable")["subscriptions"] == []
    assert api.delete("/api/v1/subscriptions/durable/dur-1/s1").status == 404
    # Deleted for good: messages published now are not kept for it.
    p.send("/topic/api.durable", "a", persistent=True, headers={"kind": "a"})
    node.kill9()
    node.restart()
    assert node.api().ok("GET", "/api/v1/subscriptions/durable")["subscriptions"] == []


def test_errors_are_json_with_a_message(node):
    api = node.api()
    r = api.get("/api/v1/nothing")
    assert r.status == 404 and r.json["error"] == "no route for GET /api/v1/nothing"
    assert r.headers["content-type"].startswith("application/json")
    r = api.request("POST", "/api/v1/login", b"")
    assert r.status == 200 and r.json["auth"] is False  # open mode: no users configured
    assert "security.users is empty" in node.log_text()


def test_closing_a_consumer_that_does_not_read_ends_it_within_seconds(node, clients):
    # A consumer that stopped reading: its socket's buffers and the session's own are full, so
    # the ERROR "closed by an administrator" can never be written. The close still happens, a
    # short write deadline later, and the connection leaves the list.
    import socket

    api = node.api()
    p = clients.new(node)
    big = "s" * (512 * 1024)
    for _ in range(24):  # 12 MiB: more than the session, the kernel's and the client's buffers hold
        p.send("/queue/api.stuck", big, persistent=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    try:
        sock.connect(node.host_and_port)
        sock.sendall(th.encode_frame("CONNECT", [("accept-version", "1.2"), ("host", "localhost"),
                                                 ("client-id", "stuck-1")]))
        sock.sendall(th.encode_frame("SUBSCRIBE", [("id", "s"), ("destination", "/queue/api.stuck"), ("ack", "auto")]))
        # ... and never reads again. Deliveries stop once everything is full.
        def stuck_connection():
            conns = api.ok("GET", "/api/v1/connections")["connections"]
            return next((c for c in conns if c["client_id"] == "stuck-1"), None)

        th.wait_until(lambda: (stuck_connection() or {}).get("messages_out", 0) > 0, what="deliveries to start")
        last = [-1]

        def settled():
            now = stuck_connection()["messages_out"]
            same, last[0] = now == last[0], now
            return same
        th.wait_until(settled, timeout=20, interval=0.5, what="deliveries to stop (buffers full)")
        stuck = stuck_connection()
        assert stuck["messages_out"] < 24 and destination(api, "/queue/api.stuck")["depth"] > 0, stuck

        t0 = time.monotonic()
        assert api.ok("DELETE", f"/api/v1/connections/{stuck['id']}") == {"closed": str(stuck["id"])}
        th.wait_until(lambda: stuck_connection() is None, timeout=10, what="the stuck connection to close")
        closed_after = time.monotonic() - t0
        assert closed_after < 8, f"closed after {closed_after:.1f} s"
        assert "not written within 2000 ms" in node.log_text()
        # The socket is really closed: reading what is buffered ends in EOF or a reset.
        sock.settimeout(10)
        try:
            while sock.recv(1 << 20):
                pass
        except ConnectionResetError:
            pass
    finally:
        sock.close()
    # The node goes on serving: the undelivered messages are there for the next consumer.
    assert destination(api, "/queue/api.stuck")["depth"] > 0


def test_deleting_a_queue_takes_a_message_acknowledged_in_an_open_transaction(node, clients):
    # The acknowledgement is held by the transaction, not by the subscription: deleting the
    # queue must delete that message too (also in the journal), and the transaction's abort when
    # the connection closes must not bring it back.
    api = node.api()
    p = clients.new(node)
    p.send("/queue/api.txdel", "held", persistent=True)
    p.send("/queue/api.txdel", "waiting", persistent=True)
    c = clients.new(node, version="1.2")
    c.subscribe("/queue/api.txdel", "c", ack="client-individual", headers=PREFETCH_1)
    held = c.listener.wait_for(1)[0]
    assert held.body == "held"
    c.begin("tx-1")
    c.ack(held, transaction="tx-1")
    # ("waiting" is in flight by now: the ACK made room in the prefetch window.)
    assert api.ok("DELETE", "/api/v1/queues/api.txdel")["deleted"] == "/queue/api.txdel"
    assert "/queue/api.txdel was deleted" in c.listener.wait_error().headers["message"]
    c.listener.wait_disconnected()  # the session closed and aborted tx-1
    assert destination(api, "/queue/api.txdel") is None
    assert node.died_unexpectedly() is None
    # Nothing of the queue comes back after a crash: the held message's journal reference went
    # with the deletion.
    p.drop()
    node.kill9()
    node.restart()
    assert destination(node.api(), "/queue/api.txdel") is None
    assert th.drain_queue(node, clients, "/queue/api.txdel") == []


def test_browse_reads_a_bounded_number_of_messages_back_from_the_journal(node, clients):
    # After a restart no message is in memory: a page stops after 50 journal reads, or after the
    # read that passes 4 MiB, and paging on from the last message shown reaches every message.
    p = clients.new(node)
    for i in range(120):
        p.send("/queue/api.paged", f"m{i}", persistent=True)
    mib = "b" * (1 << 20)
    for i in range(6):
        p.send("/queue/api.big", f"{i}{mib}", persistent=True)
    p.drop()
    node.kill9()
    node.restart()
    api = node.api()
    seen, offset = [], 0
    while offset < 120:
        page = api.ok("GET", f"/api/v1/queues/api.paged/messages?offset={offset}&limit=500")
        assert page["total"] == 120 and len(page["messages"]) == min(50, 120 - offset), page["limit"]
        seen += [m["body_preview"] for m in page["messages"]]
        offset += len(page["messages"])
    assert seen == [f"m{i}" for i in range(120)]
    page = api.ok("GET", "/api/v1/queues/api.big/messages?limit=50")
    assert page["total"] == 6 and [m["body_preview"][0] for m in page["messages"]] == ["0", "1", "2", "3"]
    # Browsing consumed nothing.
    assert th.drain_queue(node, clients, "/queue/api.paged", expect_at_least=120) == [f"m{i}" for i in range(120)]

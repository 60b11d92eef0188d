"""The admin API on an active/standby pair: the standby says it is standby and names the active
node and its console on every broker operation (503), status and metrics work on both, and a
switchover asked through the API hands over."""

import tandem_harness as th

# Every route that needs the active node, with a body where it takes one.
ACTIVE_ROUTES = [
    ("GET", "/api/v1/destinations", None),
    ("GET", "/api/v1/queues/pair.q", None),
    ("GET", "/api/v1/queues/pair.q/messages", None),
    ("POST", "/api/v1/queues/pair.q/purge", None),
    ("DELETE", "/api/v1/queues/pair.q", None),
    ("DELETE", "/api/v1/topics/pair.t", None),
    ("POST", "/api/v1/send", {"destination": "/queue/pair.q", "body": "x"}),
    ("GET", "/api/v1/connections", None),
    ("DELETE", "/api/v1/connections/1", None),
    ("GET", "/api/v1/subscriptions/durable", None),
    ("DELETE", "/api/v1/subscriptions/durable/c/s", None),
    ("POST", "/api/v1/switchover", None),
]


def console_of(node):
    return f"http://127.0.0.1:{node.http_port}/"


def api_of(node):
    return th.Api(node.http_port)


def start_with_standby(start_pair):
    """A pair whose standby already names the active node: (pair, active, standby)."""
    pair = start_pair()
    active = pair.wait_active()
    standby = pair.other(active)
    pair.wait_role(standby, "standby")
    wait_standby_sees(pair, standby, active)
    return pair, active, standby


def wait_standby_sees(pair, standby, active):
    th.wait_until(lambda: (api_of(standby).ok("GET", "/api/v1/status")["active_node"] == active.name
                           and api_of(standby).ok("GET", "/api/v1/status")["active_console"] == console_of(active)),
                  what=f"{standby.name} to name {active.name} as active")


def test_standby_names_the_active_node_and_its_console_on_every_broker_route(start_pair, clients):
    pair, active, standby = start_with_standby(start_pair)

    s = api_of(standby).ok("GET", "/api/v1/status")
    assert s["role"] == "standby" and s["console"] == console_of(standby)
    assert s["lease"]["holder"] == active.name and s["lease"]["holder_console"] == console_of(active)
    assert "store" not in s and s["stomp"] is None
    a = api_of(active).ok("GET", "/api/v1/status")
    assert a["role"] == "active" and a["active_node"] == active.name and a["active_console"] == console_of(active)

    # The active serves them (a queue with a message makes the queue routes real).
    clients.new(active).send("/queue/pair.q", "m", persistent=True)
    assert api_of(active).get("/api/v1/queues/pair.q").status == 200
    for method, path, body in ACTIVE_ROUTES:
        r = api_of(standby).request(method, path, body)
        assert r.status == 503, f"{method} {path} on the standby answered {r.status}: {r.text}"
        j = r.json
        assert j["error"] == f"{standby.name} is standby; the active node is {active.name}", j
        assert j["role"] == "standby" and j["active_node"] == active.name
        assert j["active_console"] == console_of(active)
    # Probes and the status work in every role.
    assert api_of(standby).get("/healthz").status == 200
    assert api_of(standby).get("/readyz").status == 503
    assert api_of(standby).get("/api/v1/whoami").status == 200
    # Nothing was changed on the active by any of that.
    assert api_of(active).ok("GET", "/api/v1/queues/pair.q")["depth"] == 1


def test_metrics_parse_on_the_standby_too(start_pair):
    pair, active, standby = start_with_standby(start_pair)
    m = api_of(standby).metrics()
    assert th.sample_value(m, "tandem_up") == 1
    assert th.sample_value(m, "tandem_role", {"role": "standby"}) == 1
    assert th.sample_value(m, "tandem_role", {"role": "active"}) == 0
    assert th.sample_value(m, "tandem_connections", {"protocol": "stomp"}) == 0
    assert th.sample_value(m, "tandem_journal_fsync_seconds_count") == 0
    assert "tandem_destination_depth" not in m or m["tandem_destination_depth"].samples == []
    assert "tandem_journal_segments" not in m
    a = api_of(active).metrics()
    assert th.sample_value(a, "tandem_role", {"role": "active"}) == 1
    assert th.sample_value(a, "tandem_epoch") >= 1
    assert th.sample_value(a, "tandem_journal_segments") >= 1


def test_switchover_through_the_api(start_pair, clients):
    pair, old, new = start_with_standby(start_pair)
    clients.new(old).send("/queue/pair.switch", "kept", persistent=True)

    r = api_of(old).ok("POST", "/api/v1/switchover", status=202)
    assert r["result"] == "switching over" and r["node"] == old.name and r["epoch"] >= 1
    assert pair.wait_active(not_node=old) is new
    pair.wait_role(old, "standby")
    wait_standby_sees(pair, old, new)
    # The old active now refuses broker operations, naming the new one.
    r = api_of(old).get("/api/v1/destinations")
    assert r.status == 503 and r.json["active_node"] == new.name and r.json["active_console"] == console_of(new)
    # The new active has the message, and counts the takeover.
    assert api_of(new).ok("GET", "/api/v1/queues/pair.switch")["depth"] == 1
    assert api_of(new).ok("GET", "/api/v1/status")["failovers"] == 1
    m = api_of(new).metrics()
    assert th.sample_value(m, "tandem_failovers_total") == 1
    assert th.sample_value(m, "tandem_fencing_events_total") == 0

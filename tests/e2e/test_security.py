"""STOMP authentication and destination permissions (security.enabled; broker/ADMIN_API.md).

- CONNECT needs the login and passcode of a configured user; a refusal is one ERROR ("login
  failed for user 'x'", the same for an unknown user and a wrong passcode; "login required"
  without a login) and the socket closes.
- SEND needs write permission, SUBSCRIBE read permission, with ActiveMQ's wildcards; admins may
  do everything. A refused frame is an ERROR naming the user, the action and the destination,
  the connection closes, nothing is stored: a sentinel sent afterwards is the first message.
- With security.enabled false, login and passcode are ignored and nothing is checked.
"""

import pytest

import tandem_harness as th

SECURITY = th.security(
    th.user("admin", "admin-pw", role="admin"),
    th.user("app", "app-pw", read=["/queue/orders.>", "/topic/*.prices"],
            write=["/queue/orders.>", "/topic/*.prices"]),
    th.user("ops", "ops-pw", role="viewer", read=["/queue/DLQ.>"]),
    th.user("everything", "all-pw", read=[">"], write=[">"]),
)
LOGINS = {"admin": "admin-pw", "app": "app-pw", "ops": "ops-pw", "everything": "all-pw"}


@pytest.fixture
def secure(start_broker):
    return start_broker(security=SECURITY)


def login(broker, clients, name, version="1.2", **kwargs):
    """A connected stomp.py client logged in as `name`."""
    return clients.new(broker, version=version, login=name, passcode=LOGINS[name], **kwargs)


def raw_login(broker, clients, name, passcode=None, version="1.2"):
    """A raw socket logged in as `name`; returns it after CONNECTED."""
    r = clients.raw(broker)
    f = r.connect(version, {"login": name, "passcode": passcode or LOGINS[name]})
    assert f.command == "CONNECTED", f
    return r


def refused(raw, frames=None):
    """The one ERROR the broker sent before closing (`frames`: already read ones)."""
    frames = list(frames or []) + raw.read_until_closed()
    errors = [f for f in frames if f.command == "ERROR"]
    assert len(errors) == 1 and frames[-1] is errors[0], f"expected one ERROR, then close: {frames}"
    return errors[0]


def drain(broker, clients, destination):
    """Every body waiting in `destination`, consumed as admin up to a SENTINEL sent now: FIFO
    means anything stored before the sentinel comes first."""
    consumer = login(broker, clients, "admin")
    consumer.subscribe(destination, "drain")
    login(broker, clients, "admin").send(destination, "SENTINEL")
    bodies = [m.body for m in consumer.listener.wait_for_body("SENTINEL")]
    return bodies[:bodies.index("SENTINEL")]


def subscribe_durably_and_leave(broker, clients, name, client_id, topic, subscription):
    """`name` makes the durable subscription (client_id, subscription) on `topic`, then
    disconnects: messages are kept for it."""
    c = login(broker, clients, name, client_id=client_id)
    c.subscribe(topic, "d", headers={"activemq.subscriptionName": subscription})
    c.disconnect()


def first_message(broker, clients, destination):
    """The body of the first message the queue gives ("SENTINEL" when nothing was stored)."""
    return (drain(broker, clients, destination) + ["SENTINEL"])[0]


# --- logins ---------------------------------------------------------------------------------

def test_a_configured_user_logs_in_and_uses_its_destinations(secure, clients):
    app = login(secure, clients, "app")
    app.subscribe("/queue/orders.eu", "s")
    app.send("/queue/orders.eu", "hello", persistent=True)
    assert app.listener.wait_for(1)[0].body == "hello"
    assert "STOMP security on" in secure.log_text()


@pytest.mark.parametrize("command", ["CONNECT", "STOMP"])
@pytest.mark.parametrize("headers,message", [
    ({"login": "app", "passcode": "wrong-secret-123"}, "login failed for user 'app'"),
    ({"login": "nobody", "passcode": "app-pw"}, "login failed for user 'nobody'"),
    ({"login": "app"}, "login failed for user 'app'"),
    ({"passcode": "app-pw"}, "login required"),
    ({}, "login required"),
], ids=["wrong-passcode", "unknown-user", "no-passcode", "no-login", "nothing"])
def test_a_refused_login_gets_one_error_and_the_socket_closes(secure, clients, command, headers, message):
    r = clients.raw(secure)
    first = r.connect("1.2", headers, command=command)
    err = refused(r, [first])
    assert err.get("message") == message
    assert err.body.decode() == message, "the body says no more than the header"
    # The log names the peer and the user and says which part was wrong; never the passcode.
    if "login" in headers:
        why = "wrong passcode" if headers["login"] == "app" else "no such user"
        th.wait_until(lambda: f"refused for user '{headers['login']}': {why}" in secure.log_text(),
                      what="the refusal in the log")
    else:
        th.wait_until(lambda: "refused: no login header" in secure.log_text(), what="the refusal in the log")
    assert "wrong-secret-123" not in secure.log_text()
    # The broker serves the next client as usual.
    login(secure, clients, "app").send("/queue/orders.after", "x")


def test_stomp_py_sees_a_refused_login_as_an_error_and_a_disconnect(secure, clients):
    c = clients.new(secure, version="1.1", connect=False, login="app", passcode="nope")
    with pytest.raises(AssertionError, match="connect failed"):
        c.connect()
    assert c.listener.errors[0].headers["message"] == "login failed for user 'app'"
    c.listener.wait_disconnected()


def test_frames_pipelined_behind_connect_wait_for_the_login_and_keep_their_order(secure, clients):
    r = clients.raw(secure)
    r.send_raw(th.encode_frame("CONNECT", {"accept-version": "1.2", "host": "x", "login": "app",
                                           "passcode": "app-pw"})
               + th.encode_frame("SUBSCRIBE", {"id": "s", "destination": "/queue/orders.p", "receipt": "r-sub"})
               + th.encode_frame("SEND", {"destination": "/queue/orders.p", "receipt": "r-send"}, "piped"))
    frames = [r.read_frame() for _ in range(4)]
    assert frames[0].command == "CONNECTED", frames
    # The MESSAGE may overtake the SEND's RECEIPT; the receipts keep the frames' order.
    assert [f.get("receipt-id") for f in frames if f.command == "RECEIPT"] == ["r-sub", "r-send"], frames
    assert [f.body for f in frames if f.command == "MESSAGE"] == [b"piped"], frames


def test_frames_pipelined_behind_a_refused_connect_are_never_handled(secure, clients):
    r = clients.raw(secure)
    r.send_raw(th.encode_frame("CONNECT", {"accept-version": "1.2", "host": "x", "login": "app",
                                           "passcode": "guess"})
               + th.encode_frame("SEND", {"destination": "/queue/orders.p", "receipt": "r-1"}, "sneaky"))
    assert refused(r).get("message") == "login failed for user 'app'"
    assert first_message(secure, clients, "/queue/orders.p") == "SENTINEL"


# --- permissions ----------------------------------------------------------------------------

@pytest.mark.parametrize("name,destination", [
    ("app", "/queue/orders.eu"),
    ("app", "/queue/orders.eu.north"),   # '>' takes one or more segments
    ("app", "/topic/fx.prices"),         # '*' is exactly one segment
    ("everything", "/queue/payments"),   # '>' alone: every destination
    ("admin", "/queue/payments"),        # admin: no patterns needed
])
def test_send_and_subscribe_within_the_user_patterns_work(secure, clients, name, destination):
    c = login(secure, clients, name)
    c.subscribe(destination, "s")
    c.send(destination, "allowed")
    assert c.listener.wait_for(1)[0].body == "allowed"


@pytest.mark.parametrize("destination", [
    "/queue/orders",             # '/queue/orders.>' needs a further segment
    "/queue/payments",
    "/topic/fx.spot.prices",     # '*' is one segment, not two
    "/queue/DLQ.orders.eu",      # a dead-letter queue is an ordinary destination
])
def test_a_refused_send_is_an_error_naming_user_and_destination_and_nothing_is_stored(secure, clients, destination):
    r = raw_login(secure, clients, "app")
    r.send_frame("SEND", {"destination": destination, "receipt": "r-1", "persistent": "true"}, "forbidden")
    err = refused(r)
    assert err.get("message") == f"user 'app' may not write to {destination}"
    assert err.get("receipt-id") == "r-1", "the client can tell which frame was refused"
    if destination.startswith("/queue/"):
        assert first_message(secure, clients, destination) == "SENTINEL"
    th.wait_until(lambda: "SEND refused for user 'app' from 127.0.0.1:" in secure.log_text(),
                  what="the refusal in the log")


def test_a_refused_send_ends_the_connection_after_the_frames_before_it(secure, clients):
    r = raw_login(secure, clients, "app")
    r.send_raw(th.encode_frame("SEND", {"destination": "/queue/orders.a", "receipt": "ok"}, "before")
               + th.encode_frame("SEND", {"destination": "/queue/payments", "receipt": "bad"}, "forbidden")
               + th.encode_frame("SEND", {"destination": "/queue/orders.a", "receipt": "late"}, "after"))
    frames = r.read_until_closed()
    assert [(f.command, f.get("receipt-id")) for f in frames] == [("RECEIPT", "ok"), ("ERROR", "bad")], frames
    consumer = login(secure, clients, "admin")
    consumer.subscribe("/queue/orders.a", "s")
    login(secure, clients, "admin").send("/queue/orders.a", "SENTINEL")
    assert consumer.listener.wait_for_body("SENTINEL") and consumer.listener.bodies() == ["before", "SENTINEL"]
    assert first_message(secure, clients, "/queue/payments") == "SENTINEL"


def test_a_refused_send_inside_a_transaction_is_refused_at_send_and_the_transaction_dies(secure, clients):
    r = raw_login(secure, clients, "app")
    r.send_raw(th.encode_frame("BEGIN", {"transaction": "tx"})
               + th.encode_frame("SEND", {"destination": "/queue/orders.tx", "transaction": "tx"}, "in-tx")
               + th.encode_frame("SEND", {"destination": "/queue/payments", "transaction": "tx",
                                          "receipt": "r-bad"}, "forbidden")
               + th.encode_frame("COMMIT", {"transaction": "tx", "receipt": "r-commit"}))
    err = refused(r)
    assert err.get("message") == "user 'app' may not write to /queue/payments"
    assert err.get("receipt-id") == "r-bad"
    assert first_message(secure, clients, "/queue/orders.tx") == "SENTINEL"


def test_a_refused_subscribe_is_an_error_and_takes_nothing(secure, clients):
    login(secure, clients, "admin").send("/queue/payments", "waiting", persistent=True)
    r = raw_login(secure, clients, "app")
    r.send_frame("SUBSCRIBE", {"id": "s", "destination": "/queue/payments", "receipt": "r-sub"})
    frames = r.read_until_closed()
    assert [f.command for f in frames] == ["ERROR"], frames
    assert frames[0].get("message") == "user 'app' may not read from /queue/payments"
    consumer = login(secure, clients, "admin")
    consumer.subscribe("/queue/payments", "s")
    got = consumer.listener.wait_for(1)[0]
    assert got.body == "waiting" and "redelivered" not in got.headers, "never delivered to the refused subscriber"


def test_a_durable_subscription_needs_read_permission_on_its_topic(secure, clients):
    durable = {"activemq.subscriptionName": "fx"}
    subscribe_durably_and_leave(secure, clients, "app", "desk-1", "/topic/fx.prices", "fx")
    login(secure, clients, "admin").send("/topic/fx.prices", "while-away", persistent=True)
    back = login(secure, clients, "app", client_id="desk-1")
    back.subscribe("/topic/fx.prices", "d", headers=durable)
    assert back.listener.wait_for(1)[0].body == "while-away"

    r = clients.raw(secure)
    assert r.connect("1.2", {"login": "app", "passcode": "app-pw", "client-id": "desk-2"}).command == "CONNECTED"
    r.send_frame("SUBSCRIBE", {"id": "d", "destination": "/topic/news", "activemq.subscriptionName": "news",
                               "receipt": "r-sub"})
    assert refused(r).get("message") == "user 'app' may not read from /topic/news"


def test_another_user_cannot_delete_a_durable_subscription_it_knows_the_names_of(secure, clients):
    durable = {"activemq.subscriptionName": "news"}
    subscribe_durably_and_leave(secure, clients, "admin", "desk-3", "/topic/news", "news")
    # Another user who knows the client id and the name tries to delete it (and its messages):
    # durable subscriptions are each user's own, so there is none of that name for it.
    r = clients.raw(secure)
    assert r.connect("1.2", {"login": "everything", "passcode": "all-pw", "client-id": "desk-3"}).command == "CONNECTED"
    r.send_frame("UNSUBSCRIBE", {"id": "d", "activemq.subscriptionName": "news", "receipt": "r-del"})
    assert refused(r).get("message") == "no subscription with id 'd'"
    login(secure, clients, "admin").send("/topic/news", "kept", persistent=True)
    back = login(secure, clients, "admin", client_id="desk-3")
    back.subscribe("/topic/news", "d", headers=durable)
    assert back.listener.wait_for(1)[0].body == "kept"


def test_durable_subscriptions_of_one_client_id_and_name_are_each_users_own(start_broker, clients):
    # Two users with the same client-id and subscription name: another topic does not replace
    # the first user's subscription (nor delete its messages); each has its own, listed as
    # LOGIN:CLIENT-ID, and both survive a crash.
    broker = start_broker(http=True, security=SECURITY)
    durable = {"activemq.subscriptionName": "fx"}
    subscribe_durably_and_leave(broker, clients, "app", "desk-1", "/topic/fx.prices", "fx")
    login(broker, clients, "admin").send("/topic/fx.prices", "for-app", persistent=True)
    subscribe_durably_and_leave(broker, clients, "everything", "desk-1", "/topic/other", "fx")
    api = broker.api(user="admin", password=LOGINS["admin"])
    subs = api.ok("GET", "/api/v1/subscriptions/durable")["subscriptions"]
    assert sorted((s["client_id"], s["name"], s["topic"], s["depth"]) for s in subs) == [
        ("app:desk-1", "fx", "/topic/fx.prices", 1), ("everything:desk-1", "fx", "/topic/other", 0)]
    broker.kill9()
    broker.restart()
    back = login(broker, clients, "app", client_id="desk-1")
    back.subscribe("/topic/fx.prices", "d", headers=durable)
    assert back.listener.wait_for(1)[0].body == "for-app"
    # The other user deletes its own; the first user's stays.
    other = login(broker, clients, "everything", client_id="desk-1")
    other.unsubscribe("d", headers=durable)
    subs = broker.api(user="admin", password=LOGINS["admin"]).ok("GET", "/api/v1/subscriptions/durable")["subscriptions"]
    assert [(s["client_id"], s["active"]) for s in subs] == [("app:desk-1", True)]


def test_replacing_or_deleting_a_durable_subscription_needs_read_permission_on_its_topic(start_broker, clients):
    # app made a durable subscription on a topic it may no longer read (its permissions changed
    # at a restart). Moving the subscription to a topic it may read would delete the messages
    # kept for the old one: refused, naming the old topic; so is deleting it.
    before = th.user("app", "app-pw", read=["/topic/*.prices", "/topic/news"])
    after = th.user("app", "app-pw", read=["/topic/news"])
    admin = th.user("admin", "admin-pw", role="admin")
    broker = start_broker(http=True, security=th.security(admin, before))
    subscribe_durably_and_leave(broker, clients, "app", "desk-9", "/topic/fx.prices", "d")
    login(broker, clients, "admin").send("/topic/fx.prices", "kept", persistent=True)

    broker.terminate()
    broker.config["security"] = th.security(admin, after)
    with open(broker.config_path, "w") as f:
        f.write(th.to_yaml(broker.config) + "\n")
    broker.start()
    for command, headers in (
            ("SUBSCRIBE", {"id": "d", "destination": "/topic/news", "activemq.subscriptionName": "d"}),
            ("UNSUBSCRIBE", {"id": "d", "activemq.subscriptionName": "d"})):
        r = clients.raw(broker)
        assert r.connect("1.2", {"login": "app", "passcode": "app-pw", "client-id": "desk-9"}).command == "CONNECTED"
        r.send_frame(command, {**headers, "receipt": "r-1"})
        err = refused(r)
        assert err.get("message") == "user 'app' may not read from /topic/fx.prices", command
        assert err.get("receipt-id") == "r-1"
    subs = broker.api(user="admin", password="admin-pw").ok("GET", "/api/v1/subscriptions/durable")["subscriptions"]
    assert [(s["client_id"], s["topic"], s["depth"]) for s in subs] == [("app:desk-9", "/topic/fx.prices", 1)]


def test_duplicate_detection_keeps_each_users_producers_apart(secure, clients):
    # Another user's PRODUCER:SEQ is not this user's: both messages are stored. A re-send by the
    # same user (what the failover client does) is still a duplicate, after a crash too: the
    # journal keeps the producer with its user.
    app = login(secure, clients, "app")
    everything = login(secure, clients, "everything")
    everything.send("/queue/orders.dup", "everything-1", persistent=True, headers={"message-id": "p-7:1"})
    app.send("/queue/orders.dup", "app-1", persistent=True, headers={"message-id": "p-7:1"})
    app.send("/queue/orders.dup", "app-1 again", persistent=True, headers={"message-id": "p-7:1"})
    app.send("/queue/orders.dup", "app-2", persistent=True, headers={"message-id": "p-7:2"})
    secure.kill9()
    secure.restart()
    app = login(secure, clients, "app")
    app.send("/queue/orders.dup", "app-2 after the crash", persistent=True, headers={"message-id": "p-7:2"})
    everything = login(secure, clients, "everything")
    everything.send("/queue/orders.dup", "everything-2", persistent=True, headers={"message-id": "p-7:2"})
    assert drain(secure, clients, "/queue/orders.dup") == ["everything-1", "app-1", "app-2", "everything-2"]


def test_dead_letter_queues_follow_the_same_rules(start_broker, clients):
    broker = start_broker(security=SECURITY, delivery={"max_redeliveries": 0})
    app = login(broker, clients, "app")
    app.send("/queue/orders.returns", "bad-order", persistent=True)
    app.subscribe("/queue/orders.returns", "s", ack="client-individual")
    app.nack(app.listener.wait_for(1)[0])  # no redeliveries allowed: straight to the DLQ

    r = raw_login(broker, clients, "app")
    r.send_frame("SUBSCRIBE", {"id": "dlq", "destination": "/queue/DLQ.orders.returns"})
    assert refused(r).get("message") == "user 'app' may not read from /queue/DLQ.orders.returns"

    ops = login(broker, clients, "ops")  # read: /queue/DLQ.>
    ops.subscribe("/queue/DLQ.orders.returns", "dlq")
    dead = ops.listener.wait_for(1)[0]
    assert dead.body == "bad-order" and dead.headers["original-destination"] == "/queue/orders.returns"


# --- security off ---------------------------------------------------------------------------

def test_with_security_disabled_credentials_are_ignored_and_nothing_is_checked(start_broker, clients):
    broker = start_broker(security=th.security(*SECURITY["users"], enabled=False))
    for headers in ({}, {"login": "app", "passcode": "wrong"}, {"login": "nobody", "passcode": "x"}):
        r = clients.raw(broker)
        assert r.connect("1.2", headers).command == "CONNECTED", headers
    app = clients.new(broker, version="1.2", login="app", passcode="wrong")
    app.subscribe("/queue/payments", "s")  # outside app's patterns: not checked
    app.send("/queue/payments", "unchecked")
    assert app.listener.wait_for(1)[0].body == "unchecked"
    assert "STOMP security off" in broker.log_text()

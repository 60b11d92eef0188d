"""GET /metrics in the Prometheus text format, parsed by prometheus_client's own parser (Debian's
python3-prometheus-client): every family the contract lists is there with its type, histograms
are cumulative and end at +Inf, and the values move with what real stomp.py clients do."""

import tandem_harness as th

FAMILIES = {
    "tandem_up": "gauge", "tandem_role": "gauge", "tandem_epoch": "gauge",
    "tandem_lease_heartbeat_age_seconds": "gauge", "tandem_failovers": "counter",
    "tandem_fencing_events": "counter", "tandem_connections": "gauge",
    "tandem_connections_accepted": "counter", "tandem_messages_in": "counter",
    "tandem_messages_out": "counter", "tandem_destination_depth": "gauge",
    "tandem_destination_enqueued": "counter", "tandem_destination_dequeued": "counter",
    "tandem_destination_consumers": "gauge", "tandem_journal_fsync_seconds": "histogram",
    "tandem_journal_group_size": "histogram", "tandem_journal_bytes_written": "counter",
    "tandem_journal_segments": "gauge", "tandem_journal_bytes": "gauge",
    "tandem_store_limit_bytes": "gauge", "tandem_recovery_seconds": "gauge",
    "tandem_auth_failures": "counter",
}


def value(m, name, **labels):
    return th.sample_value(m, name, labels)


def check_histogram(m, name):
    buckets = [s for s in m[name].samples if s.name == name + "_bucket"]
    assert buckets[-1].labels["le"] == "+Inf"
    counts = [s.value for s in buckets]
    assert counts == sorted(counts), f"{name} buckets are not cumulative: {counts}"
    assert counts[-1] == value(m, name + "_count")
    return counts[-1]


def test_every_family_is_there_with_its_type(start_broker):
    node = start_broker(http=True, storage={"max_bytes": "64MiB"})
    m = node.api().metrics()
    for name, typ in FAMILIES.items():
        assert name in m, f"family {name} missing; got {sorted(m)}"
        assert m[name].type == typ, f"{name} is {m[name].type}, expected {typ}"
        assert m[name].documentation, f"{name} has no HELP"
    assert value(m, "tandem_up") == 1
    assert [value(m, "tandem_role", role=r) for r in ("standby", "activating", "active", "fenced")] == [0, 0, 1, 0]
    assert value(m, "tandem_store_limit_bytes") == 64 << 20
    assert value(m, "tandem_recovery_seconds") >= 0
    check_histogram(m, "tandem_journal_fsync_seconds")
    check_histogram(m, "tandem_journal_group_size")


def test_values_move_with_traffic(start_broker, clients):
    node = start_broker(http=True)
    api = node.api()
    before = api.metrics()
    producer = clients.new(node)
    consumer = clients.new(node)
    for i in range(20):
        producer.send("/queue/metrics.q", f"m{i}", persistent=True)
    consumer.subscribe("/queue/metrics.other", "o")
    after = api.metrics()
    assert value(after, "tandem_messages_in_total") == value(before, "tandem_messages_in_total") + 20
    assert value(after, "tandem_destination_depth", destination="/queue/metrics.q") == 20
    assert value(after, "tandem_destination_enqueued_total", destination="/queue/metrics.q") == 20
    assert value(after, "tandem_destination_consumers", destination="/queue/metrics.other") == 1
    assert value(after, "tandem_connections", protocol="stomp") == 2
    assert value(after, "tandem_connections_accepted_total") >= 2
    # Each persistent send was an fsync (or shared one): the histogram counted them.
    fsyncs = check_histogram(after, "tandem_journal_fsync_seconds")
    assert fsyncs >= check_histogram(before, "tandem_journal_fsync_seconds") + 1
    assert value(after, "tandem_journal_fsync_seconds_sum") > 0
    groups = check_histogram(after, "tandem_journal_group_size")
    assert groups == fsyncs
    assert value(after, "tandem_journal_group_size_sum") >= 20
    assert value(after, "tandem_journal_bytes_written_total") > value(before, "tandem_journal_bytes_written_total") + 20 * 10
    assert value(after, "tandem_journal_segments") >= 1 and value(after, "tandem_journal_bytes") > 0

    consumer.subscribe("/queue/metrics.q", "q")
    consumer.listener.wait_for(20)
    th.wait_until(lambda: value(api.metrics(), "tandem_destination_depth", destination="/queue/metrics.q") == 0,
                  what="the queue to drain")
    drained = api.metrics()
    assert value(drained, "tandem_messages_out_total") == value(before, "tandem_messages_out_total") + 20
    assert value(drained, "tandem_destination_dequeued_total", destination="/queue/metrics.q") == 20
    # Counters of the process survive the connections that made them.
    producer.disconnect()
    consumer.disconnect()
    th.wait_until(lambda: value(api.metrics(), "tandem_connections", protocol="stomp") == 0, what="no connections")
    assert value(api.metrics(), "tandem_connections_accepted_total") == value(drained, "tandem_connections_accepted_total")


def test_label_values_with_quotes_and_backslashes_parse(start_broker, clients):
    node = start_broker(http=True)
    name = '/queue/odd"name\\with.quote'
    clients.new(node).send(name, "x", persistent=True)
    m = node.api().metrics()
    assert value(m, "tandem_destination_depth", destination=name) == 1


def test_destination_names_that_are_not_utf8_parse_with_a_replacement_character(start_broker, clients):
    # STOMP header values are bytes; the broker keeps a destination name as sent. /metrics is
    # UTF-8: such a name's bytes that are not well-formed UTF-8 become U+FFFD, and the page as
    # a whole stays valid (decoded strictly here, not with the harness's errors="replace").
    import http.client

    from prometheus_client.parser import text_string_to_metric_families

    node = start_broker(http=True)
    raw = clients.raw(node)
    assert raw.connect("1.2").command == "CONNECTED"
    bad = b"/queue/caf\xc3\xa9.\xff\xfe.\xc3"  # well-formed, two stray bytes, a sequence cut short
    raw.send_raw(b"SEND\ndestination:" + bad + b"\npersistent:true\nreceipt:r1\n\nx\x00")
    assert raw.read_frame().command == "RECEIPT"
    clients.new(node).send('/queue/plain"one', "y", persistent=True)

    c = http.client.HTTPConnection("127.0.0.1", node.http_port, timeout=10)
    try:
        c.request("GET", "/metrics")
        r = c.getresponse()
        body = r.read()
    finally:
        c.close()
    assert r.status == 200
    text = body.decode("utf-8")  # raises on any invalid byte
    m = {f.name: f for f in text_string_to_metric_families(text)}
    assert value(m, "tandem_destination_depth", destination="/queue/caf\u00e9.\ufffd\ufffd.\ufffd") == 1
    assert value(m, "tandem_destination_depth", destination='/queue/plain"one') == 1

"""From the comparison's run records to what it prints and writes: medians with [min-max] per
broker, how far Tandem is ahead (a factor > 1 means Tandem is better on that row, whichever way
"better" points: higher throughput, lower time or memory; < 1 means ActiveMQ is better), the
resource figures, a text table, a markdown table ready to paste into the README, and the JSON.
"""

import statistics

import workloads

BROKERS = ("activemq", "tandem")


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values),
            "values": values}


def ahead(amq, tandem, higher_is_better):
    if not amq or not tandem or not amq["median"] or not tandem["median"]:
        return None
    r = tandem["median"] / amq["median"]
    return r if higher_is_better else 1 / r


def _values(records, broker, key):
    out = []
    for r in records:
        if r["broker"] != broker:
            continue
        if key == "a_latency" and r["workload"] == "a":
            out.append(r["latency_median_ms"])
        elif key == "f_open" and r["workload"] == "f":
            out.append(r["open_s"])
        elif r["workload"] == key:
            out.append(r["value"])
    return out


def per_round_ahead(records, key, higher_is_better):
    """Tandem-ahead factor within each round (same minutes, same disk mood), as a spread."""
    by = {}
    for b in BROKERS:
        for r in records:
            if r["broker"] == b and r["workload"] == key and r["value"]:
                by[(b, r["round"])] = r["value"]
    rounds = sorted({rnd for (_, rnd) in by})
    ratios = []
    for rnd in rounds:
        if ("activemq", rnd) in by and ("tandem", rnd) in by:
            f = by[("tandem", rnd)] / by[("activemq", rnd)]
            ratios.append(f if higher_is_better else 1 / f)
    return spread(ratios)


def summarize(records, failover_records, settings):
    labels = workloads.row_labels(settings)
    rows = []
    for key, _, unit, better_high in workloads.ROWS:
        amq, tandem = (spread(_values(records, b, key)) for b in BROKERS)
        if amq is None and tandem is None:
            continue
        rows.append({"key": key, "label": labels[key], "unit": unit, "higher_is_better": better_high,
                     "activemq": amq, "tandem": tandem, "tandem_ahead": ahead(amq, tandem, better_high),
                     "per_round_ahead": per_round_ahead(records, key, better_high)
                     if key in workloads.MEASURED else None})
    tandem_fo = spread([r["value"] for r in failover_records if r["pair"] == "tandem"])
    if tandem_fo and not any(r["pair"] != "tandem" for r in failover_records):
        rows.append({"key": "tandem_failover", "label": "failover: kill -9 -> first receipt (Tandem pair only)",
                     "unit": "ms", "higher_is_better": False, "activemq": None, "tandem": tandem_fo,
                     "tandem_ahead": None, "per_round_ahead": None})
        return rows
    for key, label in (("amq_tuned", f"failover: kill -9 -> first receipt, ActiveMQ lock poll "
                                     f"{settings.amq_lock_ms} ms"),
                       ("amq_default", "failover: kill -9 -> first receipt, ActiveMQ defaults (10 s poll)")):
        amq = spread([r["value"] for r in failover_records if r["pair"] == key])
        if amq is None and tandem_fo is None:
            continue
        rows.append({"key": key, "label": label, "unit": "ms", "higher_is_better": False, "activemq": amq,
                     "tandem": tandem_fo, "tandem_ahead": ahead(amq, tandem_fo, False), "per_round_ahead": None,
                     "lock_ms": settings.amq_lock_ms if key == "amq_tuned" else 10000})
    return rows


def resources(records, disk):
    """Per workload and broker: medians of peak RSS (MiB), broker CPU s per 10,000 messages (or
    deliveries, or connections) and device flushes per message; disk bytes per stored message."""
    out = {}
    for key in workloads.MEASURED:
        for b in BROKERS:
            rs = [r for r in records if r["broker"] == b and r["workload"] == key]
            if not rs:
                continue
            flushes = [r["device_flushes"] / r["messages"] for r in rs if r["device_flushes"] is not None and r["messages"]]
            out.setdefault(key, {})[b] = {
                "peak_rss_mib": round(statistics.median(r["peak_rss_kib"] for r in rs) / 1024, 1),
                "cpu_s_per_10k": round(statistics.median(r["broker_cpu_s_per_10k"] for r in rs
                                                         if r["broker_cpu_s_per_10k"] is not None), 3),
                "device_flushes_per_msg": round(statistics.median(flushes), 3) if flushes else None,
            }
    for b in BROKERS:
        per_msg = [d["bytes_per_message"] for d in disk if d["broker"] == b]
        idle = [d["idle_rss_kib"] for d in disk if d["broker"] == b]
        if per_msg:
            out.setdefault("disk", {})[b] = {"bytes_per_message": round(statistics.median(per_msg)),
                                            "idle_rss_mib": round(statistics.median(idle) / 1024, 1)}
    return out


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if a >= 1 else f"{v:.3f}"


def cell(s):
    if s is None:
        return "-"
    if s["n"] == 1:
        return fmt(s["median"])
    return f"{fmt(s['median'])} [{fmt(s['min'])}–{fmt(s['max'])}]"


def factor(v):
    return "-" if v is None else f"{v:.2f}×"


def table_rows(rows, res):
    """(header, rows) of the main table and of the resource table, as lists of strings."""
    main = [["workload", "unit", "ActiveMQ median [min–max]", "Tandem median [min–max]", "Tandem ahead"]]
    for r in rows:
        main.append([r["label"], r["unit"], cell(r["activemq"]), cell(r["tandem"]), factor(r["tandem_ahead"])])
    resource = [["workload", "peak RSS MiB (ActiveMQ / Tandem)", "broker CPU s per 10,000 (ActiveMQ / Tandem)",
                 "device flushes per message (ActiveMQ / Tandem)"]]
    names = {k: l for k, l, _, _ in workloads.ROWS}
    for key in workloads.MEASURED:
        if key not in res:
            continue
        a, t = res[key].get("activemq", {}), res[key].get("tandem", {})
        both = lambda k: f"{fmt(a.get(k))} / {fmt(t.get(k))}"  # noqa: E731
        resource.append([names[key].split(")")[0] + ")", both("peak_rss_mib"), both("cpu_s_per_10k"),
                         both("device_flushes_per_msg")])
    if "disk" in res:
        a, t = res["disk"].get("activemq", {}), res["disk"].get("tandem", {})
        resource.append(["bytes on disk per stored message (fresh store)",
                         f"{fmt(a.get('bytes_per_message'))} / {fmt(t.get('bytes_per_message'))}", "", ""])
        resource.append(["RSS after start, idle (MiB)",
                         f"{fmt(a.get('idle_rss_mib'))} / {fmt(t.get('idle_rss_mib'))}", "", ""])
    return main, resource


def text_table(table):
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = []
    for n, row in enumerate(table):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(table):
    lines = ["| " + " | ".join(table[0]) + " |", "|" + "|".join("---" for _ in table[0]) + "|"]
    for row in table[1:]:
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)

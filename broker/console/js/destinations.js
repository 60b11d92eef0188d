// The destinations view: every queue and topic with live depths and rates
// (GET /api/v1/destinations on every poll), filter by name, purge and delete.

import * as api from "./api.js";
import {deleteDestination, purgeQueue} from "./actions.js";
import {adminButton, h, setAttr, setText, syncRows, table} from "./dom.js";
import * as fmt from "./format.js";
import {History, drawSparkline, sparkline} from "./sparkline.js";

const COLUMNS = [
  {label: "Destination"},
  {label: "Depth", num: true, title: "Messages waiting plus delivered-but-unacknowledged"},
  {label: "", cls: "spark-col", title: "Depth over the last minute"},
  {label: "In flight", num: true, title: "Delivered, not yet acknowledged"},
  {label: "In", num: true, title: "Messages enqueued per second (last 10 s)"},
  {label: "Out", num: true, title: "Messages dequeued per second (last 10 s)"},
  {label: "Enqueued", num: true},
  {label: "Dequeued", num: true},
  {label: "Consumers", num: true, title: "Consumers of a queue; subscribers of a topic"},
  {label: "Producers", num: true, title: "Connections that sent to it in the last 60 s"},
  {label: "Oldest", num: true, title: "Age of the oldest waiting message"},
  {label: "DLQ", num: true, title: "Messages in its dead-letter queue"},
  {label: "", cls: "actions-col"},
];

export const queueHref = (name) => `#/queue/${encodeURIComponent(name.replace(/^\/queue\//, ""))}`;

export function create(ctx) {
  const history = new History(30);
  let latest = [];
  const filter = h("input", {type: "search", class: "filter", placeholder: "Filter by name",
    "aria-label": "Filter destinations by name", oninput: () => render()});
  const summary = h("span", {class: "muted", id: "dest-summary"});
  const {table: t, tbody} = table(COLUMNS, {id: "destinations"});
  const empty = h("p", {class: "empty", hidden: true});
  const el = h("div", {class: "panel"},
    h("div", {class: "panel-head"}, h("h2", {}, "Destinations"), summary, h("span", {class: "grow"}), filter),
    h("div", {class: "table-wrap"}, t), empty);

  function cell(cls) {
    return h("td", {class: cls});
  }

  function createRow(d) {
    const nameCell = h("td", {class: "name"},
      d.kind === "queue" ? h("a", {href: queueHref(d.name)}, d.name) : h("span", {}, d.name),
      h("span", {class: `tag ${d.kind}`}, d.kind));
    const actions = h("td", {class: "actions"});
    if (d.kind === "queue") {
      actions.append(h("a", {class: "button small", href: queueHref(d.name)}, "Browse"));
      const purge = adminButton("Purge…", ctx.session, {"data-action": "purge"},
        (e) => purgeQueue(current(d.name), e.currentTarget).then(ctx.refreshSoon));
      actions.append(purge);
    }
    actions.append(adminButton("Delete…", ctx.session, {"data-action": "delete", class: "button small danger-text"},
      (e) => deleteDestination(current(d.name), e.currentTarget).then(ctx.refreshSoon)));
    const depth = cell("num depth");
    const spark = h("td", {class: "spark-col"}, sparkline());
    return h("tr", {}, nameCell, depth, spark, ...Array.from({length: 9}, () => cell("num")), actions);
  }

  function updateRow(row, d) {
    const c = row.cells;
    setText(c[1], fmt.count(d.depth));
    drawSparkline(c[2].firstChild, history.series.get(d.name) || []);
    const topic = d.kind === "topic";
    setText(c[3], fmt.count(d.inflight));
    setText(c[4], fmt.rate(d.enqueue_rate));
    setText(c[5], fmt.rate(d.dequeue_rate));
    setText(c[6], fmt.count(d.enqueued));
    setText(c[7], fmt.count(d.dequeued));
    setText(c[8], fmt.count(d.consumers ?? d.subscribers));
    setAttr(c[8], "title", topic ? `${fmt.count(d.subscribers)} subscribers, ${fmt.count(d.durable_subscribers)} durable` : null);
    setText(c[9], fmt.count(d.producers));
    setText(c[10], d.oldest_age_ms ? fmt.duration(d.oldest_age_ms) : "—");
    setText(c[11], d.dlq ? fmt.count(d.dlq_depth) : "—");
    setAttr(c[11], "title", d.dlq ? d.dlq : null);
    c[11].classList.toggle("bad", (d.dlq_depth || 0) > 0);
    c[4].classList.toggle("zero", !d.enqueue_rate);
    c[5].classList.toggle("zero", !d.dequeue_rate);
  }

  const current = (name) => latest.find((d) => d.name === name) || {name, kind: name.startsWith("/topic/") ? "topic" : "queue"};

  function render() {
    const words = filter.value.trim().toLowerCase();
    const shown = latest.filter((d) => !words || d.name.toLowerCase().includes(words));
    syncRows(tbody, shown, (d) => d.name, createRow, updateRow);
    const queues = latest.filter((d) => d.kind === "queue");
    const waiting = queues.reduce((n, d) => n + (d.depth || 0), 0);
    setText(summary, `${fmt.plural(queues.length, "queue")} · ${fmt.plural(latest.length - queues.length, "topic")} · ` +
      `${fmt.plural(waiting, "message")} in queues`);
    empty.hidden = shown.length > 0;
    setText(empty, latest.length ? "No destination matches the filter." :
      "No destinations yet. A queue or topic appears when a client first sends to it or subscribes to it.");
  }

  async function refresh() {
    const r = await api.get("/api/v1/destinations");
    latest = (r.destinations || []).slice().sort((a, b) =>
      a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === "queue" ? -1 : 1);
    for (const d of latest) history.add(d.name, d.depth || 0);
    render();
  }

  return {el, refresh};
}

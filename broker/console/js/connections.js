// The connections view: every client connection (GET /api/v1/connections), with its
// subscriptions, and closing one (DELETE /api/v1/connections/ID) after a confirmation.

import * as api from "./api.js";
import {adminButton, fill, h, setAttr, setText, syncRows, table} from "./dom.js";
import * as fmt from "./format.js";
import {confirmAction, runAction} from "./ui.js";

const COLUMNS = [
  {label: "Client"},
  {label: "Protocol"},
  {label: "Login"},
  {label: "Client ID"},
  {label: "Connected"},
  {label: "Subscriptions"},
  {label: "In flight", num: true, title: "Delivered, not yet acknowledged"},
  {label: "Messages in", num: true},
  {label: "Messages out", num: true},
  {label: "", cls: "actions-col"},
];

const SHOWN_SUBSCRIPTIONS = 4;

function describe(c) {
  return `connection ${c.id} from ${c.remote}${c.client_id ? ` (${c.client_id})` : c.login ? ` (${c.login})` : ""}`;
}

async function closeConnection(c, button, done) {
  const body = [
    h("p", {}, "Close ", h("strong", {}, describe(c)), "?"),
    `The client receives an ERROR "closed by an administrator"` +
    (c.inflight ? ` and its ${fmt.plural(c.inflight, "unacknowledged message")} are redelivered to other consumers.` : "."),
    "A client with a failover URI reconnects by itself.",
  ];
  if (!(await confirmAction({title: "Close a connection", body, ok: "Close connection"}))) return;
  await runAction(`Closing ${describe(c)}`, button,
    () => api.del(`/api/v1/connections/${encodeURIComponent(c.id)}`), () => `Closed ${describe(c)}`);
  done();
}

function subscriptionChips(c) {
  const subs = c.subscriptions || [];
  if (!subs.length) return [h("span", {class: "muted"}, "none")];
  const chip = (s) => h("span", {class: "chip", title:
      `id ${s.id} · ack ${s.ack} · prefetch ${s.prefetch} · ${s.inflight} in flight` +
      (s.durable ? ` · durable '${s.durable}'` : "") + (s.selector ? ` · selector ${s.selector}` : "")},
    s.destination);
  const out = subs.slice(0, SHOWN_SUBSCRIPTIONS).map(chip);
  if (subs.length > SHOWN_SUBSCRIPTIONS) {
    out.push(h("span", {class: "muted", title: subs.slice(SHOWN_SUBSCRIPTIONS).map((s) => s.destination).join("\n")},
      `+${subs.length - SHOWN_SUBSCRIPTIONS} more`));
  }
  return out;
}

export function create(ctx) {
  let latest = [];
  const summary = h("span", {class: "muted"});
  const {table: t, tbody} = table(COLUMNS, {id: "connections"});
  const empty = h("p", {class: "empty", hidden: true}, "No client is connected.");
  const el = h("div", {class: "panel"},
    h("div", {class: "panel-head"}, h("h2", {}, "Connections"), summary),
    h("div", {class: "table-wrap"}, t), empty);

  function createRow(c) {
    const close = adminButton("Close…", ctx.session, {"data-action": "close", class: "button small danger-text"},
      (e) => closeConnection(latest.find((x) => x.id === c.id) || c, e.currentTarget, ctx.refreshSoon));
    const row = h("tr", {}, ...COLUMNS.slice(0, -1).map((col) => h("td", {class: col.num ? "num" : ""})),
      h("td", {class: "actions"}, close));
    row.cells[0].classList.add("mono");
    row.cells[5].classList.add("subs");
    return row;
  }

  function updateRow(row, c) {
    const cells = row.cells;
    setText(cells[0], c.remote);
    setText(cells[1], c.protocol + (c.tls ? " · TLS" : ""));
    setText(cells[2], c.login || "—");
    setText(cells[3], c.client_id || "—");
    setText(cells[4], fmt.ago(Date.now() - c.connected_ms));
    setAttr(cells[4], "title", fmt.timestamp(c.connected_ms));
    const subs = JSON.stringify(c.subscriptions || []);
    if (row.dataset.subs !== subs) {
      row.dataset.subs = subs;
      fill(cells[5], subscriptionChips(c));
    }
    setText(cells[6], fmt.count(c.inflight));
    setText(cells[7], fmt.count(c.messages_in));
    setText(cells[8], fmt.count(c.messages_out));
  }

  async function refresh() {
    const r = await api.get("/api/v1/connections");
    latest = (r.connections || []).slice().sort((a, b) => a.connected_ms - b.connected_ms);
    syncRows(tbody, latest, (c) => c.id, createRow, updateRow);
    setText(summary, fmt.plural(latest.length, "connection"));
    empty.hidden = latest.length > 0;
  }

  return {el, refresh};
}

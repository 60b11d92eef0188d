// The durable subscriptions view (GET /api/v1/subscriptions/durable) and deleting an inactive
// one with its messages (DELETE .../CLIENT_ID/NAME).

import * as api from "./api.js";
import {adminButton, h, setAttr, setText, syncRows, table} from "./dom.js";
import * as fmt from "./format.js";
import {confirmAction, runAction} from "./ui.js";

const COLUMNS = [
  {label: "Client ID"},
  {label: "Subscription"},
  {label: "Topic"},
  {label: "Selector"},
  {label: "State"},
  {label: "Depth", num: true, title: "Messages kept for it"},
  {label: "", cls: "actions-col"},
];

const key = (s) => `${s.client_id}\u0000${s.name}`;

async function remove(s, button, done) {
  const body = [
    h("p", {}, "Delete the durable subscription ", h("strong", {}, `${s.client_id}/${s.name}`), " on ", h("strong", {}, s.topic), "?"),
    `Its ${fmt.plural(s.depth || 0, "kept message")} are deleted with it; the client starts afresh when it subscribes again.`,
  ];
  if (!(await confirmAction({title: "Delete a durable subscription", body, ok: "Delete subscription"}))) return;
  await runAction(`Deleting ${s.client_id}/${s.name}`, button,
    () => api.del(`/api/v1/subscriptions/durable/${encodeURIComponent(s.client_id)}/${encodeURIComponent(s.name)}`),
    () => `Deleted durable subscription ${s.client_id}/${s.name}`);
  done();
}

export function create(ctx) {
  let latest = [];
  const summary = h("span", {class: "muted"});
  const {table: t, tbody} = table(COLUMNS, {id: "durable"});
  const empty = h("p", {class: "empty", hidden: true}, "No durable topic subscription exists.");
  const el = h("div", {class: "panel"},
    h("div", {class: "panel-head"}, h("h2", {}, "Durable subscriptions"), summary),
    h("div", {class: "table-wrap"}, t), empty);

  function createRow(s) {
    const button = adminButton("Delete…", ctx.session, {class: "button small danger-text"},
      (e) => remove(latest.find((x) => key(x) === key(s)) || s, e.currentTarget, ctx.refreshSoon));
    return h("tr", {}, ...COLUMNS.slice(0, -1).map((c) => h("td", {class: c.num ? "num" : ""})),
      h("td", {class: "actions"}, button));
  }

  function updateRow(row, s) {
    const c = row.cells;
    setText(c[0], s.client_id);
    setText(c[1], s.name);
    setText(c[2], s.topic);
    setText(c[3], s.selector || "—");
    setText(c[4], s.active ? "active" : "inactive");
    c[4].className = s.active ? "ok-text" : "muted";
    setText(c[5], fmt.count(s.depth));
    // An attached subscriber must disconnect first (the API answers 409); say so up front.
    const button = c[6].querySelector("button");
    if (ctx.session.role === "admin") {
      button.disabled = s.active;
      setAttr(c[6], "title", s.active ? "A subscriber is attached; it can be deleted once it disconnects" : null);
    }
  }

  async function refresh() {
    const r = await api.get("/api/v1/subscriptions/durable");
    latest = (r.subscriptions || []).slice().sort((a, b) => key(a).localeCompare(key(b)));
    syncRows(tbody, latest, key, createRow, updateRow);
    setText(summary, fmt.plural(latest.length, "subscription"));
    empty.hidden = latest.length > 0;
  }

  return {el, refresh};
}

// One queue's page: its live figures (GET /api/v1/queues/NAME) and its messages, browsed
// without consuming them (GET .../messages?offset&limit), a page at a time; a click on a
// message shows its properties, headers and body preview.

import * as api from "./api.js";
import {deleteDestination, purgeQueue} from "./actions.js";
import {adminButton, fill, h, setText, syncRows, table} from "./dom.js";
import * as fmt from "./format.js";

const COLUMNS = [
  {label: "#", num: true},
  {label: "Message ID"},
  {label: "Priority", num: true},
  {label: "Sent"},
  {label: "Size", num: true},
  {label: "State"},
  {label: "Body"},
];

const PAGE_SIZES = [25, 50, 100, 200];

function flags(m) {
  const out = [];
  if (m.inflight) out.push(h("span", {class: "tag inflight", title: "Delivered to a consumer, not yet acknowledged"}, "in flight"));
  if (m.redelivered) out.push(h("span", {class: "tag redelivered"}, "redelivered"));
  if (!m.persistent) out.push(h("span", {class: "tag", title: "Kept in memory only"}, "non-persistent"));
  if (m.expires_ms) out.push(h("span", {class: "tag", title: `Expires ${fmt.timestamp(m.expires_ms)}`}, "expires"));
  return out.length ? out : [h("span", {class: "muted"}, "waiting")];
}

function bodyText(m) {
  if (m.body_binary) return `binary, ${fmt.bytes(m.size)}`;
  return m.body_preview || "";
}

export function create(ctx) {
  const name = `/queue/${ctx.route.arg}`;
  const path = api.destinationPath(name);
  let offset = 0;
  let limit = 50;
  let total = 0;
  let queue = {name, kind: "queue"};
  let messages = [];
  let selected = null;  // message_id shown in the detail panel

  const stats = h("div", {class: "stat-row", id: "queue-stats"});
  const purge = adminButton("Purge…", ctx.session, {id: "purge-queue", class: "button"},
    (e) => purgeQueue(queue, e.currentTarget).then((done) => done && refreshAll()));
  const remove = adminButton("Delete…", ctx.session, {id: "delete-queue", class: "button danger-text"},
    (e) => deleteDestination(queue, e.currentTarget).then((done) => {
      if (done) location.hash = "#/destinations";
    }));
  const send = h("a", {class: "button", href: `#/send?to=${encodeURIComponent(name)}`}, "Send a message…");
  const {table: t, tbody} = table(COLUMNS, {id: "messages", class: "data clickable"});
  const range = h("span", {class: "muted", id: "page-range"});
  const prev = h("button", {type: "button", class: "button small", onclick: () => page(-1)}, "← Previous");
  const next = h("button", {type: "button", class: "button small", onclick: () => page(1)}, "Next →");
  const size = h("select", {"aria-label": "Messages per page", onchange: () => {
    limit = Number(size.value);
    offset = 0;
    loadMessages();
  }}, PAGE_SIZES.map((n) => h("option", {value: n, selected: n === limit}, `${n} per page`)));
  const empty = h("p", {class: "empty", id: "messages-empty", hidden: true}, "The queue is empty.");
  const detail = h("aside", {class: "detail", id: "message-detail", hidden: true});
  const pager = h("div", {class: "pager"}, range, h("span", {class: "grow"}), size, prev, next);

  const el = h("div", {class: "panel"},
    h("div", {class: "panel-head"},
      h("a", {href: "#/destinations", class: "crumb"}, "Destinations"), h("span", {class: "crumb-sep"}, "›"),
      h("h2", {}, name), h("span", {class: "grow"}), send, purge, remove),
    stats,
    h("div", {class: "browse"},
      h("div", {class: "browse-list"},
        h("div", {class: "table-wrap"}, t), empty, pager),
      detail));

  function renderStats() {
    const items = [
      ["Depth", fmt.count(queue.depth)], ["In flight", fmt.count(queue.inflight)],
      ["Consumers", fmt.count(queue.consumers)], ["Producers", fmt.count(queue.producers)],
      ["In", fmt.rate(queue.enqueue_rate)], ["Out", fmt.rate(queue.dequeue_rate)],
      ["Enqueued", fmt.count(queue.enqueued)], ["Dequeued", fmt.count(queue.dequeued)],
      ["Oldest", queue.oldest_age_ms ? fmt.duration(queue.oldest_age_ms) : "—"],
      ["DLQ", queue.dlq ? `${fmt.count(queue.dlq_depth)}` : "—"],
    ];
    if (stats.childElementCount !== items.length) {
      fill(stats, items.map(([label]) => h("div", {class: "stat"}, h("span", {class: "stat-label"}, label), h("span", {class: "stat-value"}))));
    }
    items.forEach(([, value], i) => setText(stats.children[i].lastChild, value));
  }

  function createRow(m) {
    const row = h("tr", {tabindex: 0}, ...COLUMNS.map((c) => h("td", {class: c.num ? "num" : ""})));
    row.cells[1].classList.add("mono");
    row.cells[6].classList.add("preview");
    const open = () => show(m.message_id);
    row.addEventListener("click", open);
    row.addEventListener("keydown", (e) => {
      if (e.key === "Enter") open();
    });
    return row;
  }

  function updateRow(row, m) {
    const i = messages.indexOf(m);
    setText(row.cells[0], fmt.count(offset + i + 1));
    setText(row.cells[1], m.message_id);
    setText(row.cells[2], m.priority);
    setText(row.cells[3], fmt.clock(m.timestamp_ms));
    row.cells[3].title = fmt.timestamp(m.timestamp_ms);
    setText(row.cells[4], fmt.bytes(m.size));
    const state = flags(m).map((f) => f.textContent).join(",");
    if (row.dataset.state !== state) {
      row.dataset.state = state;
      fill(row.cells[5], flags(m));
    }
    setText(row.cells[6], bodyText(m));
    row.classList.toggle("selected", m.message_id === selected);
  }

  function show(id) {
    selected = id;
    for (const row of tbody.rows) row.classList.toggle("selected", row.dataset.key === id);
    renderDetail();
  }

  function renderDetail() {
    const m = messages.find((x) => x.message_id === selected);
    detail.hidden = selected === null;
    if (selected === null) return;
    // Rebuilt only when what it shows changed, so a text selection in it survives the polls.
    const shown = JSON.stringify([selected, m || null]);
    if (detail.dataset.shown === shown) return;
    detail.dataset.shown = shown;
    const close = h("button", {type: "button", class: "alert-close", title: "Close", "aria-label": "Close",
      onclick: () => show(null)}, "×");
    if (!m) {
      fill(detail, h("div", {class: "detail-head"}, h("h3", {}, "Message"), close),
        h("p", {class: "muted"}, `${selected} is no longer on this page (consumed, purged or moved).`));
      return;
    }
    const props = [
      ["Message ID", m.message_id], ["Priority", m.priority], ["Persistent", m.persistent ? "yes" : "no"],
      ["Sent", fmt.timestamp(m.timestamp_ms)], ["Expires", m.expires_ms ? fmt.timestamp(m.expires_ms) : "never"],
      ["Redelivered", m.redelivered ? "yes" : "no"], ["In flight", m.inflight ? "yes (delivered, unacknowledged)" : "no"],
      ["Size", `${fmt.count(m.size)} bytes`],
    ];
    const headers = Object.entries(m.headers || {}).sort(([a], [b]) => a.localeCompare(b));
    const note = m.body_binary ? "The body is not text: its first bytes are shown in base64."
      : m.body_truncated ? `Showing the first ${fmt.count(new TextEncoder().encode(m.body_preview || "").length)} of ${fmt.count(m.size)} bytes.` : null;
    fill(detail,
      h("div", {class: "detail-head"}, h("h3", {}, "Message"), close),
      h("dl", {class: "props"}, props.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])),
      h("h4", {}, `Headers (${headers.length})`),
      headers.length ? h("table", {class: "kv"}, h("tbody", {}, headers.map(([k, v]) =>
        h("tr", {}, h("th", {scope: "row"}, k), h("td", {}, String(v)))))) : h("p", {class: "muted"}, "none"),
      h("h4", {}, "Body"),
      note ? h("p", {class: "muted small"}, note) : null,
      h("pre", {class: "body-preview", id: "body-preview"}, m.body_preview || ""));
  }

  function page(direction) {
    // A page may hold fewer than `limit` messages (the node's journal-read budget): the next
    // one starts after the last message shown.
    const step = direction > 0 && messages.length ? messages.length : limit;
    offset = Math.max(0, offset + direction * step);
    loadMessages();
  }

  async function loadMessages() {
    let r;
    try {
      r = await api.get(`${path}/messages?offset=${offset}&limit=${limit}`);
    } catch (err) {
      if (!(err instanceof api.ApiError) || err.status !== 403) throw err;
      // A viewer may see the queue's figures but not its messages without read permission.
      messages = [];
      syncRows(tbody, messages, (m) => m.message_id, createRow, updateRow);
      setText(empty, `${err.message}: browsing needs the admin role or read permission on this queue.`);
      empty.hidden = false;
      empty.classList.add("refused");
      t.hidden = pager.hidden = true;
      return;
    }
    t.hidden = pager.hidden = false;
    empty.classList.remove("refused");
    setText(empty, "The queue is empty.");
    total = r.total || 0;
    if (offset > 0 && offset >= total) {  // the queue shrank under the current page
      offset = Math.max(0, Math.floor((total - 1) / limit) * limit);
      return loadMessages();
    }
    messages = r.messages || [];
    syncRows(tbody, messages, (m) => m.message_id, createRow, updateRow);
    setText(range, total ? `Messages ${fmt.count(offset + 1)}–${fmt.count(offset + messages.length)} of ${fmt.count(total)}`
      : "No messages");
    prev.disabled = offset === 0;
    next.disabled = offset + messages.length >= total;
    empty.hidden = total > 0;
    renderDetail();
  }

  async function refreshAll() {
    queue = await api.get(path);
    renderStats();
    await loadMessages();
  }

  return {el, refresh: refreshAll};
}

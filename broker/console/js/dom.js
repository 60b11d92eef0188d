// A few DOM helpers. Text from the broker (names, headers, message bodies) only ever reaches the
// page through textContent or attribute values, never as HTML.

// h("a", {href: "#/x", class: "link"}, "text", child, ...) -> element
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export const $ = (id) => document.getElementById(id);

// Replaces the children of `el`.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// Sets text only when it changed, so polling does not touch the layout (no flicker, a
// selection inside the cell survives).
export function setText(el, text) {
  const s = String(text);
  if (el.textContent !== s) el.textContent = s;
}

export function setAttr(el, name, value) {
  if (value === null || value === undefined || value === false) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== String(value)) {
    el.setAttribute(name, String(value));
  }
}

// Keeps the rows of `tbody` in step with `items` (in that order), reusing the row of each key:
// create(item) builds a row once, update(row, item) refreshes its cells on every poll.
export function syncRows(tbody, items, key, create, update) {
  const old = new Map();
  for (const row of tbody.rows) old.set(row.dataset.key, row);
  let at = 0;
  for (const item of items) {
    const k = String(key(item));
    let row = old.get(k);
    if (row) old.delete(k);
    else {
      row = create(item);
      row.dataset.key = k;
    }
    update(row, item);
    if (tbody.rows[at] !== row) tbody.insertBefore(row, tbody.rows[at] || null);
    at++;
  }
  for (const row of old.values()) row.remove();
}

// A button for an action only admins may take. For a viewer it is disabled and says why; the
// wrapper carries the tooltip because a disabled button receives no pointer events.
export function adminButton(label, session, attrs, onclick) {
  const button = h("button", {type: "button", class: "button small", ...attrs, onclick}, label);
  if (session.role === "admin") return button;
  button.disabled = true;
  const why = `Needs the admin role; you are signed in as '${session.user}' (${session.role})`;
  return h("span", {class: "disabled-wrap", title: why}, button);
}

// <table> with a header row; returns {table, tbody}.
export function table(columns, attrs = {}) {
  const tbody = h("tbody");
  const head = h("tr", {}, columns.map((c) =>
    h("th", {class: c.num ? "num" : c.cls, scope: "col", title: c.title}, c.label)));
  const t = h("table", {class: "data", ...attrs}, h("thead", {}, head), tbody);
  return {table: t, tbody};
}

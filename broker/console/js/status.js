// The role banner and the status cards: what the node is, at a glance. Fed by GET /api/v1/status
// on every poll; elements are built once and their text updated in place.

import {$, fill, h, setAttr, setText} from "./dom.js";
import * as fmt from "./format.js";

const ROLE_LABEL = {active: "ACTIVE", standby: "STANDBY", activating: "ACTIVATING", fenced: "FENCED"};

// The node's own clock at the time of the status, so ages do not depend on the browser's clock.
function nodeNow(s) {
  return s.started_ms && s.uptime_ms !== undefined ? s.started_ms + s.uptime_ms : Date.now();
}

function since(s) {
  const at = s.role_since_ms;
  return `since ${fmt.clock(at)} (${fmt.ago(nodeNow(s) - at)})`;
}

// The link to the active node's console, when another node is active and published its URL.
export function activeLink(s, cls = "button primary") {
  if (!s || !s.active_node || s.active_node === s.node || !s.active_console) return null;
  return h("a", {class: cls, href: s.active_console, id: "active-console-link"},
    `Open ${s.active_node}'s console →`);
}

function headline(s) {
  switch (s.role) {
    case "active":
      return [`${s.node} is active`, `Serving clients${s.stomp ? ` on ${s.stomp}` : ""} ${since(s)} · epoch ${s.epoch}`];
    case "standby": {
      const who = s.active_node
        ? `The active node is ${s.active_node}.`
        : "No node holds the lease right now; this node takes over as soon as it can.";
      return [`${s.node} is standby ${since(s)}`, `${who} This node serves no clients while it stands by.`];
    }
    case "activating":
      return [`${s.node} is activating ${since(s)}`,
        `Won epoch ${s.epoch}; recovering the journal before it opens its client ports.`];
    case "fenced":
      return [`${s.node} is fenced ${since(s)}`,
        `It lost its lease${s.reason ? ` (${s.reason})` : ""}; it serves no clients and will stand by again.`];
    default:
      return [`${s.node} is ${s.role}`, s.reason || ""];
  }
}

// Updates the banner. `switchover` is the button to show on the active node (or null).
export function renderBanner(s, switchover) {
  const banner = $("role-banner");
  setAttr(banner, "data-role", s.role);
  setText($("role-badge"), ROLE_LABEL[s.role] || s.role.toUpperCase());
  const [head, detail] = headline(s);
  setText($("role-headline"), head);
  setText($("role-detail"), detail);
  setAttr($("role-detail"), "title", s.reason || null);  // the node's own words for its last transition
  const actions = $("role-actions");
  const link = s.role === "active" ? null : activeLink(s);
  const want = link ? `link:${link.href}` : s.role === "active" && switchover ? "switchover" : "";
  if (actions.dataset.showing !== want) {
    actions.dataset.showing = want;
    fill(actions, link || (want === "switchover" ? switchover : null));
  }
  setText($("topbar-node"), s.node);
  document.title = `${s.node} · ${ROLE_LABEL[s.role] || s.role} · Tandem`;
}

// Card definitions: [id, label, value(s), sub(s), warn(s)]
const CARDS = [
  ["epoch", "Epoch", (s) => fmt.count(s.epoch), (s) => s.lease && s.lease.epoch !== s.epoch ? `lease at epoch ${s.lease.epoch}` : "of the lease"],
  ["lease", "Lease holder", (s) => (s.lease && s.lease.holder) || "none",
    (s) => !s.lease ? "" : s.lease.released ? "released by its holder"
      : `heartbeat ${fmt.ago(s.lease.heartbeat_age_ms)}`,
    (s) => s.lease && s.lease.last_error ? s.lease.last_error : null],
  ["uptime", "Uptime", (s) => fmt.duration(s.uptime_ms), (s) => `started ${fmt.clock(s.started_ms)}`],
  ["connections", "Connections", (s) => fmt.count(s.connections), (s) => s.stomp ? `STOMP on ${s.stomp}` : "no client port open"],
  ["journal", "Journal", (s) => s.store ? fmt.bytes(s.store.bytes_on_disk) : "—",
    (s) => s.store ? `${fmt.plural(s.store.segments, "segment")} · ${fmt.plural(s.store.live_messages, "message")}` : "open on the active node only"],
  ["store-limit", "Store limit", (s) => !s.store ? "—" : s.store.max_bytes ? fmt.percent(s.store.used_fraction) : "none",
    (s) => !s.store ? "" : s.store.max_bytes ? `of ${fmt.bytes(s.store.max_bytes)} used` : "storage.max_bytes not set"],
  ["failovers", "Failovers", (s) => fmt.count(s.failovers), (s) => `${fmt.plural(s.fencing_events || 0, "fencing event")}`],
  ["version", "Version", (s) => s.version || "—", (s) => s.recovery_ms !== undefined && s.recovery_ms !== null
    ? `journal recovered in ${fmt.duration(s.recovery_ms)}` : ""],
];

export function renderCards(s) {
  const host = $("cards");
  if (!host.childElementCount) {
    for (const [id, label] of CARDS) {
      host.append(h("div", {class: "card", id: `card-${id}`},
        h("div", {class: "card-label"}, label),
        h("div", {class: "card-value"}),
        h("div", {class: "card-sub"}),
        id === "store-limit" ? h("div", {class: "meter"}, h("div", {class: "meter-fill"})) : null));
    }
  }
  for (const [id, , value, sub, warn] of CARDS) {
    const card = $(`card-${id}`);
    setText(card.querySelector(".card-value"), value(s));
    const problem = warn ? warn(s) : null;
    setText(card.querySelector(".card-sub"), problem || sub(s));
    card.classList.toggle("warn", Boolean(problem));
  }
  const meter = $("card-store-limit").querySelector(".meter");
  const used = s.store && s.store.max_bytes ? Math.min(1, s.store.used_fraction || 0) : null;
  meter.hidden = used === null;
  if (used !== null) {
    meter.firstChild.style.width = `${(used * 100).toFixed(1)}%`;
    meter.classList.toggle("high", used >= 0.8);
  }
}

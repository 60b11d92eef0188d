// The broker operations the console offers, each behind a confirmation that names what will
// happen. Shared by the destinations list and the queue's own page.

import * as api from "./api.js";
import {h} from "./dom.js";
import * as fmt from "./format.js";
import {confirmAction, runAction} from "./ui.js";

const strong = (text) => h("strong", {}, text);

export async function purgeQueue(d, button) {
  const waiting = Math.max(0, (d.depth || 0) - (d.inflight || 0));
  const body = [
    h("p", {}, "Remove ", strong(fmt.plural(waiting, "message")), " waiting in ", strong(d.name), "?"),
    d.inflight ? `${fmt.plural(d.inflight, "message")} delivered to a consumer and not yet acknowledged stay.` : null,
    "This cannot be undone.",
  ].filter(Boolean);
  if (!(await confirmAction({title: `Purge ${d.name}`, body, ok: `Purge ${fmt.plural(waiting, "message")}`}))) return false;
  const r = await runAction(`Purging ${d.name}`, button,
    () => api.post(`${api.destinationPath(d.name)}/purge`),
    (r) => `Purged ${fmt.plural(r.purged, "message")} from ${d.name}`);
  return r !== undefined;
}

export async function deleteDestination(d, button) {
  const body = d.kind === "topic"
    ? [h("p", {}, "Delete ", strong(d.name), "?"),
      `Its ${fmt.plural(d.subscribers || 0, "subscriber")} lose their subscriptions and its ` +
      `${fmt.plural(d.durable_subscribers || 0, "durable subscription")} are deleted with their messages.`]
    : [h("p", {}, "Delete ", strong(d.name), " and its ", strong(fmt.plural(d.depth || 0, "message")), "?"),
      `Its ${fmt.plural(d.consumers || 0, "consumer")} get an ERROR and their subscriptions end. ` +
      "The queue is created again when a client next uses it.",
      "This cannot be undone."];
  if (!(await confirmAction({title: `Delete ${d.name}`, body, ok: `Delete ${d.name}`}))) return false;
  const r = await runAction(`Deleting ${d.name}`, button,
    () => api.del(api.destinationPath(d.name)),
    (r) => r && r.purged !== undefined ? `Deleted ${d.name} (${fmt.plural(r.purged, "message")} removed)` : `Deleted ${d.name}`);
  return r !== undefined;
}

export async function switchover(status, button) {
  const body = [
    h("p", {}, strong(status.node), " releases the lease; the standby becomes active within about a second."),
    "Connected clients are disconnected and reconnect to the new active node (failover URIs follow it by themselves). " +
    "Receipted messages are not lost.",
  ];
  if (!(await confirmAction({title: "Switch over to the standby", body, ok: "Switch over"}))) return false;
  const r = await runAction("Switchover", button, () => api.post("/api/v1/switchover"),
    () => `Switching over: ${status.node} released the lease`);
  return r !== undefined;
}

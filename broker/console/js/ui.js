// Feedback to the operator: alert banners (errors that stay until resolved or dismissed),
// short-lived toasts (an action succeeded) and the confirmation dialog for destructive actions.

import {$, fill, h} from "./dom.js";

const alerts = new Map();  // key -> element

// A banner under the top bar. `key` identifies it: showing the same key again replaces the text
// (one "unreachable" banner, not one per failed poll). Dismissible unless `sticky`.
export function showAlert(key, {kind = "error", title, text, sticky = false}) {
  let el = alerts.get(key);
  const body = [h("strong", {}, title), text ? h("span", {class: "alert-text"}, text) : null];
  if (!el) {
    el = h("div", {class: `alert ${kind}`, role: "alert", dataset: {alert: key}});
    alerts.set(key, el);
    $("alerts").append(el);
  }
  el.className = `alert ${kind}`;
  fill(el, h("div", {class: "alert-body"}, body),
    sticky ? null : h("button", {type: "button", class: "alert-close", title: "Dismiss",
      "aria-label": "Dismiss", onclick: () => clearAlert(key)}, "×"));
  return el;
}

export function clearAlert(key) {
  const el = alerts.get(key);
  if (el) {
    el.remove();
    alerts.delete(key);
  }
}

// An action failed: the API's own sentence, under a title saying which action.
export function actionFailed(what, err) {
  showAlert(`action:${what}`, {title: `${what} failed`, text: err.message});
}

export function toast(text, kind = "ok") {
  const el = h("div", {class: `toast ${kind}`, role: "status"}, text);
  $("toasts").append(el);
  setTimeout(() => el.classList.add("leaving"), 3500);
  setTimeout(() => el.remove(), 4000);
}

// Asks before a destructive action. Resolves true only for the confirm button.
// `body` is an array of paragraphs (strings or nodes); `ok` is the confirm button's label,
// which names the action ("Purge 12 messages"), never a bare "OK".
export function confirmAction({title, body, ok, danger = true}) {
  const dialog = $("confirm");
  fill($("confirm-title"), title);
  fill($("confirm-body"), ...body.map((p) => (typeof p === "string" ? h("p", {}, p) : p)));
  const okButton = $("confirm-ok");
  okButton.textContent = ok;
  okButton.className = danger ? "button danger" : "button primary";
  dialog.returnValue = "";
  dialog.showModal();
  $("confirm-cancel").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), {once: true});
  });
}

// Runs an admin action with a busy button: shows the API's error on failure, a toast on success.
export async function runAction(what, button, action, success) {
  if (button) button.disabled = true;
  try {
    const result = await action();
    clearAlert(`action:${what}`);
    if (success) toast(success(result));
    return result;
  } catch (err) {
    actionFailed(what, err);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// The console's shell: sign-in, the hash router (#/destinations, #/queue/NAME, #/connections,
// #/durable, #/send), and the poll loop that refreshes the status and the current view every
// POLL_MS. Views are modules with create(ctx) -> {el, refresh()}; see destinations.js.

import * as api from "./api.js";
import {$, fill, h, setText} from "./dom.js";
import * as fmt from "./format.js";
import {switchover} from "./actions.js";
import {activeLink, renderBanner, renderCards} from "./status.js";
import {clearAlert, showAlert, toast} from "./ui.js";
import * as browse from "./browse.js";
import * as connections from "./connections.js";
import * as destinations from "./destinations.js";
import * as durable from "./durable.js";
import * as send from "./send.js";

const POLL_MS = 2000;
const VIEWS = {destinations, queue: browse, connections, durable, send};

const state = {
  session: null,     // {user, role, auth} from /api/v1/whoami or the login
  status: null,      // the last GET /api/v1/status
  view: null,        // {name, route, instance}
  timer: null,
  polling: false,
  lastGood: null,    // when the node last answered
  unreachableSince: null,
};

function parseRoute() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [pathPart, queryPart = ""] = raw.split("?");
  const [name, ...rest] = pathPart.split("/");
  return {
    name: VIEWS[name] ? name : "destinations",
    arg: rest.length ? decodeURIComponent(rest.join("/")) : "",
    query: new URLSearchParams(queryPart),
    key: raw,
  };
}

// ----- the view area -----

const viewNotice = h("div", {class: "notice", id: "view-notice", hidden: true});
const viewHost = h("div", {id: "view-host"});

function standbyNotice(s, message) {
  const link = activeLink(s, "button primary");
  fill(viewNotice,
    h("h2", {}, "Broker data is on the active node"),
    h("p", {}, message || (s ? `${s.node} is ${s.role}; queues, connections and actions are served by the active node.` : "")),
    link || h("p", {class: "muted"}, "No node is active right now. This page updates by itself."));
}

function showView() {
  const route = parseRoute();
  if (state.view && state.view.route.key === route.key) return;
  const ctx = {session: state.session, route, refreshSoon: () => poll()};
  const instance = VIEWS[route.name].create(ctx);
  state.view = {name: route.name, route, instance};
  fill(viewHost, instance.el);
  for (const a of $("tabs").querySelectorAll("a")) {
    const on = a.dataset.tab === route.name || (route.name === "queue" && a.dataset.tab === "destinations");
    a.classList.toggle("current", on);
    if (on) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  poll();
}

// ----- polling -----

async function refreshView(s) {
  const v = state.view;
  if (!v) return;
  if (s && s.role !== "active") {
    standbyNotice(s);
    viewNotice.hidden = false;
    viewHost.hidden = true;
    return;
  }
  try {
    await v.instance.refresh();
    viewNotice.hidden = true;
    viewHost.hidden = false;
  } catch (err) {
    if (err instanceof api.ApiError && err.status === 503) {
      standbyNotice(s, err.message);
      viewNotice.hidden = false;
      viewHost.hidden = true;
    } else if (err instanceof api.ApiError && err.status === 404 && v.name === "queue") {
      fill(viewNotice, h("h2", {}, "No such queue"), h("p", {}, err.message),
        h("a", {class: "button", href: "#/destinations"}, "← All destinations"));
      viewNotice.hidden = false;
      viewHost.hidden = true;
    } else if (!(err instanceof api.Unreachable) && err.status !== 401) {
      showAlert("view", {title: "Could not load this view", text: err.message});
      return;
    } else {
      throw err;
    }
  }
  clearAlert("view");
}

const switchoverButton = () => {
  const s = state.session;
  const b = h("button", {type: "button", class: "button on-banner", id: "switchover",
    onclick: async (e) => {
      if (await switchover(state.status, e.currentTarget)) poll();
    }}, "Switch over…");
  if (s.role !== "admin") {
    b.disabled = true;
    return h("span", {class: "disabled-wrap", title: `Needs the admin role; you are signed in as '${s.user}' (${s.role})`}, b);
  }
  return b;
};

async function poll() {
  clearTimeout(state.timer);
  if (!state.session) return;
  if (state.polling) {  // one poll at a time; come back right after this one
    state.again = true;
    return;
  }
  state.polling = true;
  try {
    const s = await api.get("/api/v1/status");
    state.status = s;
    renderBanner(s, state.bannerButton);
    renderCards(s);
    await refreshView(s);
    reachable();
  } catch (err) {
    if (err instanceof api.Unreachable) unreachable(err);
    else if (err.status !== 401) showAlert("status", {title: "Status failed", text: err.message});
  } finally {
    state.polling = false;
    if (state.session) state.timer = setTimeout(poll, state.again ? 0 : POLL_MS);
    state.again = false;
  }
}

function reachable() {
  state.lastGood = Date.now();
  clearAlert("status");
  if (state.unreachableSince) {
    state.unreachableSince = null;
    clearAlert("unreachable");
    $("app").classList.remove("stale");
    toast(`${state.status ? state.status.node : "The node"} answers again`);
  }
}

function unreachable(err) {
  state.unreachableSince = state.unreachableSince || Date.now();
  $("app").classList.add("stale");
  const name = state.status ? state.status.node : location.host;
  showAlert("unreachable", {
    sticky: true,
    title: `Cannot reach ${name} at ${location.host}`,
    text: `${err.message}. No answer since ${fmt.clock(state.unreachableSince)}; retrying every ${POLL_MS / 1000} s.` +
      (state.lastGood ? ` The figures below are from ${fmt.clock(state.lastGood)}.` : ""),
  });
}

// ----- sign-in -----

// `note` is shown above the form: a reason in red, or (isError false) a plain remark.
function showLogin(note, isError = true) {
  state.session = null;
  clearTimeout(state.timer);
  $("app").hidden = true;
  $("user-box").hidden = true;
  $("tabs").hidden = true;
  $("login").hidden = false;
  setText($("login-where"), `Sign in to the broker at ${location.host}`);
  const error = $("login-error");
  error.hidden = !note;
  error.classList.toggle("note", !isError);
  setText(error, note || "");
  $("login-user").focus();
}

function start(session) {
  state.session = session;
  $("login").hidden = true;
  $("app").hidden = false;
  $("tabs").hidden = false;
  const box = $("user-box");
  box.hidden = false;
  if (session.auth) {
    setText($("user-name"), `${session.user} · ${session.role}`);
    $("logout").hidden = false;
  } else {
    setText($("user-name"), "open access");
    $("user-name").title = "No users are configured (security.users): every request acts as admin";
    $("logout").hidden = true;
  }
  state.bannerButton = switchoverButton();
  $("role-actions").dataset.showing = "";  // the banner takes this session's button at the next poll
  state.view = null;  // views are built for this session's role
  showView();
}

async function login(e) {
  e.preventDefault();
  const button = $("login-submit");
  button.disabled = true;
  try {
    const r = await api.post("/api/v1/login", {user: $("login-user").value, password: $("login-password").value});
    $("login-password").value = "";
    start({user: r.user, role: r.role, auth: true});
  } catch (err) {
    const error = $("login-error");
    error.hidden = false;
    error.classList.remove("note");
    setText(error, err.message);
  } finally {
    button.disabled = false;
  }
}

async function logout() {
  try {
    await api.post("/api/v1/logout");
  } catch (err) {
    // Signed out either way: the page forgets the session.
  }
  showLogin("Signed out.", false);
}

async function boot() {
  $("view").append(viewNotice, viewHost);
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  window.addEventListener("hashchange", () => state.session && showView());
  api.onUnauthorized(() => {
    if (state.session) showLogin("Your session has ended; sign in again.");
  });
  for (;;) {
    try {
      const who = await api.get("/api/v1/whoami");
      start(who);
      return;
    } catch (err) {
      if (err.status === 401) return showLogin();
      if (err instanceof api.Unreachable) unreachable(err);
      else showAlert("status", {sticky: true, title: "The node's API refused the console", text: `${err.message}; retrying every ${POLL_MS / 1000} s.`});
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }
}

boot();

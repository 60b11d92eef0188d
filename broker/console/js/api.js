// The console's only way to the broker: this node's JSON API (broker/ADMIN_API.md).
// Every request carries X-Tandem-Request: 1 (the API's cross-site request guard, and it keeps
// the browser from showing its own Basic-auth dialog on a 401).

const TIMEOUT_MS = 8000;  // the API itself gives up on the broker after 5 s

// The API answered with an error status; `message` is its `error` sentence.
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body || {};
  }
}

// No answer at all: connection refused, reset, or the timeout.
export class Unreachable extends Error {}

let unauthorized = () => {};
// fn(error) runs on every 401 (the session expired or the node restarted).
export function onUnauthorized(fn) {
  unauthorized = fn;
}

export async function request(method, path, body) {
  const headers = {"Accept": "application/json", "X-Tandem-Request": "1"};
  const init = {method, headers, credentials: "same-origin", cache: "no-store"};
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  init.signal = abort.signal;
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new Unreachable(abort.signal.aborted ? `No answer within ${TIMEOUT_MS / 1000} s` : "The connection failed");
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  const text = await res.text().catch(() => "");
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = {error: text.trim()};
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, (data && data.error) || `HTTP ${res.status} ${res.statusText}`, data);
    if (res.status === 401 && path !== "/api/v1/login") unauthorized(err);
    throw err;
  }
  return data;
}

export const get = (path) => request("GET", path);
export const post = (path, body = {}) => request("POST", path, body);
export const del = (path) => request("DELETE", path);

// "/queue/orders.eu" -> "/api/v1/queues/orders.eu"; "/topic/prices" -> "/api/v1/topics/prices"
export function destinationPath(name) {
  const m = /^\/(queue|topic)\/(.+)$/.exec(name);
  if (!m) throw new Error(`not a destination name: ${name}`);
  return `/api/v1/${m[1]}s/${encodeURIComponent(m[2])}`;
}

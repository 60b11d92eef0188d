// The console as a person uses it, in Debian's headless Chromium driven by playwright-core.
// Started by test_console.py, which runs a real active/standby pair with users and passes:
//
//   node console.mjs SETTINGS.json
//   {"active": {"name", "url"}, "standby": {"name", "url"}, "users": {"admin": [pw, role], ...},
//    "artifacts": DIR, "send": [argv of a STOMP client that sends N messages, with {count}]}
//
// Each step checks what is on the screen (banner text, table cells, dialogs), and the
// important results through the API too. Screenshots go to DIR/*.png. Exits non-zero on the
// first failure, with the step's name.

import assert from "node:assert/strict";
import {execFileSync} from "node:child_process";
import {mkdtempSync, readFileSync, rmSync} from "node:fs";
import {tmpdir} from "node:os";
import path from "node:path";

import {chromium} from "playwright-core";

const settings = JSON.parse(readFileSync(process.argv[2], "utf8"));
const {active, standby, users, artifacts} = settings;
const QUEUE = "/queue/console.orders";
const COUNT = 25;
const WAIT = 15000;  // for anything a poll (every 2 s) should show

// Both nodes are reached as 127.0.0.1: cookies are per host, not per port, and each node names
// its session cookie after itself, so signing in to one keeps the browser signed in to the other.
const started = Date.now();
const stamp = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
let stepName = "start";
function step(name) {
  stepName = name;
  console.log(`[${stamp()}] ${name}`);
}

// The whole page, or (fullPage false) what is on the screen, e.g. a modal dialog over it.
async function shot(page, name, fullPage = true) {
  const file = path.join(artifacts, `${name}.png`);
  await page.screenshot({path: file, fullPage});
  console.log(`    screenshot ${file}`);
}

// The API, with Basic credentials, to check what the console claims.
async function api(node, method, route, user = "admin") {
  const auth = Buffer.from(`${user}:${users[user][0]}`).toString("base64");
  const res = await fetch(node.url + route, {method, headers: {Authorization: `Basic ${auth}`, "X-Tandem-Request": "1"}});
  return {status: res.status, body: await res.json().catch(() => null)};
}

async function signIn(page, user) {
  await page.locator("#login-form").waitFor({state: "visible", timeout: WAIT});
  await page.fill("#login-user", user);
  await page.fill("#login-password", users[user][0]);
  await page.click("#login-submit");
  await page.locator("#app").waitFor({state: "visible", timeout: WAIT});
  await expectText(page.locator("#user-name"), `${user} · ${users[user][1]}`);
}

async function signOut(page) {
  await page.click("#logout");
  await page.locator("#login-form").waitFor({state: "visible", timeout: WAIT});
}

async function expectText(locator, text, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  let last = "";
  while (Date.now() < deadline) {
    last = (await locator.textContent({timeout}).catch(() => "")) || "";
    if (typeof text === "string" ? last.includes(text) : text.test(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`expected ${text} in ${locator}, saw '${last}'`);
}

function bannerOf(page) {
  return {badge: page.locator("#role-badge"), headline: page.locator("#role-headline"), detail: page.locator("#role-detail")};
}

async function main() {
  const profile = mkdtempSync(path.join(tmpdir(), "tandem-console-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: {width: 1366, height: 860},
    timeout: 30000,
  });
  const problems = [];
  const phase = {};  // page label -> what it is doing now, for the error filter below
  const watch = (page, name) => {
    phase[name] = name;
    page.on("pageerror", (e) => problems.push(`${phase[name]}: uncaught ${e.message}`));
    page.on("console", (m) => {
      const label = phase[name];
      if (m.type() !== "error") return;
      const where = m.location().url || "";
      // Failed API calls are logged by the browser itself; the expected ones are the sign-in
      // check before signing in and the wrong password on purpose (401), a view's poll racing
      // a switchover (503), and a viewer's queue page asking for messages it may not read (403).
      if (/status of 401/.test(m.text()) && /\/api\/v1\/(whoami|login)$/.test(where)) return;
      if (/status of 503/.test(m.text()) && where.includes("/api/v1/")) return;
      if (/status of 403/.test(m.text()) && /\/messages\?/.test(where) && label.startsWith("viewer")) return;
      problems.push(`${label}: console error ${m.text()} (${where})`);
    });
  };
  try {
    const page = context.pages()[0] || (await context.newPage());
    watch(page, "active");
    phase.active = "active page";
    page.setDefaultTimeout(WAIT);

    step(`sign in to ${active.name}'s console`);
    await page.goto(active.url + "/");
    await page.locator("#login-form").waitFor({state: "visible"});
    await shot(page, "01-sign-in");
    await page.fill("#login-user", "admin");
    await page.fill("#login-password", "wrong password");
    await page.click("#login-submit");
    await page.locator("#login-error").waitFor({state: "visible"});
    assert.ok((await page.locator("#login-error").textContent()).length > 0, "no reason shown for a failed sign-in");
    await signIn(page, "admin");

    step("the active node's banner");
    const b = bannerOf(page);
    await expectText(b.badge, "ACTIVE");
    await expectText(b.headline, `${active.name} is active`);
    assert.equal(await page.locator("#role-banner").getAttribute("data-role"), "active");
    await expectText(page.locator("#card-lease .card-value"), active.name);
    await shot(page, "02-active-overview");

    step(`send ${COUNT} messages to ${QUEUE} with a STOMP client; the depth shows up`);
    execFileSync(settings.send[0], settings.send.slice(1).map((a) => a.replace("{count}", String(COUNT))),
      {stdio: "inherit", timeout: 30000});
    const row = page.locator(`#destinations tbody tr[data-key="${QUEUE}"]`);
    await expectText(row.locator("td").nth(1), String(COUNT));
    await expectText(page.locator("#dest-summary"), `${COUNT} messages in queues`);
    await shot(page, "03-destinations");

    step("browse the queue: the messages, one in detail");
    await row.locator("td.name a").click();
    await expectText(page.locator("#page-range"), `Messages 1–${COUNT} of ${COUNT}`);
    assert.equal(await page.locator("#messages tbody tr").count(), COUNT);
    await expectText(page.locator("#messages tbody tr").first().locator("td.preview"), "console order 1");
    await page.locator("#messages tbody tr").nth(2).click();
    await expectText(page.locator("#body-preview"), "console order 3");
    await expectText(page.locator("#message-detail"), "Persistent");
    const depthNow = await api(active, "GET", `/api/v1/queues/${QUEUE.slice(7)}`);
    assert.equal(depthNow.body.depth, COUNT, "browsing consumed messages");
    await shot(page, "04-browse");

    step(`${standby.name}'s console: standby, with a link to the active one`);
    const other = await context.newPage();
    watch(other, "standby page");
    other.setDefaultTimeout(WAIT);
    await other.goto(standby.url + "/");
    await signIn(other, "admin");
    const sb = bannerOf(other);
    await expectText(sb.badge, "STANDBY");
    await expectText(sb.headline, `${standby.name} is standby since`);
    await expectText(sb.detail, `The active node is ${active.name}.`);
    const link = other.locator("#role-actions #active-console-link");
    await expectText(link, `Open ${active.name}'s console`);
    const href = await link.getAttribute("href");
    const status = await api(active, "GET", "/api/v1/status");
    assert.equal(href, status.body.console, "the standby links to the console the active publishes");
    await expectText(other.locator("#view-notice"), "Broker data is on the active node");
    await shot(other, "05-standby");
    // The link works: it opens the active node's console.
    const linked = await context.newPage();
    watch(linked, "linked page");
    await linked.goto(href);
    await expectText(linked.locator("#role-badge"), "ACTIVE");
    await expectText(linked.locator("#role-headline"), `${active.name} is active`);
    await linked.close();

    step("send a test message from the console's form");
    await page.bringToFront();
    await page.click("text=Send a message…");
    assert.equal(await page.inputValue("#send-destination"), QUEUE, "the form does not name the queue it came from");
    await page.fill("#send-body", "sent from the console");
    await page.click("text=+ Add a header");
    await page.fill(".header-row input[aria-label='Header name']", "order-region");
    await page.fill(".header-row input[aria-label='Header value']", "eu");
    await page.click("#send-submit");
    await expectText(page.locator("#toasts"), `to ${QUEUE}`);
    await expectText(page.locator("#send-result"), "Last sent:");
    await shot(page, "06-send-form");
    const sent = await api(active, "GET", `/api/v1/queues/${QUEUE.slice(7)}/messages?offset=${COUNT}&limit=5`);
    assert.equal(sent.body.total, COUNT + 1);
    assert.equal(sent.body.messages[0].body_preview, "sent from the console");
    assert.equal(sent.body.messages[0].headers["order-region"], "eu");
    await page.goBack();

    step("purge the queue from its page, after the confirmation");
    const all = COUNT + 1;
    await page.locator("#purge-queue").waitFor();
    await expectText(page.locator("#queue-stats .stat").first(), `Depth${all}`);
    await page.click("#purge-queue");
    const dialog = page.locator("#confirm");
    await dialog.waitFor({state: "visible"});
    await expectText(page.locator("#confirm-title"), `Purge ${QUEUE}`);
    await expectText(page.locator("#confirm-body"), `Remove ${all} messages waiting in ${QUEUE}?`);
    await expectText(page.locator("#confirm-ok"), `Purge ${all} messages`);
    await shot(page, "07-purge-confirm", false);
    // Cancel first: nothing happens.
    await page.click("#confirm-cancel");
    await dialog.waitFor({state: "hidden"});
    assert.equal((await api(active, "GET", `/api/v1/queues/${QUEUE.slice(7)}`)).body.depth, all);
    await page.click("#purge-queue");
    await dialog.waitFor({state: "visible"});
    await page.click("#confirm-ok");
    await expectText(page.locator("#toasts"), `Purged ${all} messages from ${QUEUE}`);
    await expectText(page.locator("#queue-stats .stat").first(), /Depth\s*0$/);
    await expectText(page.locator("#page-range"), "No messages");
    const after = await api(active, "GET", `/api/v1/queues/${QUEUE.slice(7)}`);
    assert.equal(after.status, 200);
    assert.equal(after.body.depth, 0, "the API still shows messages after the purge");
    await shot(page, "08-purged");

    step("a viewer sees the data but cannot purge or switch over");
    execFileSync(settings.send[0], settings.send.slice(1).map((a) => a.replace("{count}", "3")), {stdio: "inherit", timeout: 30000});
    await signOut(page);
    phase.active = "viewer on the active page";
    await signIn(page, "viewer");
    // Still on the queue's page: its figures, but its messages need read permission (403).
    await expectText(page.locator("#queue-stats .stat").first(), /Depth\s*3$/);
    await expectText(page.locator("#messages-empty"), "may not read /queue/console.orders");
    assert.ok(await page.locator("#purge-queue").isDisabled(), "a viewer's purge button is enabled");
    await page.goto(active.url + "/#/destinations");
    const vrow = page.locator(`#destinations tbody tr[data-key="${QUEUE}"]`);
    await expectText(vrow.locator("td").nth(1), "3");
    const purge = vrow.locator("[data-action=purge]");
    assert.ok(await purge.isDisabled(), "a viewer's purge button is enabled");
    assert.match(await vrow.locator(".disabled-wrap").first().getAttribute("title"), /Needs the admin role/);
    assert.ok(await page.locator("#switchover").isDisabled(), "a viewer's switchover button is enabled");
    const refused = await api(active, "POST", `/api/v1/queues/${QUEUE.slice(7)}/purge`, "viewer");
    assert.equal(refused.status, 403, "the API let a viewer purge");
    assert.equal((await api(active, "GET", `/api/v1/queues/${QUEUE.slice(7)}`)).body.depth, 3);
    await shot(page, "09-viewer");

    step("switch over from the console; the other node becomes active");
    await signOut(page);
    phase.active = "active page";
    await signIn(page, "admin");
    await expectText(page.locator("#role-badge"), "ACTIVE");
    await page.click("#switchover");
    await dialog.waitFor({state: "visible"});
    await expectText(page.locator("#confirm-title"), "Switch over");
    await page.click("#confirm-ok");
    await expectText(page.locator("#role-badge"), "STANDBY", 20000);
    await expectText(page.locator("#role-detail"), `The active node is ${standby.name}.`, 20000);
    await expectText(page.locator("#role-actions #active-console-link"), `Open ${standby.name}'s console`, 20000);
    await shot(page, "10-old-active-now-standby");
    await other.bringToFront();
    await expectText(other.locator("#role-badge"), "ACTIVE", 20000);
    await expectText(other.locator("#role-headline"), `${standby.name} is active`);
    // Its destinations are there, with the messages the viewer saw before.
    await expectText(other.locator(`#destinations tbody tr[data-key="${QUEUE}"] td:nth-child(2)`), "3");
    await shot(other, "11-new-active");
    const roles = await Promise.all([api(active, "GET", "/api/v1/status"), api(standby, "GET", "/api/v1/status")]);
    assert.deepEqual(roles.map((r) => r.body.role), ["standby", "active"]);

    step("no errors in the pages");
    assert.deepEqual(problems, [], "the pages logged errors");
    console.log(`[${stamp()}] all steps passed`);
  } catch (err) {
    console.error(`FAILED in step '${stepName}': ${err.message}`);
    for (const p of context.pages()) {
      await p.screenshot({path: path.join(artifacts, `failure-${context.pages().indexOf(p)}.png`), fullPage: true}).catch(() => {});
    }
    if (problems.length) console.error(`page errors:\n  ${problems.join("\n  ")}`);
    process.exitCode = 1;
  } finally {
    await context.close();
    rmSync(profile, {recursive: true, force: true});
  }
}

await main();

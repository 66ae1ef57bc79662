// The server API and the page: a message posted through the API reaches two browsers on the
// two instances, shown with the API's sender name; a person disconnected through the API
// (close 4000) sees the reason, is not reconnected by the page, and can rejoin.
import assert from "node:assert/strict";
import { test } from "node:test";
import { expectOnce, say, screenshot } from "../lib/browser.js";
import { useServices } from "../lib/suite.js";

const API_KEY = "e2e-api-key-0123456789abcdef";
const ROOM = "ops";
const suite = useServices("api", { backendEnv: { API_KEYS: API_KEY } });

/** Calls the API on backend `index` directly (not through the proxy). */
function api(index, method, path, body) {
  const { port } = suite.topology.backends[index];
  return fetch(`http://127.0.0.1:${port}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(5000),
  });
}

const sockets = (name) => suite.topology.proxy.routes.filter((r) => r.path.includes(`/${name}?`));

let ana;
let ben;

test("a message posted through the API reaches both instances' browsers as System", async () => {
  ana = await suite.joined(ROOM, "ana");
  ben = await suite.joined(ROOM, "ben");
  assert.notEqual(suite.backendOf("ana"), suite.backendOf("ben"));
  const response = await api(0, "POST", `/channels/${ROOM}/messages`, {
    message: "Deploy 42 finished ✅",
    idempotency_key: "deploy-42",
  });
  assert.equal(response.status, 201);
  const { id } = await response.json();
  for (const user of [ana, ben]) {
    await expectOnce(user.page, "Deploy 42 finished ✅");
    const item = await user.page.$eval(`#messages li.msg[data-id="${id}"]`, (li) => ({
      id: li.dataset.id,
      sender: li.querySelector(".sender").textContent,
      own: li.classList.contains("own"),
    }));
    assert.deepEqual(item, { id, sender: "System", own: false });
  }
  // The same key again: no second message.
  const again = await api(1, "POST", `/channels/${ROOM}/messages`, {
    message: "Deploy 42 finished ✅",
    idempotency_key: "deploy-42",
  });
  assert.equal((await again.json()).id, id);
  await say(ana.page, "thanks, System");
  await expectOnce(ben.page, "thanks, System");
  const texts = await ben.page.$$eval("#messages li.msg .text", (nodes) => nodes.map((n) => n.textContent));
  assert.equal(texts.filter((t) => t.startsWith("Deploy 42")).length, 1, "one message for one key");
});

test("disconnected by the server (4000): the reason, no reconnection by itself, a Rejoin button", async () => {
  const before = sockets("ben").length;
  // Asked of the instance that does not hold ben's connection: it reaches the other one.
  const reason = encodeURIComponent("Please take a break, Ben");
  const response = await api(suite.backendOf("ana"), "DELETE", `/channels/${ROOM}/clients/ben?reason=${reason}`);
  assert.ok(response.status < 300, `DELETE answered ${response.status}`);
  const { page } = ben;
  await page.waitForSelector('#connection[data-state="removed"]', { timeout: 10000 });
  const notice = await page.textContent("#messages li.notice.removed");
  assert.match(notice, /You were disconnected by the server: Please take a break, Ben/);
  assert.equal(await page.isVisible("#retry"), false);
  await page.waitForTimeout(3000);
  assert.equal(sockets("ben").length, before, "no reconnection by itself");
  await ana.page.waitForFunction(() => ![...document.querySelectorAll("#online .who")].some((n) => n.textContent === "ben"));
  await say(ana.page, "while ben was out");
  await screenshot(page, "disconnected-by-server");

  await page.click("#messages li.notice.removed button");
  await page.waitForSelector('#connection[data-state="connected"]');
  assert.equal(sockets("ben").length, before + 1);
  await expectOnce(page, "while ben was out");
  assert.equal(await page.$$eval("#messages li.notice.removed button", (b) => b.length), 0, "the button has done its job");
  await say(page, "I'm back");
  await expectOnce(ana.page, "I'm back");
  assert.deepEqual([...ana.errors, ...ben.errors], []);
});

// A frontend whose origin the backend does not allow, as a new deployment with a wrong
// ALLOWED_ORIGINS would have: the page must say so plainly and stop, not show
// "Reconnecting in N s…" forever while typed messages wait for a connection that never comes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { say, screenshot, submitJoin } from "../lib/browser.js";
import { useServices } from "../lib/suite.js";

const suite = useServices("refused", { backendEnv: { ALLOWED_ORIGINS: "https://chat.example.com" } });

/** WebSocket connections alice's page opened, as the proxy saw them. */
function attempts() {
  return suite.topology.proxy.routes.filter((r) => r.path.includes("/alice")).length;
}

test("an origin the backend does not allow: a clear message, no retry loop", async () => {
  const alice = await suite.openUser();
  const { page } = alice;
  await submitJoin(page, "lobby", "alice");
  await say(page, "typed before the refusal");

  await page.waitForSelector('#connection[data-state="refused"]', { timeout: 10000 });
  const status = await page.textContent("#connection");
  assert.match(status, /refused by the server/);
  assert.doesNotMatch(status, /Reconnecting/);
  const notices = await page.$$eval("#messages li.notice", (nodes) => nodes.map((n) => n.textContent));
  assert.equal(notices.length, 1, JSON.stringify(notices));
  assert.match(notices[0], /does not allow this page to connect: origin "http:\/\/127\.0\.0\.1:\d+" is not allowed/);
  const note = await page.textContent("#messages li.msg.pending .note");
  assert.match(note, /Not sent: the server refused the connection/);
  await screenshot(page, "desktop-refused-origin");

  // It stays that way: no second attempt, however long one waits (the first backoff would
  // have retried within a second).
  assert.equal(attempts(), 1);
  await page.waitForTimeout(4000);
  assert.equal(attempts(), 1, "the page tried again after a refusal retrying cannot help");
  assert.equal(await page.getAttribute("#connection", "data-state"), "refused");
  // A person may still ask for one more try; it is refused the same way, once.
  assert.equal(await page.isVisible("#retry"), true);
  await page.click("#retry");
  await page.waitForFunction(() => document.querySelector("#connection").dataset.state === "refused", null, {
    timeout: 10000,
  });
  await page.waitForTimeout(1500);
  assert.equal(attempts(), 2);
  assert.deepEqual(alice.errors, []);
});

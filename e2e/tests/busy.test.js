// Backends at their connection limit: a browser is told so with close code 4429 (it cannot
// read an HTTP 503). Unlike a refusal retrying cannot fix, the page keeps trying, with
// backoff, and gets in once there is room.
import assert from "node:assert/strict";
import { test } from "node:test";
import { expectOnce, say, submitJoin, waitConnected } from "../lib/browser.js";
import { useServices } from "../lib/suite.js";

const suite = useServices("busy", { backendEnv: { MAX_CONNECTIONS: "1" } });

test("instances at their connection limit: 'busy', backoff, in once there is room", async () => {
  const alice = await suite.joined("full", "alice");
  const bob = await suite.joined("full", "bob");

  const carol = await suite.openUser();
  const { page } = carol;
  await submitJoin(page, "full", "carol");
  await say(page, "waiting for room");
  await page.waitForFunction(
    () => /Reconnecting in \d+ s/.test(document.querySelector("#connection").textContent),
    null,
    { timeout: 10000 },
  );
  const notices = await page.$$eval("#messages li.notice.error", (nodes) => nodes.map((n) => n.textContent));
  assert.equal(notices.length, 1, JSON.stringify(notices));
  assert.match(notices[0], /The server is busy; trying again shortly: .*connection limit/);
  assert.match(await page.textContent("#messages li.msg.pending .note"), /will send when reconnected/);

  // Room frees up: the page's next attempt gets in and sends what was typed.
  await alice.page.click("#leave");
  await waitConnected(page, 30000);
  await expectOnce(bob.page, "waiting for room");
  await expectOnce(page, "waiting for room");
  const carolAttempts = suite.topology.proxy.routes.filter((r) => r.path.includes("/carol")).length;
  assert.ok(carolAttempts >= 2, `carol connected after ${carolAttempts} attempts`);
  assert.deepEqual([...alice.errors, ...bob.errors, ...carol.errors], []);
});

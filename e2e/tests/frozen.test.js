// The backend a user is on freezes (SIGSTOP: its sockets stay open, nothing answers). A
// browser cannot see WebSocket pings, so the page must notice by itself: a send with no
// answer gives the socket up; the page reconnects (through the proxy, to the other backend)
// and resends with the same nonce. The message is delivered exactly once — also after the
// frozen backend wakes up and reads the send it had been holding.
import assert from "node:assert/strict";
import { test } from "node:test";
import { assertNoDuplicateIds, delivered, expectOnce, say, screenshot, waitConnected } from "../lib/browser.js";
import { freeze, thaw } from "../lib/processes.js";
import { useServices } from "../lib/suite.js";

let frozen = null;
const suite = useServices("frozen", {}, {
  beforeStop: () => {
    if (frozen) thaw(frozen);
  },
});

test("a frozen backend: the page leaves 'Connected', resends elsewhere, shows the message once", async () => {
  const alice = await suite.joined("ice", "alice");
  const bob = await suite.joined("ice", "bob");
  const victim = suite.backendOf("alice");
  assert.notEqual(victim, suite.backendOf("bob"));
  await say(alice.page, "before");
  await expectOnce(bob.page, "before");
  await expectOnce(alice.page, "before");

  frozen = suite.topology.backends[victim].process;
  freeze(frozen);
  const frozenAt = Date.now();
  await say(alice.page, "sent to a frozen backend");
  assert.equal(await alice.page.getAttribute("#connection", "data-state"), "connected");
  await alice.page.waitForFunction(
    () => document.querySelector("#connection").dataset.state !== "connected",
    null,
    { timeout: 15000 },
  );
  const noticedMs = Date.now() - frozenAt;
  assert.ok(noticedMs < 13000, `the page noticed after ${noticedMs} ms`);
  await screenshot(alice.page, "desktop-frozen-backend");

  // Back on the other backend (a reconnect that lands on the frozen one times out too).
  await waitConnected(alice.page, 40000);
  assert.equal(suite.backendOf("alice"), suite.backendOf("bob"), "alice resumed on the live backend");
  await expectOnce(alice.page, "sent to a frozen backend", 15000);
  await expectOnce(bob.page, "sent to a frozen backend", 15000);
  await alice.page.waitForSelector("#messages li.msg.pending", { state: "detached" });

  // The frozen backend wakes up and reads the send it held: same nonce, stored once.
  thaw(frozen);
  frozen = null;
  await say(bob.page, "after the thaw");
  await expectOnce(alice.page, "after the thaw");
  await alice.page.waitForTimeout(2000);
  const expected = ["before", "sent to a frozen backend", "after the thaw"];
  assert.deepEqual(await delivered(alice.page), expected);
  assert.deepEqual(await delivered(bob.page), expected);
  await assertNoDuplicateIds(alice.page);
  await assertNoDuplicateIds(bob.page);
  assert.deepEqual([...alice.errors, ...bob.errors], []);
});

test("an idle page notices a frozen backend by its heartbeat and reconnects", async () => {
  const carol = await suite.joined("idle", "carol");
  const victim = suite.backendOf("carol");
  frozen = suite.topology.backends[victim].process;
  freeze(frozen);
  const frozenAt = Date.now();
  // Nothing is sent: only the page's own `ping` after 20 s of silence can show the freeze.
  await carol.page.waitForFunction(
    () => document.querySelector("#connection").dataset.state !== "connected",
    null,
    { timeout: 45000 },
  );
  const noticedMs = Date.now() - frozenAt;
  assert.ok(noticedMs >= 20000 && noticedMs < 34000, `the page noticed after ${noticedMs} ms`);
  thaw(frozen);
  frozen = null;
  await waitConnected(carol.page, 40000);
});

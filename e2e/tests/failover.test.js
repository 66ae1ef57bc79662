// A backend instance dies (SIGKILL) under a user: the page says it is reconnecting, resumes
// on the surviving instance with `since`, shows what others sent meanwhile exactly once, and
// delivers once what the user typed during the outage.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  assertNoDuplicateIds,
  delivered,
  expectOnce,
  join,
  launchBrowser,
  openUser,
  say,
  screenshot,
  waitConnected,
} from "../lib/browser.js";
import { kill } from "../lib/processes.js";
import { backendOf as backendOfIn, startTopology } from "../lib/topology.js";

let topology;
let browser;

before(async () => {
  topology = await startTopology("failover");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await topology?.stop();
});

/** The backend index a client's latest WebSocket went to. */
function backendOf(name) {
  return backendOfIn(topology, name);
}

test("killing the instance a user is on: reconnect, resume, nothing lost or doubled", async () => {
  const alice = await openUser(browser, topology);
  await join(alice, "ops", "alice");
  const bob = await openUser(browser, topology);
  await join(bob, "ops", "bob");
  const victim = backendOf("alice");
  assert.notEqual(victim, backendOf("bob"));
  for (const text of ["before 1", "before 2"]) await say(bob.page, text);
  await say(alice.page, "before 3");
  await expectOnce(alice.page, "before 2");
  await expectOnce(bob.page, "before 3");

  // Hold the door shut for a moment so the outage is long enough to type into; then kill.
  topology.proxy.refuse(true);
  await kill(topology.backends[victim].process);
  await alice.page.waitForFunction(
    () => /Reconnecting in \d+ s/.test(document.querySelector("#connection").textContent),
    null,
    { timeout: 10000 },
  );
  await screenshot(alice.page, "desktop-reconnecting");

  await say(bob.page, "during 1");
  await say(bob.page, "during 2");
  await expectOnce(bob.page, "during 2");
  await say(alice.page, "typed while offline");
  const note = await alice.page.textContent("#messages li.msg.pending .note");
  assert.match(note, /will send when reconnected/);

  topology.proxy.refuse(false);
  await waitConnected(alice.page, 20000);
  assert.equal(backendOf("alice"), backendOf("bob"), "alice resumed on the survivor");

  for (const text of ["during 1", "during 2", "typed while offline"]) {
    await expectOnce(alice.page, text);
    await expectOnce(bob.page, text);
  }
  await alice.page.waitForSelector("#messages li.msg.pending", { state: "detached" });
  await say(bob.page, "after");
  await expectOnce(alice.page, "after");
  const expected = ["before 1", "before 2", "before 3", "during 1", "during 2", "typed while offline", "after"];
  assert.deepEqual(await delivered(alice.page), expected);
  assert.deepEqual(await delivered(bob.page), expected);
  await assertNoDuplicateIds(alice.page);
  assert.deepEqual([...alice.errors, ...bob.errors], []);
});

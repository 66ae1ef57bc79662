// A backend instance dies (SIGKILL) under a user: the page says it is reconnecting, resumes
// on the surviving instance with `since`, shows what others sent meanwhile exactly once, and
// delivers once what the user typed during the outage.
import assert from "node:assert/strict";
import { test } from "node:test";
import { assertNoDuplicateIds, delivered, expectOnce, say, screenshot, waitConnected } from "../lib/browser.js";
import { kill } from "../lib/processes.js";
import { useServices } from "../lib/suite.js";

const suite = useServices("failover");

test("killing the instance a user is on: reconnect, resume, nothing lost or doubled", async () => {
  const alice = await suite.joined("ops", "alice");
  const bob = await suite.joined("ops", "bob");
  const victim = suite.backendOf("alice");
  assert.notEqual(victim, suite.backendOf("bob"));
  for (const text of ["before 1", "before 2"]) await say(bob.page, text);
  await say(alice.page, "before 3");
  await expectOnce(alice.page, "before 2");
  await expectOnce(bob.page, "before 3");

  // Hold the door shut for a moment so the outage is long enough to type into; then kill.
  suite.topology.proxy.refuse(true);
  await kill(suite.topology.backends[victim].process);
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

  suite.topology.proxy.refuse(false);
  await waitConnected(alice.page, 20000);
  assert.equal(suite.backendOf("alice"), suite.backendOf("bob"), "alice resumed on the survivor");

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

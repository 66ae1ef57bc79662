// The channel's history is lost in Redis while a user is away, and a new message creates the
// channel again before they come back: the page must say plainly that earlier messages could
// not be recovered, instead of carrying on as if nothing was missed. A plain reconnect, with
// the history intact, must not say so (the page keeps the history's epoch with its position).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { delivered, expectOnce, say, screenshot, waitConnected } from "../lib/browser.js";
import { useServices } from "../lib/suite.js";

const suite = useServices("lost-history");

const GAP_NOTICE = "#messages li.notice.gap";

/** Cuts `user`'s connection and keeps them away until `back` is called. */
async function away(user) {
  suite.topology.proxy.refuse(true);
  suite.topology.proxy.drop(`/${user.name}`);
  await user.page.waitForFunction(
    () => document.querySelector("#connection").dataset.state !== "connected",
    null,
    { timeout: 10000 },
  );
}

/** Lets `user` in again and reconnects at once (the page's "Retry now"). */
async function back(user) {
  suite.topology.proxy.refuse(false);
  await user.page.click("#retry");
  await waitConnected(user.page, 20000);
}

test("a history lost while away is announced; a plain reconnect is not", async () => {
  const alice = await suite.joined("lost", "alice");
  const bob = await suite.joined("lost", "bob");

  // Away while the channel is still empty: the page has seen no message, yet resumes (from
  // the start of this history) and gets what it missed, without any notice.
  await away(bob);
  await say(alice.page, "while away");
  await expectOnce(alice.page, "while away");
  await back(bob);
  await expectOnce(bob.page, "while away");
  assert.equal(await bob.page.locator(GAP_NOTICE).count(), 0, "nothing was lost, nothing to announce");

  // Away again; a message is sent, then Redis loses every history; a new message creates
  // the channel again before bob comes back.
  await away(bob);
  await say(alice.page, "missed");
  await expectOnce(alice.page, "missed");
  execFileSync("redis-cli", ["-p", String(suite.topology.redisPort), "FLUSHALL"]);
  await say(alice.page, "after the loss");
  await expectOnce(alice.page, "after the loss");
  await back(bob);

  await bob.page.waitForSelector(GAP_NOTICE, { timeout: 10000 });
  const notice = await bob.page.textContent(GAP_NOTICE);
  assert.match(notice, /could not be recovered/);
  await expectOnce(bob.page, "after the loss");
  await screenshot(bob.page, "desktop-history-lost");
  assert.deepEqual(await delivered(bob.page), ["while away", "after the loss"]);
  assert.deepEqual([...alice.errors, ...bob.errors], []);
});

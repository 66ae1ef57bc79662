// Who is online follows joins and leaves, with a line in the conversation for each.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join, launchBrowser, onlineNames, openUser } from "../lib/browser.js";
import { startTopology } from "../lib/topology.js";

let topology;
let browser;

before(async () => {
  topology = await startTopology("presence");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await topology?.stop();
});

const notices = (page) =>
  page.$$eval("#messages li.notice", (n) => n.map((x) => x.textContent));

test("the online list and join/leave lines follow people coming and going", async () => {
  const alice = await openUser(browser, topology);
  await join(alice, "standup", "alice");
  assert.deepEqual(await onlineNames(alice.page), ["alice"]);

  const bob = await openUser(browser, topology);
  await join(bob, "standup", "bob");
  await alice.page.waitForFunction(() => document.querySelector("#online-count").textContent === "2");
  assert.deepEqual(await onlineNames(alice.page), ["alice", "bob"]);
  assert.deepEqual(await onlineNames(bob.page), ["bob", "alice"], "yourself first");
  assert.deepEqual(await notices(alice.page), ["bob joined"]);

  const carol = await openUser(browser, topology);
  await join(carol, "standup", "carol");
  await alice.page.waitForFunction(() => document.querySelector("#online-count").textContent === "3");

  // Leaving with the button, and closing the tab, both count as leaving.
  await bob.page.click("#leave");
  await bob.page.waitForSelector("#join:not([hidden])");
  await carol.context.close();
  await alice.page.waitForFunction(() => document.querySelector("#online-count").textContent === "1");
  assert.deepEqual(await onlineNames(alice.page), ["alice"]);
  assert.deepEqual(await notices(alice.page), ["bob joined", "carol joined", "bob left", "carol left"]);
  assert.deepEqual(await notices(bob.page), ["carol joined"]);
});

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

test("past the detail limit the page shows how many are online, not stale names", async () => {
  // A second set of services where a room counts as large past 2 people online.
  const large = await startTopology("presence-large", { backendEnv: { PRESENCE_DETAIL_MAX: "2" } });
  try {
    const alice = await openUser(browser, large);
    await join(alice, "townhall", "alice");
    const bob = await openUser(browser, large);
    await join(bob, "townhall", "bob");
    await alice.page.waitForFunction(() => document.querySelector("#online-count").textContent === "2");
    assert.deepEqual(await onlineNames(alice.page), ["alice", "bob"]);

    const guests = [];
    for (const name of ["carol", "dave", "erin"]) {
      const guest = await openUser(browser, large);
      await join(guest, "townhall", name);
      guests.push(guest);
    }
    // The count arrives within a second or so; joins are no longer announced one by one.
    await alice.page.waitForFunction(() => document.querySelector("#online-count").textContent === "5", null, {
      timeout: 10000,
    });
    assert.deepEqual(await onlineNames(alice.page), ["alice"], "only yourself, by name");
    const more = await alice.page.$eval("#online .more", (n) => n.textContent);
    assert.equal(more, "and 4 more");
    assert.deepEqual(await notices(alice.page), ["bob joined"]);

    for (const guest of guests) await guest.context.close();
    await alice.page.waitForFunction(() => document.querySelector("#online-count").textContent === "2", null, {
      timeout: 10000,
    });
  } finally {
    await large.stop();
  }
});

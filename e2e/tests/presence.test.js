// Who is online follows joins and leaves, with a line in the conversation for each.
import assert from "node:assert/strict";
import { test } from "node:test";
import { onlineNames } from "../lib/browser.js";
import { joinedUser, useServices } from "../lib/suite.js";
import { startTopology } from "../lib/topology.js";

const suite = useServices("presence");

const notices = (page) =>
  page.$$eval("#messages li.notice", (n) => n.map((x) => x.textContent));

test("the online list and join/leave lines follow people coming and going", async () => {
  const alice = await suite.joined("standup", "alice");
  assert.deepEqual(await onlineNames(alice.page), ["alice"]);

  const bob = await suite.joined("standup", "bob");
  await alice.page.waitForFunction(() => document.querySelector("#online-count").textContent === "2");
  assert.deepEqual(await onlineNames(alice.page), ["alice", "bob"]);
  assert.deepEqual(await onlineNames(bob.page), ["bob", "alice"], "yourself first");
  assert.deepEqual(await notices(alice.page), ["bob joined"]);

  const carol = await suite.joined("standup", "carol");
  await alice.page.waitForFunction(() => document.querySelector("#online-count").textContent === "3");

  // Leaving with the button, and closing the tab, both count as leaving.
  await bob.page.click("#leave");
  await bob.page.waitForSelector("#join:not([hidden])");
  // Bob's leave reaches alice before carol goes: the two leaves travel different paths
  // (through Redis, or within one instance), so their order is only defined one at a time.
  await alice.page.waitForFunction(() => document.querySelector("#online-count").textContent === "2");
  await carol.context.close();
  await alice.page.waitForFunction(() => document.querySelector("#online-count").textContent === "1");
  assert.deepEqual(await onlineNames(alice.page), ["alice"]);
  assert.deepEqual(await notices(alice.page), ["bob joined", "carol joined", "bob left", "carol left"]);
  assert.deepEqual(await notices(bob.page), ["carol joined"]);
});

test("someone whose connection drops and comes back at once neither left nor joined", async () => {
  const alice = await suite.joined("flaky", "alice");
  const bob = await suite.joined("flaky", "bob");
  await alice.page.waitForFunction(() => document.querySelector("#online-count").textContent === "2");
  const bobRoutes = () => suite.topology.proxy.routes.filter((r) => r.path.includes("/bob?")).length;
  const before = bobRoutes();
  // A lost network, as on a phone changing cells: no close frame, the page reconnects.
  suite.topology.proxy.drop("/bob?");
  await bob.page.waitForFunction(() => document.querySelector("#connection").dataset.state !== "connected");
  await bob.page.waitForSelector('#connection[data-state="connected"]', { timeout: 15000 });
  assert.ok(bobRoutes() > before, "bob reconnected");
  await alice.page.waitForTimeout(1000);
  assert.deepEqual(await onlineNames(alice.page), ["alice", "bob"]);
  assert.deepEqual(await notices(alice.page), ["bob joined"]);
  // Gone for longer than the rejoin window: that is a leave.
  await bob.context.close();
  await alice.page.waitForTimeout(6000);
  assert.deepEqual(await notices(alice.page), ["bob joined", "bob left"]);
  assert.match(await alice.page.textContent("#announce"), /bob left/);
  await alice.context.close();
});

test("past the detail limit the page shows how many are online, not stale names", async () => {
  // A second set of services where a room counts as large past 2 people online.
  const large = await startTopology("presence-large", { backendEnv: { PRESENCE_DETAIL_MAX: "2" } });
  try {
    const alice = await joinedUser(suite.browser, large, "townhall", "alice");
    const bob = await joinedUser(suite.browser, large, "townhall", "bob");
    await alice.page.waitForFunction(() => document.querySelector("#online-count").textContent === "2");
    assert.deepEqual(await onlineNames(alice.page), ["alice", "bob"]);

    const guests = [];
    for (const name of ["carol", "dave", "erin"]) {
      const guest = await joinedUser(suite.browser, large, "townhall", name);
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

test("a burst of people coming and going redraws the list once per batch and ends right", async () => {
  const alice = await suite.joined("churn", "alice");
  await alice.page.evaluate(() => {
    window.redrawTimes = [];
    new MutationObserver(() => window.redrawTimes.push(performance.now())).observe(
      document.querySelector("#online"),
      { childList: true },
    );
  });

  // Another browser, as raw WebSockets: 30 people arrive at once and stay, then one person
  // connects and disconnects 100 times in a row.
  const driver = await suite.openUser();
  await driver.page.evaluate(async () => {
    const base = `${document.body.dataset.backendUrl}/ws/churn/`;
    const welcomed = (name) =>
      new Promise((resolve, reject) => {
        const socket = new WebSocket(base + name);
        socket.onmessage = () => resolve(socket);
        socket.onerror = () => reject(new Error(`${name} could not connect`));
      });
    window.crowd = await Promise.all(Array.from({ length: 30 }, (_, i) => welcomed(`guest${i}`)));
    for (let i = 0; i < 100; i++) (await welcomed("churner")).close();
  });
  await alice.page.waitForFunction(() => document.querySelector("#online-count").textContent === "31", null, {
    timeout: 10000,
  });
  // Let the last batches land.
  await alice.page.waitForTimeout(1000);
  const names = await onlineNames(alice.page);
  assert.equal(names.length, 31);
  assert.ok(!names.includes("churner"), "the churner is listed after leaving");
  // The server sends a batch every 200 ms; the page redraws once per batch, never once per
  // frame of it (30 joins arriving together were 30 redraws).
  const times = await alice.page.evaluate(() => window.redrawTimes);
  const close = times.slice(1).filter((t, i) => t - times[i] < 40).length;
  assert.equal(close, 0, `redraws ${JSON.stringify(times.map(Math.round))}`);
  const churnLines = (await notices(alice.page)).filter((n) => n.startsWith("churner"));
  assert.ok(churnLines.length <= times.length, `${churnLines.length} churner lines`);
  await driver.context.close();
});

// Two people on different backend instances chat both ways; a late joiner gets the
// history; another room stays separate; a reader scrolled up is not yanked down.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DESKTOP, PHONE, assertNoDuplicateIds, delivered, expectOnce, say, screenshot } from "../lib/browser.js";
import { useServices } from "../lib/suite.js";

const ROOM = "lobby";
const suite = useServices("chat");

let alice;
let bob;

test("two users on different instances chat both ways", async () => {
  alice = await suite.joined(ROOM, "alice");
  bob = await suite.joined(ROOM, "bob");
  assert.notEqual(suite.backendOf("alice"), suite.backendOf("bob"), "the proxy should spread them");
  assert.ok(suite.backendOf("alice") >= 0 && suite.backendOf("bob") >= 0);

  await say(alice.page, "Hi Bob! 👋 Ready for the release?");
  await expectOnce(bob.page, "Hi Bob! 👋 Ready for the release?");
  await say(bob.page, "Almost — notes are at https://example.com/notes.");
  await expectOnce(alice.page, "Almost — notes are at https://example.com/notes.");
  // Shift+Enter makes a new line; Enter sends.
  await bob.page.fill("#message", "Two things left:");
  await bob.page.press("#message", "Shift+Enter");
  await bob.page.type("#message", "1. changelog 2. tag ✅");
  await bob.page.press("#message", "Enter");
  await expectOnce(alice.page, "Two things left:\n1. changelog 2. tag ✅");
  await say(alice.page, "I'll do the tag. Ünïcödé and Ελληνικά test: 🎉");
  await say(alice.page, "Done 🚀");
  await expectOnce(bob.page, "Done 🚀");
  await expectOnce(alice.page, "Done 🚀");

  // Own messages are told apart; consecutive ones from one sender are grouped.
  const own = await alice.page.$$eval("#messages li.msg.own .text", (n) => n.map((x) => x.textContent));
  assert.deepEqual(own, ["Hi Bob! 👋 Ready for the release?", "I'll do the tag. Ünïcödé and Ελληνικά test: 🎉", "Done 🚀"]);
  const grouped = await bob.page.$eval("#messages li.msg:last-child", (n) => n.classList.contains("cont"));
  assert.ok(grouped, "alice's second message in a row is grouped with the first");
  // Links are clickable, and safely so.
  const link = await alice.page.$eval("#messages a", (a) => ({ href: a.href, rel: a.rel, text: a.textContent }));
  assert.deepEqual(link, { href: "https://example.com/notes", rel: "noopener noreferrer nofollow", text: "https://example.com/notes" });
  // Sender and local time are shown.
  const meta = await bob.page.$eval("#messages li.msg time", (t) => t.textContent);
  assert.match(meta, /\d/);

  assert.deepEqual(await delivered(alice.page), await delivered(bob.page), "both see one order");
  await assertNoDuplicateIds(alice.page);
  assert.deepEqual([...alice.dialogs, ...alice.errors, ...bob.dialogs, ...bob.errors], []);
  await screenshot(alice.page, "desktop-alice");
});

test("a late joiner sees the history; another room sees nothing", async () => {
  const carol = await suite.joined(ROOM, "carol", { viewport: PHONE });
  await expectOnce(carol.page, "Done 🚀");
  assert.deepEqual(await delivered(carol.page), await delivered(alice.page));

  const dave = await suite.joined("elsewhere", "dave");
  await say(dave.page, "anyone here?");
  await expectOnce(dave.page, "anyone here?");
  assert.deepEqual(await delivered(dave.page), ["anyone here?"]);
  await say(carol.page, "Hello from my phone 📱");
  await expectOnce(alice.page, "Hello from my phone 📱");
  assert.ok(!(await delivered(alice.page)).includes("anyone here?"));
  assert.ok(!(await delivered(dave.page)).includes("Hello from my phone 📱"));

  await alice.page.waitForSelector("#online .who >> text=carol");
  await screenshot(alice.page, "desktop");
  await alice.page.emulateMedia({ colorScheme: "dark" });
  await screenshot(alice.page, "desktop-dark");
  await alice.page.emulateMedia({ colorScheme: "light" });
  await screenshot(carol.page, "phone");
  await carol.page.click("#people-toggle");
  await screenshot(carol.page, "phone-people");
  await carol.context.close();
  await dave.context.close();
});

test("a reader who scrolled up is not yanked down, and sees a new-messages marker", async () => {
  for (let i = 1; i <= 25; i += 1) await say(alice.page, `filler ${i}`);
  await expectOnce(bob.page, "filler 25");
  const bottom = await bob.page.$eval("#messages", (m) => m.scrollHeight - m.scrollTop - m.clientHeight);
  assert.ok(bottom < 80, "following along: at the end");
  await bob.page.$eval("#messages", (m) => {
    m.scrollTop = 0;
  });
  await say(alice.page, "are you reading?");
  await expectOnce(bob.page, "are you reading?");
  assert.equal(await bob.page.$eval("#messages", (m) => m.scrollTop), 0, "view kept");
  await bob.page.waitForSelector("#new-messages:not([hidden])");
  assert.match(await bob.page.textContent("#new-messages"), /1 new message/);
  await bob.page.click("#new-messages");
  await bob.page.waitForSelector("#new-messages", { state: "hidden" });
  const after = await bob.page.$eval("#messages", (m) => m.scrollHeight - m.scrollTop - m.clientHeight);
  assert.ok(after < 80, "the marker jumps to the end");
});

test("rooms switch without a reload and the link can be copied", async () => {
  const { page } = bob;
  await page.evaluate(() => {
    window.notReloaded = true;
  });
  await page.fill("#switch-channel", "side-room");
  await page.press("#switch-channel", "Enter");
  await page.waitForSelector('#connection[data-state="connected"]');
  assert.equal(new URL(page.url()).pathname, "/c/side-room");
  assert.equal(await page.textContent("#room-name"), "side-room");
  assert.deepEqual(await delivered(page), []);
  await page.goBack();
  await page.waitForFunction(() => document.querySelector("#room-name").textContent === "lobby");
  await page.waitForSelector('#connection[data-state="connected"]');
  await expectOnce(page, "are you reading?");
  assert.equal(await page.evaluate(() => window.notReloaded), true, "same page, no reload");

  await bob.context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await page.click("#copy-link");
  await page.waitForSelector("#copy-link >> text=Link copied");
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${suite.topology.frontendUrl}/c/lobby`);
});

test("a deep link with a remembered name goes straight into the room", async () => {
  const page = await alice.context.newPage();
  await page.setViewportSize(DESKTOP);
  await page.goto(`${suite.topology.frontendUrl}/c/${ROOM}`);
  await page.waitForSelector('#connection[data-state="connected"]');
  assert.equal(await page.textContent("#you"), "alice");
  await expectOnce(page, "are you reading?");
  await page.close();
});

// Getting a person's attention, and keeping it: the tab title counts messages that came
// while the tab was hidden; a mention of your name can raise a browser notification (off
// until turned on; permission asked only then); tapping Send on a phone keeps the keyboard
// (focus stays in the message box); the header shows the SVG logo.
import assert from "node:assert/strict";
import { test } from "node:test";
import { PHONE, expectOnce, say } from "../lib/browser.js";
import { useServices } from "../lib/suite.js";

const suite = useServices("attention");

/** Makes the page believe its tab was hidden or shown again, as switching tabs does. */
function setHidden(page, hidden) {
  return page.evaluate((value) => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => value });
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (value ? "hidden" : "visible") });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

/** A stand-in for the Notification API that records what the page does with it. */
function recordNotifications() {
  window.shown = [];
  window.permissionAsked = 0;
  class FakeNotification {
    static permission = "default";
    static requestPermission() {
      window.permissionAsked += 1;
      FakeNotification.permission = "granted";
      return Promise.resolve("granted");
    }
    constructor(title, options) {
      window.shown.push({ title, body: options.body });
    }
    close() {}
  }
  window.Notification = FakeNotification;
}

test("unread count in the title while hidden; notifications for mentions once turned on", async () => {
  const alice = await suite.joined("standup", "alice");
  const bob = await suite.openUser();
  await bob.context.addInitScript(recordNotifications);
  await bob.page.reload();
  await bob.page.fill("#channel", "standup");
  await bob.page.fill("#name", "Bob");
  await bob.page.press("#name", "Enter");
  await bob.page.waitForSelector('#connection[data-state="connected"]');
  assert.equal(await bob.page.title(), "#standup · Chat");
  assert.equal(await bob.page.isChecked("#notify-mentions"), false, "off by default");
  assert.equal(await bob.page.evaluate(() => window.permissionAsked), 0, "not asked before turned on");
  await bob.page.waitForTimeout(1600); // past the history replay after welcome

  await setHidden(bob.page, true);
  await say(alice.page, "one");
  await say(alice.page, "hey bob, are you there?");
  await say(alice.page, "three");
  await expectOnce(bob.page, "three");
  assert.equal(await bob.page.title(), "(3) #standup · Chat");
  assert.deepEqual(await bob.page.evaluate(() => window.shown), [], "no notification while off");
  await setHidden(bob.page, false);
  assert.equal(await bob.page.title(), "#standup · Chat");

  await bob.page.check("#notify-mentions");
  await bob.page.waitForFunction(() => window.permissionAsked === 1);
  assert.equal(await bob.page.isChecked("#notify-mentions"), true);
  await setHidden(bob.page, true);
  await say(alice.page, "bobby is someone else");
  await say(alice.page, "@Bob: standup now");
  await expectOnce(bob.page, "@Bob: standup now");
  const shown = await bob.page.evaluate(() => window.shown);
  assert.deepEqual(shown, [{ title: "alice in #standup", body: "@Bob: standup now" }]);
  assert.equal(await bob.page.title(), "(2) #standup · Chat");
  await setHidden(bob.page, false);
  assert.deepEqual([...alice.errors, ...bob.errors], []);
  await alice.context.close();
  await bob.context.close();
});

test("tapping Send on a touch screen keeps the focus in the message box", async () => {
  const user = await suite.joined("phones", "tapper", { viewport: PHONE, hasTouch: true, isMobile: true });
  await user.page.tap("#message");
  await user.page.fill("#message", "sent with a tap");
  await user.page.tap("#send");
  await expectOnce(user.page, "sent with a tap");
  assert.equal(await user.page.evaluate(() => document.activeElement.id), "message");
  assert.equal(await user.page.inputValue("#message"), "");
  await user.context.close();
});

test("the header shows the SVG logo, not an emoji", async () => {
  const { page, context } = await suite.openUser();
  const logo = await page.$eval(".top h1 svg.logo", (svg) => svg.getBoundingClientRect().width);
  assert.ok(logo > 0, "the logo is drawn");
  const before = await page.$eval(".top h1 a", (a) => getComputedStyle(a, "::before").content);
  assert.equal(before, "none");
  assert.equal((await page.textContent(".top h1")).trim(), "Chat");
  await context.close();
});

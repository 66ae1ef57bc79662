// Text is text: names and messages with markup render literally, nothing runs; names that
// cannot be shown are refused with a clear message; long and non-Latin text wraps and renders;
// a send the server refuses says why and can be sent again.
import assert from "node:assert/strict";
import { test } from "node:test";
import { delivered, expectOnce, join, say, PHONE } from "../lib/browser.js";
import { useServices } from "../lib/suite.js";

const XSS = "<img src=x onerror=alert(1)>";
const suite = useServices("text");

test("a name with markup is only text; a name that cannot be shown is refused clearly", async () => {
  const { page, dialogs } = await suite.openUser();
  await page.fill("#channel", "safe");
  await page.fill("#name", "a\u0007b");
  await page.click("#join-form button[type=submit]");
  assert.match(await page.textContent("#join-error"), /Your name cannot contain control characters/);
  assert.equal(await page.getAttribute("#name", "aria-invalid"), "");
  assert.equal(await page.evaluate(() => document.activeElement.id), "name", "focus goes to the field");
  assert.ok(await page.isHidden("#room"));
  await page.fill("#name", "\u200b\u0301");
  await page.click("#join-form button[type=submit]");
  assert.match(await page.textContent("#join-error"), /at least one visible character/);

  await page.fill("#name", XSS);
  await page.click("#join-form button[type=submit]");
  await page.waitForSelector('#connection[data-state="connected"]');
  assert.equal(await page.textContent("#you"), XSS);
  assert.equal(await page.$$eval("img", (n) => n.length), 0);
  assert.deepEqual(dialogs, []);
});

test("markup in messages renders as literal text and never runs", async () => {
  const mallory = await suite.joined("safe", "mallory");
  const victim = await suite.joined("safe", "victim", { viewport: PHONE });
  const texts = [XSS, "<script>alert(2)</script>", "javascript:alert(3) <b>bold?</b> https://ok.example/?q=a&x=1"];
  for (const text of texts) await say(mallory.page, text);
  for (const text of texts) await expectOnce(victim.page, text);
  await victim.page.waitForTimeout(300); // give a payload every chance to fire
  for (const user of [mallory, victim]) {
    assert.equal(await user.page.$$eval("#messages img, #messages script", (n) => n.length), 0);
    assert.deepEqual(user.dialogs, [], "no dialog fired");
    assert.deepEqual(user.errors, []);
  }
  const links = await victim.page.$$eval("#messages a", (n) => n.map((a) => a.href));
  assert.deepEqual(links, ["https://ok.example/?q=a&x=1"], "only the http(s) URL is a link");
});

test("long text wraps and any Unicode comes through intact", async () => {
  const user = await suite.joined("wrap", "wanda", { viewport: PHONE });
  const long = "x".repeat(600);
  const unicode = "日本語 · Ελληνικά · עברית · 🧑🏽‍💻👩‍👩‍👧 · e\u0301 · 𝔘𝔫𝔦𝔠𝔬𝔡𝔢";
  await say(user.page, long);
  await say(user.page, unicode);
  await expectOnce(user.page, long);
  await expectOnce(user.page, unicode);
  const overflow = await user.page.$eval("#messages", (m) => m.scrollWidth - m.clientWidth);
  assert.ok(overflow <= 0, `no sideways scrolling (${overflow}px)`);
  const pageOverflow = await user.page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  assert.ok(pageOverflow <= 0, `page fits a phone (${pageOverflow}px)`);
});

test("a refused send says why and can be sent again", async () => {
  const user = await suite.openUser();
  // Stand in for the backend's coming rate limit: answer one send with rate_limited.
  let refused = false;
  await user.page.routeWebSocket(/\/ws\//, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((message) => {
      const frame = JSON.parse(message);
      if (frame.type === "send" && frame.message === "too fast" && !refused) {
        refused = true;
        ws.send(JSON.stringify({ type: "error", code: "rate_limited", message: "slow down", nonce: frame.nonce }));
      } else {
        server.send(message);
      }
    });
  });
  await join(user, "limits", "rita");
  await say(user.page, "too fast");
  await user.page.waitForSelector("#messages li.msg.failed");
  const note = await user.page.textContent("#messages li.failed .note");
  assert.match(note, /Not sent: You are sending too fast/);
  await user.page.click("#messages li.failed button >> text=Send again");
  await expectOnce(user.page, "too fast");
  assert.equal(await user.page.$$eval("#messages li.failed", (n) => n.length), 0);

  // Too long for the protocol: refused before sending, with the limit named.
  await user.page.fill("#message", "y".repeat(4097));
  await user.page.press("#message", "Enter");
  assert.match(await user.page.textContent("#send-error"), /at most 4096 characters; this one has 4097/);
  assert.deepEqual(await delivered(user.page), ["too fast"]);
});

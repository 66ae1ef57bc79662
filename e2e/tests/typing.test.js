// Typing, across two backend instances: others see "Ana is typing…" (by name; several are
// listed together), for about 4 s after the last sign or until the message arrives; nobody
// sees it for themselves, and a steady typist says so at most every 2 s.
import assert from "node:assert/strict";
import { test } from "node:test";
import { expectOnce, say, screenshot } from "../lib/browser.js";
import { useServices } from "../lib/suite.js";

const ROOM = "drafts";
const suite = useServices("typing");

const typingLine = (page) => page.textContent("#typing");

/** Types `text` a key at a time over about `ms`. */
async function typeSlowly(page, text, ms) {
  await page.type("#message", text, { delay: Math.round(ms / text.length) });
}

test("others see who is typing, by name, never themselves", async () => {
  const ana = await suite.joined(ROOM, "Ana");
  const ben = await suite.joined(ROOM, "Ben");
  const cy = await suite.joined(ROOM, "Cy");
  assert.notEqual(suite.backendOf("Ana"), suite.backendOf("Ben"), "Ana and Ben on different instances");
  await ana.page.evaluate(() => {
    window.typingSent = 0;
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (data) {
      if (String(data).includes('"type":"typing"')) window.typingSent += 1;
      return send.call(this, data);
    };
  });

  const started = Date.now();
  await typeSlowly(ana.page, "Hello everyone, a long thought", 3000);
  await ben.page.waitForFunction(() => document.querySelector("#typing").textContent === "Ana is typing…");
  assert.equal(await typingLine(cy.page), "Ana is typing…");
  assert.equal(await typingLine(ana.page), "", "never for yourself");
  const sent = await ana.page.evaluate(() => window.typingSent);
  const allowed = Math.floor((Date.now() - started) / 2000) + 1;
  assert.ok(sent >= 1 && sent <= allowed, `${sent} typing frames in ${Date.now() - started} ms`);

  await typeSlowly(ben.page, "Me too", 300);
  await cy.page.waitForFunction(() => document.querySelector("#typing").textContent === "Ana and Ben are typing…");
  assert.equal(await typingLine(ben.page), "Ana is typing…");
  await screenshot(cy.page, "typing");

  // A message ends its sender's typing at once.
  await ana.page.press("#message", "Enter");
  await expectOnce(cy.page, "Hello everyone, a long thought");
  assert.equal(await typingLine(cy.page), "Ben is typing…");
  // Silence ends it after about 4 s.
  const quietFrom = Date.now();
  await cy.page.waitForFunction(() => document.querySelector("#typing").textContent === "", null, { timeout: 8000 });
  const shownFor = Date.now() - quietFrom;
  assert.ok(shownFor > 1000, `gone after ${shownFor} ms of silence`);
  await say(ben.page, "Me too");
  await expectOnce(ana.page, "Me too");
  assert.equal(await typingLine(ana.page), "");
  assert.deepEqual([...ana.errors, ...ben.errors, ...cy.errors], []);
});

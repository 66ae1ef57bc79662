// Paging back: a reader who scrolls to the top gets the page before the oldest message
// shown, above it, without the view jumping; at the start, "Beginning of the room". A room
// of 500 messages (posted by raw WebSocket clients) scrolled back to its start shows every
// message exactly once, in order.
import assert from "node:assert/strict";
import { test } from "node:test";
import { assertNoDuplicateIds, delivered, expectOnce, screenshot } from "../lib/browser.js";
import { useServices } from "../lib/suite.js";

const ROOM = "archive";
const COUNT = 500;
const suite = useServices("history");

const label = (i) => `message ${String(i).padStart(3, "0")}`;

/** Posts `count` messages to `room` from two raw WebSocket clients (one per instance, as the
 *  proxy alternates), each waiting for its ack, so the texts' order is the ids' order. */
async function post(page, room, count) {
  await page.evaluate(
    async ({ room, count }) => {
      const base = `${document.body.dataset.backendUrl}/ws/${room}/`;
      const open = (name) =>
        new Promise((resolve, reject) => {
          const socket = new WebSocket(base + name);
          socket.onmessage = (event) => {
            if (JSON.parse(event.data).type === "welcome") resolve(socket);
          };
          socket.onerror = () => reject(new Error(`${name} could not connect`));
        });
      const sendAcked = (socket, text, nonce) =>
        new Promise((resolve, reject) => {
          const onFrame = (event) => {
            const frame = JSON.parse(event.data);
            if (frame.nonce !== nonce) return;
            socket.removeEventListener("message", onFrame);
            if (frame.type === "ack") resolve();
            else reject(new Error(`${text}: ${event.data}`));
          };
          socket.addEventListener("message", onFrame);
          socket.send(JSON.stringify({ type: "send", message: text, nonce }));
        });
      const posters = [await open("poster-a"), await open("poster-b")];
      for (let i = 1; i <= count; i++) {
        await sendAcked(posters[i % 2], `message ${String(i).padStart(3, "0")}`, `n${i}`);
      }
      for (const socket of posters) socket.close();
    },
    { room, count },
  );
}

test("scrolling back through 500 messages shows each once, in order, without jumps", async () => {
  const driver = await suite.openUser();
  await post(driver.page, ROOM, COUNT);
  await driver.context.close();

  const reader = await suite.joined(ROOM, "reader");
  const { page } = reader;
  await expectOnce(page, label(COUNT));
  const edgeState = () => page.$eval("#messages > .edge", (e) => e.dataset.state);
  assert.equal(await edgeState(), "more");

  for (let pages = 0; (await edgeState()) !== "start"; pages++) {
    assert.ok(pages < 20, "the beginning is reached in at most 20 pages");
    const before = await page.$eval("#messages", (list) => {
      const first = list.querySelector("li.msg");
      list.scrollTop = 0;
      return { id: first.dataset.id, top: first.getBoundingClientRect().top, count: list.querySelectorAll("li.msg").length };
    });
    await page.waitForFunction(
      (count) => {
        const edge = document.querySelector("#messages > .edge");
        return edge.dataset.state === "start" || document.querySelectorAll("#messages li.msg").length > count;
      },
      before.count,
    );
    // The message that was at the top is where it was: the page went above it.
    const top = await page.$eval(`#messages li.msg[data-id="${before.id}"]`, (item) => item.getBoundingClientRect().top);
    assert.ok(Math.abs(top - before.top) <= 1, `the view jumped by ${top - before.top} px`);
  }

  assert.equal(await page.textContent("#messages > .edge"), "Beginning of the room");
  const expected = Array.from({ length: COUNT }, (_, i) => label(i + 1));
  assert.deepEqual(await delivered(page), expected, "every message once, in order");
  await assertNoDuplicateIds(page);
  assert.deepEqual([...reader.errors, ...reader.dialogs], []);
  await page.$eval("#messages", (list) => {
    list.scrollTop = 0;
  });
  await screenshot(page, "history-beginning");
});

test("new messages still arrive at the bottom after paging back", async () => {
  const writer = await suite.joined(ROOM, "writer");
  const reader = await suite.joined(ROOM, "late-reader");
  await reader.page.$eval("#messages", (list) => {
    list.scrollTop = 0;
  });
  await reader.page.waitForFunction(() => document.querySelectorAll("#messages li.msg").length > 50);
  await writer.page.fill("#message", "fresh news");
  await writer.page.press("#message", "Enter");
  await expectOnce(reader.page, "fresh news");
  const texts = await delivered(reader.page);
  assert.equal(texts.at(-1), "fresh news");
  assert.deepEqual(texts.slice(0, -1), texts.slice(0, -1).toSorted(), "older pages above, in order");
});

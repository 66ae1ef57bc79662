// Headless Chromium (Debian's, never a downloaded one) and the page actions the tests share.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { artifactsDir } from "./topology.js";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** Playwright gives every launch a fresh temporary profile (--user-data-dir). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A person: their own browser context (storage, cookies) and one page on the frontend,
 *  recording any dialog (which no test expects) and script error. Other options go to the
 *  context (e.g. `hasTouch`). */
export async function openUser(browser, topology, { viewport = DESKTOP, colorScheme = "light", ...contextOptions } = {}) {
  const context = await browser.newContext({ viewport, colorScheme, ...contextOptions });
  const page = await context.newPage();
  const user = { context, page, dialogs: [], errors: [] };
  page.on("dialog", (dialog) => {
    user.dialogs.push(dialog.message());
    dialog.dismiss().catch(() => {});
  });
  page.on("pageerror", (err) => user.errors.push(String(err)));
  await page.goto(`${topology.frontendUrl}/`);
  return user;
}

/** A name that is also a valid client id ("alice") becomes the browser's client id too, so
 *  the proxy's routes (`backendOf`) and the server logs say who is who; any other name, or
 *  `clientId: null`, keeps the id the page made up. */
function seededClientId(name) {
  return /^[A-Za-z0-9._-]{1,64}$/.test(name) ? name : null;
}

/** Fills the join form and submits it with Enter; whether the room connects is up to the test. */
export async function submitJoin(page, room, name, { clientId = seededClientId(name) } = {}) {
  if (clientId) await page.evaluate((id) => localStorage.setItem("chat.client", id), clientId);
  await page.fill("#channel", room);
  await page.fill("#name", name);
  await page.press("#name", "Enter");
}

/** Fills the join form and waits until the room is connected. */
export async function join(user, room, name, options) {
  await submitJoin(user.page, room, name, options);
  await waitConnected(user.page);
  user.name = name;
}

export async function waitConnected(page, timeout = 15000) {
  await page.waitForSelector('#connection[data-state="connected"]', { timeout });
}

/** Types a message and sends it with Enter, as a person would. */
export async function say(page, text) {
  await page.fill("#message", text);
  await page.press("#message", "Enter");
}

/** Texts of the messages shown as delivered (not pending or failed), in list order. */
export function delivered(page) {
  return page.$$eval("#messages li.msg:not(.pending):not(.failed) .text", (nodes) =>
    nodes.map((n) => n.textContent),
  );
}

/** Waits until `text` is shown as delivered, then checks it is there exactly once. */
export async function expectOnce(page, text, timeout = 15000) {
  await page.waitForFunction(
    (wanted) =>
      [...document.querySelectorAll("#messages li.msg:not(.pending):not(.failed) .text")].some(
        (n) => n.textContent === wanted,
      ),
    text,
    { timeout },
  );
  const count = (await delivered(page)).filter((t) => t === text).length;
  assert.equal(count, 1, `"${text}" shown ${count} times`);
}

/** Names in the "online" list. */
export function onlineNames(page) {
  return page.$$eval("#online .who", (nodes) => nodes.map((n) => n.textContent));
}

export async function screenshot(page, name) {
  fs.mkdirSync(path.join(artifactsDir, "screenshots"), { recursive: true });
  await page.screenshot({ path: path.join(artifactsDir, "screenshots", `${name}.png`) });
}

/** No id may be shown twice and no text doubled by a reconnect: the page's core promise. */
export async function assertNoDuplicateIds(page) {
  const ids = await page.$$eval("#messages li.msg[data-id]", (nodes) => nodes.map((n) => n.dataset.id));
  assert.equal(new Set(ids).size, ids.length, `duplicate message ids: ${ids}`);
}

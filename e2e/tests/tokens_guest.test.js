// Guest tokens: with AUTH_JWT_SECRET the frontend mints them at POST /token and the page
// asks for one before it connects; the backends then take the name from the token. Two
// people on the two instances chat as usual.
import assert from "node:assert/strict";
import { test } from "node:test";
import { expectOnce, say } from "../lib/browser.js";
import { useServices } from "../lib/suite.js";

const SECRET = "e2e-guest-secret-0123456789abcdefghij";
const suite = useServices("tokens-guest", {
  backendEnv: { AUTH_JWT_SECRET: SECRET },
  frontendEnv: { AUTH_JWT_SECRET: SECRET, GUEST_TOKEN_TTL_SECS: "60" },
});

test("guests get a token from the page's own /token and chat across instances", async () => {
  const asked = [];
  const ana = await suite.openUser();
  ana.page.on("request", (request) => {
    if (new URL(request.url()).pathname === "/token") asked.push(JSON.parse(request.postData()));
  });
  assert.equal(await ana.page.$eval("body", (b) => b.dataset.tokenMode), "guest");
  await ana.page.evaluate(() => localStorage.setItem("chat.client", "ana"));
  await ana.page.fill("#channel", "Guest Room");
  await ana.page.fill("#name", "Ana María");
  await ana.page.press("#name", "Enter");
  await ana.page.waitForSelector('#connection[data-state="connected"]');
  assert.deepEqual(asked, [{ client_id: "ana", name: "Ana María", channel: "guest-room" }]);

  const ben = await suite.joined("Guest Room", "ben");
  assert.notEqual(suite.backendOf("ana"), suite.backendOf("ben"));
  await say(ana.page, "hola");
  await expectOnce(ben.page, "hola");
  assert.equal(await ben.page.textContent("#messages li.msg:last-child .sender"), "Ana María", "the token's name");
  await say(ben.page, "hi Ana");
  await expectOnce(ana.page, "hi Ana");
  assert.deepEqual([...ana.errors, ...ben.errors], []);
});

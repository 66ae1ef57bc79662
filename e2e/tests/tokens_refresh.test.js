// Tokens from the operator's endpoint (TOKEN_URL), short-lived (8 s): the page gets one before
// connecting, with the browser's cookies; keeps its connection past several lifetimes by
// `refresh`, losing and doubling nothing while someone else keeps sending; after a 4401 (the
// endpoint was down when the token ran out) gets a new token before reconnecting; and stops,
// saying why, when the endpoint refuses or the backend refuses its tokens — without asking
// again and again.
import assert from "node:assert/strict";
import { test } from "node:test";
import { expectOnce, say, submitJoin, waitConnected } from "../lib/browser.js";
import { useServices } from "../lib/suite.js";
import { startTokenServer } from "../lib/token_server.js";

const SECRET = "e2e-operator-secret-0123456789abcdef";
const TTL_SECS = 8;
const ROOM = "signed";
const tokens = await startTokenServer({ secret: SECRET, ttlSecs: TTL_SECS });
const suite = useServices(
  "tokens-refresh",
  {
    backendEnv: { AUTH_JWT_SECRET: SECRET, AUTH_CLOCK_LEEWAY_SECS: "0" },
    frontendEnv: { TOKEN_URL: tokens.url },
  },
  { beforeStop: () => tokens.close() },
);

const sockets = (name) => suite.topology.proxy.routes.filter((r) => r.path.includes(`/${name}?`));
const asked = (name) => tokens.requests.filter((r) => r.client_id === name);

let alice;
let bob;

test("refreshes keep the connection past several token lifetimes, nothing lost or doubled", async () => {
  alice = await suite.openUser();
  await alice.context.addCookies([{ name: "operator_session", value: "s-alice", url: suite.topology.frontendUrl }]);
  await submitJoin(alice.page, ROOM, "alice");
  await waitConnected(alice.page);
  bob = await suite.joined(ROOM, "bob");
  assert.equal(await alice.page.$eval("body", (b) => b.dataset.tokenMode), "operator");
  assert.match(asked("alice")[0].cookie, /operator_session=s-alice/, "asked with the browser's cookies");
  assert.match(sockets("alice")[0].path, /[?&]token=/, "connected with the token");

  const sent = [];
  const started = Date.now();
  for (let i = 1; Date.now() - started < 3 * TTL_SECS * 1000; i++) {
    const text = `tick ${i}`;
    await say(bob.page, text);
    sent.push(text);
    await bob.page.waitForTimeout(400);
  }
  await expectOnce(alice.page, sent.at(-1));
  const seen = await alice.page.$$eval("#messages li.msg .text", (nodes) => nodes.map((n) => n.textContent));
  assert.deepEqual(seen, sent, "every message once, in order");
  assert.equal(sockets("alice").length, 1, "one connection all along");
  assert.ok(asked("alice").length >= 3, `${asked("alice").length} tokens fetched`);
  assert.equal(await alice.page.getAttribute("#connection", "data-state"), "connected");
  assert.deepEqual([...alice.errors, ...bob.errors], []);
});

test("a 4401 after the token ran out leads to a new token and a resumed connection", async () => {
  tokens.setMode("alice", "down");
  // The refresh fails, the token expires, the server closes with 4401.
  await alice.page.waitForSelector('#connection:not([data-state="connected"])', { timeout: 2 * TTL_SECS * 1000 });
  await say(bob.page, "said while alice was away");
  tokens.setMode("alice", "ok");
  await waitConnected(alice.page, 30000);
  await expectOnce(alice.page, "said while alice was away");
  assert.equal(sockets("alice").length, 2, "one reconnection");
  assert.ok(asked("alice").some((r) => r.mode === "down"));
  assert.equal(asked("alice").at(-1).mode, "ok");
  const errors = await alice.page.$$eval("#messages li.notice.error", (nodes) => nodes.map((n) => n.textContent));
  assert.deepEqual(errors, [], "an expired token is no error to show");
  await say(alice.page, "back again");
  await expectOnce(bob.page, "back again");
});

test("an endpoint that refuses: a clear message, no retry loop", async () => {
  tokens.setMode("carol", "refuse");
  const carol = await suite.openUser();
  await submitJoin(carol.page, ROOM, "carol");
  await carol.page.waitForSelector('#connection[data-state="refused"]', { timeout: 10000 });
  const notices = await carol.page.$$eval("#messages li.notice", (nodes) => nodes.map((n) => n.textContent));
  assert.deepEqual(notices, ["Could not sign in to this room: you are not signed in."]);
  await carol.page.waitForTimeout(3000);
  assert.equal(asked("carol").length, 1, "asked once");
  assert.equal(sockets("carol").length, 0, "never connected without a token");
  // "Reconnect now" asks again, once.
  tokens.setMode("carol", "ok");
  await carol.page.click("#retry");
  await waitConnected(carol.page);
  assert.equal(asked("carol").length, 2);
});

test("tokens the backend refuses: one new token, then a clear stop, no loop", async () => {
  tokens.setMode("dora", "forged");
  const dora = await suite.openUser();
  await submitJoin(dora.page, ROOM, "dora");
  await dora.page.waitForSelector('#connection[data-state="refused"]', { timeout: 15000 });
  const notices = await dora.page.$$eval("#messages li.notice", (nodes) => nodes.map((n) => n.textContent));
  assert.equal(notices.length, 1, JSON.stringify(notices));
  assert.match(notices[0], /requires you to sign in/);
  await dora.page.waitForTimeout(3000);
  assert.equal(asked("dora").length, 2, "a second token after the first 4401, no third");
  assert.equal(sockets("dora").length, 2);
});

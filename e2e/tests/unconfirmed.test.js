// Acks wait for a replica; this one stops answering (SIGSTOP). A message is then stored and
// delivered — everyone sees it — but not confirmed: the page must not call it failed, nor
// show it twice; it resends with the same nonce until the ack of the original arrives,
// which it does once the replica is back.
import assert from "node:assert/strict";
import { test } from "node:test";
import { assertNoDuplicateIds, delivered, expectOnce, say } from "../lib/browser.js";
import { freeze, thaw, waitUntil } from "../lib/processes.js";
import { useServices } from "../lib/suite.js";
import { backendMetric } from "../lib/topology.js";

let frozen = null;
const suite = useServices("unconfirmed", {
    replica: true,
    backendEnv: { REDIS_WAIT_REPLICAS: "1", REDIS_WAIT_TIMEOUT_MS: "300" },
  }, {
  beforeStop: () => {
    if (frozen) thaw(frozen);
  },
});

const unconfirmed = () => backendMetric(suite.topology, 'chat_errors_total{code="not_confirmed"}');
const acked = () => backendMetric(suite.topology, "chat_messages_in_total");

/** What the page shows as wrong: error notices and failed sends. */
function complaints(page) {
  return page.$$eval("#messages li.notice.error, #messages li.msg.failed", (nodes) => nodes.map((n) => n.textContent));
}

test("a message no replica confirms: shown once, resent with its nonce until acked", async () => {
  const alice = await suite.joined("sync", "alice");
  const bob = await suite.joined("sync", "bob");
  await say(alice.page, "before");
  await expectOnce(bob.page, "before");
  await expectOnce(alice.page, "before");
  assert.equal(await unconfirmed(), 0);

  frozen = suite.topology.replica;
  freeze(frozen);
  await say(alice.page, "held");
  // Stored and delivered: both see it, once.
  await expectOnce(bob.page, "held");
  await expectOnce(alice.page, "held");
  // The page keeps resending (each answered not_confirmed), and says nothing is wrong.
  await waitUntil("resends answered not_confirmed", async () => (await unconfirmed()) >= 3, 15000);
  assert.deepEqual(await complaints(alice.page), []);
  await expectOnce(alice.page, "held");

  const ackedBefore = await acked();
  thaw(frozen);
  frozen = null;
  // A resend is acked (with the original id: nothing new is stored or shown) and the page
  // stops resending.
  await waitUntil("the resend acked", async () => (await acked()) > ackedBefore, 15000);
  const settled = await unconfirmed();
  await alice.page.waitForTimeout(3000);
  assert.equal(await unconfirmed(), settled, "the page kept resending after the ack");
  assert.equal(await acked(), ackedBefore + 1);

  await say(bob.page, "after");
  await expectOnce(alice.page, "after");
  const expected = ["before", "held", "after"];
  assert.deepEqual(await delivered(alice.page), expected);
  assert.deepEqual(await delivered(bob.page), expected);
  await assertNoDuplicateIds(alice.page);
  assert.deepEqual(await complaints(alice.page), []);
  assert.deepEqual([...alice.errors, ...bob.errors], []);
});

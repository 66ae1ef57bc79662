// Links a person can trust: a URL whose text hides its real host behind a `user:pass@` part
// (https://bank.example@evil.example goes to evil.example) is shown as text, never as a link,
// while ordinary URLs, `@` in their path or query included, still are; a link keeps the
// brackets of its own and leaves those of the sentence around it. Text, links included,
// takes its direction from its script. And the page's security headers are ones the
// browser accepts and enforces.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DESKTOP, expectOnce, say } from "../lib/browser.js";
import { useServices } from "../lib/suite.js";

const suite = useServices("links");

const DISGUISED = [
  "https://user:pass@evil.example/login",
  "https://bank.example@evil.example/",
  "HTTPS://admin@evil.example",
  "http://@evil.example",
  "https://bank.example\\@evil.example/",
  "https://bank.example:443@evil.example",
];
const PLAIN = ["https://ok.example/@someone", "https://ok.example/?mail=a@b.example", "http://ok.example/x"];

test("URLs with a user:pass@ part are shown as text, not made links", async () => {
  const mallory = await suite.joined("links", "mallory");
  const victim = await suite.joined("links", "victim");
  const text = `sign in: ${DISGUISED.join(" ")} or ${PLAIN.join(" ")}.`;
  await say(mallory.page, text);
  await expectOnce(victim.page, text);
  for (const user of [mallory, victim]) {
    const links = await user.page.$$eval("#messages a", (nodes) =>
      nodes.map((a) => ({ text: a.textContent, href: a.href })),
    );
    assert.deepEqual(
      links.map((l) => l.text),
      PLAIN,
      "only URLs without userinfo are links",
    );
    for (const { href } of links) assert.doesNotMatch(href, /evil\.example/);
    assert.deepEqual(user.errors, []);
  }
});

test("links keep their own brackets; right-to-left text runs right to left", async () => {
  const writer = await suite.joined("brackets", "writer");
  const reader = await suite.joined("brackets", "reader");
  const wiki = "https://en.wikipedia.org/wiki/Chat_(disambiguation)";
  const text = `see (${wiki}), (https://ok.example/plain) and [https://ok.example/a_(b)].`;
  const hebrew = "שלום לכולם, מה נשמע?";
  await say(writer.page, text);
  await say(writer.page, hebrew);
  await expectOnce(reader.page, text);
  await expectOnce(reader.page, hebrew);
  const links = await reader.page.$$eval("#messages a", (nodes) => nodes.map((a) => [a.textContent, a.href]));
  assert.deepEqual(links, [
    [wiki, wiki],
    ["https://ok.example/plain", "https://ok.example/plain"],
    ["https://ok.example/a_(b)", "https://ok.example/a_(b)"],
  ]);
  const directions = await reader.page.$$eval("#messages li.msg .text", (nodes) =>
    nodes.map((p) => [p.getAttribute("dir"), p.matches(":dir(rtl)")]),
  );
  assert.deepEqual(directions, [["auto", false], ["auto", true]]);
  assert.equal(await reader.page.getAttribute("#message", "dir"), "auto", "typing too");
  await writer.context.close();
  await reader.context.close();
});

test("the browser accepts the security headers and denies features the page never uses", async () => {
  const context = await suite.browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  const complaints = [];
  page.on("console", (message) => {
    if (/permissions.policy|feature policy|unrecognized feature|x-frame-options/i.test(message.text())) {
      complaints.push(message.text());
    }
  });
  await page.goto(`${suite.topology.frontendUrl}/`);
  const allowed = await page.evaluate(() => {
    const policy = document.permissionsPolicy ?? document.featurePolicy;
    return Object.fromEntries(["camera", "microphone", "geolocation", "payment"].map((f) => [f, policy.allowsFeature(f)]));
  });
  assert.deepEqual(allowed, { camera: false, microphone: false, geolocation: false, payment: false });
  assert.deepEqual(complaints, []);
  await context.close();
});

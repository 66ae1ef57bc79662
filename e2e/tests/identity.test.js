// Who is who: each browser has a random client id of its own, apart from the display name
// a person types, which may be any text in any script. "(you)" and grouping go by client
// id, so two people who both call themselves "bob" are two people. Room names are forgiving:
// "Team Chat" and "team chat" are one room, `team-chat` on the wire, shown as typed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { expectOnce, join, onlineNames, say, screenshot } from "../lib/browser.js";
import { useServices } from "../lib/suite.js";

const suite = useServices("identity");
const NAMES = ["José", "Zoë Smith", "李雷", "O'Brien", "مريم"];

/** A person with a random client id. */
async function person(room, name, userOptions) {
  const user = await suite.openUser(userOptions);
  await join(user, room, name, { clientId: null });
  return user;
}

const clientIdOf = (page) => page.evaluate(() => localStorage.getItem("chat.client"));

test("names in any script are accepted, sent as `name`, and shown as text", async () => {
  const people = [];
  for (const name of NAMES) people.push(await person("Team Chat", name));
  const [jose, ...others] = people;
  for (const [i, user] of people.entries()) {
    assert.equal(await user.page.textContent("#you"), NAMES[i]);
    const id = await clientIdOf(user.page);
    assert.match(id, /^[A-Za-z0-9_-]{16}$/, "a URL-safe random client id");
    const route = suite.topology.proxy.routes.findLast((r) => r.path.includes(`/${id}?`));
    const sent = new URL(route.path.split(" ")[1], "http://x").searchParams.get("name");
    assert.equal(sent, NAMES[i], "the name goes on the /ws URL");
  }
  assert.equal(new Set(await Promise.all(people.map((u) => clientIdOf(u.page)))).size, NAMES.length);

  await say(jose.page, "¡Hola a todos!");
  for (const user of people) await expectOnce(user.page, "¡Hola a todos!");
  const last = people.at(-1).page;
  assert.equal(await last.textContent("#messages li.msg:last-child .sender"), "José");
  await last.waitForFunction((n) => document.querySelectorAll("#online .who").length === n, NAMES.length);
  assert.deepEqual((await onlineNames(last)).sort(), [...NAMES].sort());
  assert.equal(await last.textContent("#online .me .who"), "مريم", "yourself first");
  await screenshot(last, "desktop-names");
  for (const user of others) assert.deepEqual(user.errors, []);
  for (const user of people) await user.context.close();
});

test("two people both called bob are two people; the id outlives a reload", async () => {
  const first = await person("bobs", "bob");
  const second = await person("bobs", "bob");
  const [firstId, secondId] = [await clientIdOf(first.page), await clientIdOf(second.page)];
  assert.notEqual(firstId, secondId);

  await say(first.page, "I am the first bob");
  await expectOnce(second.page, "I am the first bob");
  await say(second.page, "and I am the second");
  await expectOnce(first.page, "and I am the second");
  for (const [user, mine] of [[first, "I am the first bob"], [second, "and I am the second"]]) {
    const own = await user.page.$$eval("#messages li.msg.own .text", (n) => n.map((x) => x.textContent));
    assert.deepEqual(own, [mine], "(you) by client id, not by name");
    // The last message, whatever notice (a join, say) came after it.
    const continued = await user.page.$$eval("#messages li.msg", (n) => n[n.length - 1].classList.contains("cont"));
    assert.equal(continued, false, "not grouped as one sender");
    await user.page.waitForFunction(() => document.querySelectorAll("#online .who").length === 2);
    assert.deepEqual(await onlineNames(user.page), ["bob", "bob"]);
    assert.equal(await user.page.$$eval("#online .tag", (n) => n.length), 1, "one of them is you");
  }

  await first.page.reload();
  assert.equal(await clientIdOf(first.page), firstId);
  assert.equal(await first.page.inputValue("#name"), "bob", "the name is remembered too");
  await first.context.close();
  await second.context.close();
});

test("room names are forgiving: any case and spaces, one room, shown as typed", async () => {
  const ana = await person("Team Chat", "Ana");
  assert.equal(new URL(ana.page.url()).pathname, "/c/team-chat");
  assert.equal(await ana.page.textContent("#room-name"), "Team Chat");
  assert.equal(await ana.page.textContent("#rooms [aria-current]"), "# Team Chat");
  assert.equal(await ana.page.title(), "#Team Chat · Chat");

  const ben = await person("  TEAM chat ", "Ben");
  assert.equal(await ben.page.textContent("#room-name"), "TEAM chat");
  await say(ben.page, "same room?");
  await expectOnce(ana.page, "same room?");

  // A link in another case lands in the same room, under the name it was typed as here.
  const page = await ana.context.newPage();
  await page.goto(`${suite.topology.frontendUrl}/c/Team-CHAT`);
  await page.waitForSelector('#connection[data-state="connected"]');
  assert.equal(new URL(page.url()).pathname, "/c/team-chat");
  assert.equal(await page.textContent("#room-name"), "Team Chat");
  await expectOnce(page, "same room?");

  // Switching by name works the same way; a name with no letter or digit is refused.
  await page.fill("#switch-channel", "#!?");
  await page.press("#switch-channel", "Enter");
  assert.match(await page.textContent("#switch-error"), /needs at least one letter/);
  await page.fill("#switch-channel", "Café Crème");
  await page.press("#switch-channel", "Enter");
  await page.waitForSelector('#connection[data-state="connected"]');
  assert.equal(new URL(page.url()).pathname, "/c/cafe-creme");
  assert.equal(await page.textContent("#room-name"), "Café Crème");
  for (const user of [ana, ben]) assert.deepEqual(user.errors, []);
  await ana.context.close();
  await ben.context.close();
});

test("the backend's names: a message shows its sender's name on another instance", async () => {
  const zoe = await suite.openUser();
  await join(zoe, "direct", "Zoë", { clientId: null });
  const yan = await suite.openUser();
  await join(yan, "direct", "Yan", { clientId: null });
  await say(zoe.page, "named by the server");
  await expectOnce(yan.page, "named by the server");
  assert.equal(await yan.page.textContent("#messages li.msg:last-child .sender"), "Zoë");
  await zoe.context.close();
  await yan.context.close();
});

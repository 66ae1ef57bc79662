// Who is online: the list from `welcome`, kept current by `presence` frames, with a
// join/leave line in the conversation for other people; and who is typing. People are told
// apart by client id and shown by display name (the id when they have none).
//
// The server sends presence in batches (one frame per person per batch); the frames of a
// batch arrive back to back. They are applied at once but shown together a moment later:
// one redraw of the list per batch, and a line only for whoever's state really changed.
// Someone whose connection dropped and came back (a phone switching networks) leaves and
// joins within seconds: their "left" line is then taken back, and no "joined" is shown;
// a screen reader hears of a leave only once that window has passed.
const PRESENCE_SETTLE_MS = 50;
const REJOIN_WINDOW_MS = 5000;

function setOnline(s, online, count, names) {
  clearTimeout(s.presenceTimer);
  s.presenceTimer = 0;
  s.presenceBefore = null;
  s.online = new Set(Array.isArray(online) ? online.map(String) : []);
  s.onlineCount = Number.isFinite(count) ? count : s.online.size;
  if (names && typeof names === "object") {
    for (const [id, name] of Object.entries(names)) rememberName(s, id, name);
  }
  renderOnline(s);
}

function rememberName(s, id, name) {
  if (typeof name === "string" && name !== "") s.names.set(id, name);
}

/** What to call a member: their display name, or their client id; yours is as you typed it. */
function displayName(s, id) {
  if (id === s.clientId) return s.name;
  return s.names.get(id) || id;
}

function onPresence(s, frame) {
  const who = String(frame.client_id);
  if (frame.event !== "join" && frame.event !== "leave") return;
  rememberName(s, who, frame.name);
  if (!s.presenceBefore) {
    // Who was online before this batch, for the people it names.
    s.presenceBefore = new Map();
    s.presenceTimer = setTimeout(() => settlePresence(s), PRESENCE_SETTLE_MS);
  }
  if (!s.presenceBefore.has(who)) s.presenceBefore.set(who, s.online.has(who));
  if (frame.event === "join") s.online.add(who);
  else {
    s.online.delete(who);
    stopTyping(s, who);
  }
  if (Number.isFinite(frame.online_count)) s.onlineCount = frame.online_count;
}

function settlePresence(s) {
  const before = s.presenceBefore;
  s.presenceBefore = null;
  s.presenceTimer = 0;
  // A room left meanwhile shows nothing more.
  if (!before || s !== session) return;
  renderOnline(s);
  for (const [who, was] of before) {
    const now = s.online.has(who);
    // A `join` of someone already listed (e.g. replayed after our own reconnect), or a
    // leave and a return within the batch, is no news.
    if (who === s.clientId || was === now) continue;
    if (now) showJoin(s, who);
    else showLeave(s, who);
  }
}

function showJoin(s, who) {
  const left = s.recentLeaves.get(who);
  s.recentLeaves.delete(who);
  if (left && Date.now() - left.at < REJOIN_WINDOW_MS) {
    removeItem(left.item);
    return;
  }
  const text = `${displayName(s, who)} joined`;
  addNotice(text, "presence");
  announce(text);
}

function showLeave(s, who) {
  const text = `${displayName(s, who)} left`;
  const left = { item: addNotice(text, "presence"), at: Date.now() };
  s.recentLeaves.set(who, left);
  setTimeout(() => {
    if (s.recentLeaves.get(who) !== left) return;
    s.recentLeaves.delete(who);
    if (s === session) announce(text);
  }, REJOIN_WINDOW_MS);
}

// A large channel sends only how many are online, once a second: the names from `welcome`
// can no longer be kept current, so the list shows you and a count of the others.
function onOnlineCount(s, frame) {
  if (!Number.isFinite(frame.online_count)) return;
  s.online = new Set([s.clientId]);
  s.onlineCount = frame.online_count;
  renderOnline(s);
}

function renderOnline(s) {
  const me = s.clientId;
  const ids = [...s.online];
  const names = new Map(ids.map((id) => [id, displayName(s, id)]));
  ids.sort((a, b) => (a === me ? -1 : b === me ? 1 : names.get(a).localeCompare(names.get(b))));
  const items = ids.map((id) => {
    const name = names.get(id);
    const item = el("li", id === me ? "person me" : "person");
    item.dataset.client = id;
    const who = el("bdi", "who", name);
    item.append(el("span", "avatar", [...name][0].toUpperCase()), who);
    if (id === me) item.append(el("span", "tag", "you"));
    item.querySelector(".avatar").setAttribute("aria-hidden", "true");
    return item;
  });
  const hidden = s.onlineCount - s.online.size;
  if (hidden > 0) items.push(el("li", "more", `and ${hidden} more`));
  ui.online.replaceChildren(...items);
  const total = String(Math.max(s.onlineCount, s.online.size));
  ui.onlineCount.textContent = total;
  ui.peopleCount.textContent = total;
}

// Typing: the page says so at most every TYPING_EVERY_MS while its person types (the server
// drops what comes faster), and shows others' for TYPING_SHOWN_MS after their last frame,
// or until their message or their leaving. Never yourself, even from another tab.
const TYPING_EVERY_MS = 2000;
const TYPING_SHOWN_MS = 4000;
/** More typists than this are "Several people". */
const TYPING_NAMED_MAX = 3;

/** The composer changed: tell the room, unless it was told a moment ago or the box is empty. */
function noteTyping(s) {
  if (!s || !isOpen(s) || ui.message.value.trim() === "") return;
  const now = Date.now();
  if (now - s.typingSentAt < TYPING_EVERY_MS) return;
  s.typingSentAt = now;
  s.socket.send(JSON.stringify({ type: "typing" }));
}

function onTyping(s, frame) {
  const who = String(frame.client_id);
  if (who === s.clientId) return;
  rememberName(s, who, frame.name);
  const known = s.typing.get(who);
  if (known) clearTimeout(known);
  s.typing.set(
    who,
    setTimeout(() => stopTyping(s, who), TYPING_SHOWN_MS),
  );
  renderTyping(s);
}

/** `who` sent their message, left, or went quiet. */
function stopTyping(s, who) {
  const timer = s.typing.get(who);
  if (timer === undefined) return;
  clearTimeout(timer);
  s.typing.delete(who);
  if (s === session) renderTyping(s);
}

function clearTyping(s) {
  for (const timer of s.typing.values()) clearTimeout(timer);
  s.typing.clear();
  renderTyping(s);
}

function renderTyping(s) {
  const names = [...s.typing.keys()].map((id) => displayName(s, id));
  let text = "";
  if (names.length > TYPING_NAMED_MAX) text = "Several people are typing…";
  else if (names.length > 1) text = `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are typing…`;
  else if (names.length === 1) text = `${names[0]} is typing…`;
  ui.typing.textContent = text;
}

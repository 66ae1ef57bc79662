// Who is online: the list from `welcome`, kept current by `presence` frames, with a
// join/leave line in the conversation for other people.
//
// The server sends presence in batches (one frame per person per batch); the frames of a
// batch arrive back to back. They are applied at once but shown together a moment later:
// one redraw of the list per batch, and a line only for whoever's state really changed.
const PRESENCE_SETTLE_MS = 50;

function setOnline(s, online, count) {
  clearTimeout(s.presenceTimer);
  s.presenceTimer = 0;
  s.presenceBefore = null;
  s.online = new Set(Array.isArray(online) ? online.map(String) : []);
  s.onlineCount = Number.isFinite(count) ? count : s.online.size;
  renderOnline(s);
}

function onPresence(s, frame) {
  const who = String(frame.client_id);
  if (frame.event !== "join" && frame.event !== "leave") return;
  if (!s.presenceBefore) {
    // Who was online before this batch, for the people it names.
    s.presenceBefore = new Map();
    s.presenceTimer = setTimeout(() => settlePresence(s), PRESENCE_SETTLE_MS);
  }
  if (!s.presenceBefore.has(who)) s.presenceBefore.set(who, s.online.has(who));
  if (frame.event === "join") s.online.add(who);
  else s.online.delete(who);
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
    if (who === s.name || was === now) continue;
    const text = `${who} ${now ? "joined" : "left"}`;
    addNotice(text, "presence");
    announce(text);
  }
}

// A large channel sends only how many are online, once a second: the names from `welcome`
// can no longer be kept current, so the list shows you and a count of the others.
function onOnlineCount(s, frame) {
  if (!Number.isFinite(frame.online_count)) return;
  s.online = new Set(s.name ? [s.name] : []);
  s.onlineCount = frame.online_count;
  renderOnline(s);
}

function renderOnline(s) {
  const names = [...s.online].sort((a, b) => (a === s.name ? -1 : b === s.name ? 1 : a.localeCompare(b)));
  const items = names.map((who) => {
    const item = el("li", who === s.name ? "person me" : "person");
    item.append(el("span", "avatar", who.slice(0, 1).toUpperCase()), el("span", "who", who));
    if (who === s.name) item.append(el("span", "tag", "you"));
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

// The message list: building items, keeping them in id order, grouping consecutive
// messages of one sender, notices (join/leave, gaps), scrolling and the "new messages"
// marker, and announcing live messages to screen
// readers — and, while the tab is hidden, the count of new ones in its title and a
// notification for a mention of your name.

/** Messages from one sender closer together than this share one header. */
const GROUP_WINDOW_MS = 5 * 60 * 1000;
/** How far from the bottom still counts as "reading the latest" (px). */
const NEAR_END_PX = 80;
/** Messages arriving later than this after `welcome` are live, not the history replay. */
const HISTORY_BURST_MS = 1500;
const MAX_ANNOUNCED = 5;

/** A message item: header (sender's name, time), text, and a note for pending/failed
 *  states. Grouping goes by client id (`sender`): two people may share a name. Names and
 *  text take their direction from their own first strong character (`dir=auto`). */
function messageItem(sender, name, text, own, time) {
  const item = el("li", own ? "msg own" : "msg");
  item.dataset.sender = sender;
  item.dataset.name = name;
  const meta = el("div", "meta");
  const when = el("time");
  const who = el("bdi", "sender", name);
  meta.append(who, own ? " (you) " : " ", when);
  const content = el("p", "text");
  content.dir = "auto";
  appendLinkified(content, text);
  item.append(meta, content, el("p", "note"));
  setItemTime(item, time);
  return item;
}

/** The item for a `message` frame (live, replayed, or from a page of history). */
function serverItem(s, m) {
  const sender = String(m.client_id);
  const name = typeof m.name === "string" && m.name !== "" ? m.name : sender;
  const item = messageItem(sender, name, String(m.message), sender === s.clientId, m.time);
  item.dataset.id = m.id;
  return item;
}

function setItemTime(item, iso) {
  const ms = Date.parse(iso);
  item.dataset.ts = Number.isNaN(ms) ? "" : String(ms);
  setTime(item.querySelector("time"), iso);
}

function itemText(item) {
  return item.querySelector(".text").textContent;
}

function setNote(item, text) {
  item.querySelector(".note").textContent = text;
}

/** Marks `item` as a continuation of the message above it (header shown only to screen
 *  readers) when both come from the same sender within the group window. */
function regroup(item) {
  if (!item || !item.classList.contains("msg")) return;
  const prev = item.previousElementSibling;
  const cont =
    prev != null &&
    prev.classList.contains("msg") &&
    prev.dataset.sender === item.dataset.sender &&
    Math.abs(Number(item.dataset.ts) - Number(prev.dataset.ts)) < GROUP_WINDOW_MS;
  item.classList.toggle("cont", cont);
}

/** Re-checks grouping around a node that was inserted, moved or is about to be removed. */
function regroupAround(node) {
  regroup(node);
  regroup(node.nextElementSibling);
}

/** The first of the trailing not-yet-acknowledged items, which stay at the bottom. */
function pendingTail() {
  let tail = null;
  for (let node = ui.messages.lastElementChild; node; node = node.previousElementSibling) {
    if (!node.classList.contains("pending")) break;
    tail = node;
  }
  return tail;
}

/** Inserts (or moves) a message before the pending tail, and before any shown message with
 *  a larger id (only history after an unrecoverable gap can arrive out of order). */
function placeInOrder(item, key) {
  const follow = isNearEnd();
  removeItem(item);
  let before = pendingTail();
  let node = before ? before.previousElementSibling : ui.messages.lastElementChild;
  for (; node; node = node.previousElementSibling) {
    const other = node.dataset.id ? parseId(node.dataset.id) : null;
    if (!other) continue;
    if (compareIds(other, key) < 0) break;
    before = node;
  }
  ui.messages.insertBefore(item, before);
  regroupAround(item);
  return follow;
}

/** Removes a node, fixing the grouping of the one that followed it. */
function removeItem(node) {
  if (!node.parentNode) return;
  const next = node.nextElementSibling;
  node.remove();
  regroup(next);
}

/** Appends a local (pending) item at the very bottom and shows it. */
function appendPending(item) {
  ui.messages.append(item);
  regroupAround(item);
  scrollToEnd();
}

/** Shows a message received from the server, keeping the reader's place. */
function showReceived(s, item, key, own) {
  const follow = placeInOrder(item, key);
  if (follow || own) {
    scrollToEnd();
  } else {
    s.unread += 1;
    renderUnread(s);
  }
  if (!own && Date.now() - s.welcomedAt > HISTORY_BURST_MS) {
    announce(`${item.dataset.name}: ${itemText(item)}`);
    if (document.hidden) {
      s.unseen += 1;
      renderTitle(s);
    }
    if (mentions(itemText(item), s.name)) notifyMention(s, item);
  }
}

/** The tab title: the room, with the count of messages that came while it was hidden. */
function renderTitle(s) {
  document.title = `${s.unseen > 0 ? `(${s.unseen}) ` : ""}#${s.label} · Chat`;
}

function onVisibilityChange() {
  if (document.hidden || !session || session.unseen === 0) return;
  session.unseen = 0;
  renderTitle(session);
}

/** Whether `text` names `name` as a word of its own, in any case ("@José", "josé:"). */
function mentions(text, name) {
  const lower = (value) => value.normalize("NFC").toLocaleLowerCase();
  const haystack = lower(text);
  const needle = lower(name);
  const wordChar = /[\p{L}\p{N}\p{M}_]/u;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) {
    const before = haystack.slice(0, at).at(-1) ?? "";
    const after = haystack.slice(at + needle.length).at(0) ?? "";
    if (!wordChar.test(before) && !wordChar.test(after)) return true;
  }
  return false;
}

/** A browser notification for a mention, when turned on, allowed, and the page not in view. */
function notifyMention(s, item) {
  if (!ui.notifyMentions.checked || !("Notification" in window)) return;
  if (Notification.permission !== "granted" || (!document.hidden && document.hasFocus())) return;
  const note = new Notification(`${item.dataset.name} in #${s.label}`, { body: itemText(item), tag: item.dataset.id });
  note.onclick = () => {
    window.focus();
    note.close();
  };
}

/** The toggle: asks for permission only when turned on, and stays off if it is denied. */
async function onNotifyToggle() {
  const on = ui.notifyMentions.checked;
  if (on && "Notification" in window && Notification.permission !== "granted") {
    const answer = await Notification.requestPermission().catch(() => "denied");
    if (answer !== "granted") {
      ui.notifyMentions.checked = false;
      addNotice("Notifications are blocked for this page in your browser's settings.", "error");
    }
  }
  saveNotifyMentions(ui.notifyMentions.checked);
}

/** A line in the list that is not a message: join/leave, gaps, connection problems. */
function addNotice(text, kind) {
  const follow = isNearEnd();
  const item = el("li", kind ? `notice ${kind}` : "notice", text);
  item.dir = "auto";
  const before = pendingTail();
  ui.messages.insertBefore(item, before);
  regroup(before);
  if (follow) scrollToEnd();
  return item;
}

function isNearEnd() {
  const list = ui.messages;
  return list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_END_PX;
}

function scrollToEnd() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
  if (session) {
    session.unread = 0;
    renderUnread(session);
  }
}

function renderUnread(s) {
  ui.newMessages.hidden = s.unread === 0;
  ui.newMessages.textContent =
    s.unread === 1 ? "1 new message ↓" : `${s.unread} new messages ↓`;
}

/** Reading caught up by scrolling down: the marker has done its job; reaching the top asks
 *  for the page before it. */
function onMessagesScroll() {
  if (session && session.unread > 0 && isNearEnd()) {
    session.unread = 0;
    renderUnread(session);
  }
  if (session && ui.messages.scrollTop < NEAR_TOP_PX) requestOlder(session);
}

function announce(text) {
  ui.announce.append(el("p", null, text));
  while (ui.announce.childElementCount > MAX_ANNOUNCED) ui.announce.firstElementChild.remove();
}

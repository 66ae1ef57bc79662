// The message list: building items, keeping them in id order, grouping consecutive
// messages of one sender, notices (join/leave, gaps), scrolling and the "new messages"
// marker, and announcing live messages to screen readers.

/** Messages from one sender closer together than this share one header. */
const GROUP_WINDOW_MS = 5 * 60 * 1000;
/** How far from the bottom still counts as "reading the latest" (px). */
const NEAR_END_PX = 80;
/** Messages arriving later than this after `welcome` are live, not the history replay. */
const HISTORY_BURST_MS = 1500;
const MAX_ANNOUNCED = 5;

/** A message item: header (sender, time), text, and a note for pending/failed states. */
function messageItem(sender, text, own, time) {
  const item = el("li", own ? "msg own" : "msg");
  item.dataset.sender = sender;
  const meta = el("div", "meta");
  const when = el("time");
  meta.append(el("span", "sender", own ? `${sender} (you)` : sender), " ", when);
  const content = el("p", "text");
  appendLinkified(content, text);
  item.append(meta, content, el("p", "note"));
  setItemTime(item, time);
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
    announce(`${item.dataset.sender}: ${itemText(item)}`);
  }
}

/** A line in the list that is not a message: join/leave, gaps, connection problems. */
function addNotice(text, kind) {
  const follow = isNearEnd();
  const item = el("li", kind ? `notice ${kind}` : "notice", text);
  const before = pendingTail();
  ui.messages.insertBefore(item, before);
  regroup(before);
  if (follow) scrollToEnd();
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

/** Reading caught up by scrolling down: the marker has done its job. */
function onMessagesScroll() {
  if (session && session.unread > 0 && isNearEnd()) {
    session.unread = 0;
    renderUnread(session);
  }
}

function announce(text) {
  ui.announce.append(el("p", null, text));
  while (ui.announce.childElementCount > MAX_ANNOUNCED) ui.announce.firstElementChild.remove();
}

// What the page remembers between visits: the browser's client id, the display name,
// recently visited rooms (with the name each was typed as) and whether to notify of
// mentions. Storage may be unavailable (blocked cookies, private mode); the page then works
// for this visit and forgets.

const CLIENT_KEY = "chat.client";
const NAME_KEY = "chat.name";
const ROOMS_KEY = "chat.rooms";
const NOTIFY_KEY = "chat.notify-mentions";
const MAX_RECENT_ROOMS = 8;

function loadItem(key) {
  try {
    return localStorage.getItem(key) || "";
  } catch {
    return "";
  }
}

function saveItem(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Not remembering is harmless.
  }
}

/** Kept for this visit when storage is unavailable. */
let visitClientId = "";

/** This browser's client id: made once, then the same in every tab and room. Read on each
 *  entry, so a tab opened meanwhile and this one agree. */
function clientId() {
  const stored = loadItem(CLIENT_KEY);
  if (stored && !idProblem("", stored)) return stored;
  visitClientId ||= newClientId();
  saveItem(CLIENT_KEY, visitClientId);
  return visitClientId;
}

const loadName = () => loadItem(NAME_KEY);
const saveName = (name) => saveItem(NAME_KEY, name);
const loadNotifyMentions = () => loadItem(NOTIFY_KEY) === "on";
const saveNotifyMentions = (on) => saveItem(NOTIFY_KEY, on ? "on" : "off");

/** Recently visited rooms as {id, label}, most recent first; only valid ids survive a
 *  tampered store (older pages stored bare ids, which are their own label). */
function loadRooms() {
  try {
    const rooms = JSON.parse(localStorage.getItem(ROOMS_KEY) || "[]");
    if (!Array.isArray(rooms)) return [];
    return rooms
      .map((r) => (typeof r === "string" ? { id: r, label: r } : r))
      .filter((r) => r && typeof r.id === "string" && typeof r.label === "string" && !idProblem("", r.id))
      .filter((r) => roomId(r.label) === r.id);
  } catch {
    return [];
  }
}

/** The label a room was last entered with here, or its id. */
function roomLabel(id) {
  const known = loadRooms().find((r) => r.id === id);
  return known ? known.label : id;
}

function rememberRoom(id, label) {
  const rooms = [{ id, label }, ...loadRooms().filter((r) => r.id !== id)].slice(0, MAX_RECENT_ROOMS);
  saveItem(ROOMS_KEY, JSON.stringify(rooms));
  return rooms;
}

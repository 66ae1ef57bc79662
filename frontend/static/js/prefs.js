// What the page remembers between visits: the name and recently visited rooms. Storage may
// be unavailable (blocked cookies, private mode); forgetting is then harmless.

const NAME_KEY = "chat.name";
const ROOMS_KEY = "chat.rooms";
const MAX_RECENT_ROOMS = 8;

function loadName() {
  try {
    return localStorage.getItem(NAME_KEY) || "";
  } catch {
    return "";
  }
}

function saveName(name) {
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch {
    // Not remembering the name is harmless.
  }
}

/** Recently visited rooms, most recent first; only valid ids survive a tampered store. */
function loadRooms() {
  try {
    const rooms = JSON.parse(localStorage.getItem(ROOMS_KEY) || "[]");
    return Array.isArray(rooms) ? rooms.filter((r) => typeof r === "string" && !idProblem("", r)) : [];
  } catch {
    return [];
  }
}

function rememberRoom(channel) {
  const rooms = [channel, ...loadRooms().filter((r) => r !== channel)].slice(0, MAX_RECENT_ROOMS);
  try {
    localStorage.setItem(ROOMS_KEY, JSON.stringify(rooms));
  } catch {
    // As above.
  }
  return rooms;
}

// Room ids, display names, the browser's client id, message ids and send nonces.

const ID_RULE = /^[A-Za-z0-9._-]+$/;
const MAX_ID_LEN = 64;
const MAX_NAME_CHARS = 64;

/** The wire id of a room as a person types it: case does not matter and spaces and other
 *  symbols become hyphens, so "Team Chat", "team chat" and "team-chat" are one room. Accents
 *  are dropped ("Café" is `cafe`); returns "" when nothing usable is left. */
function roomId(typed) {
  return typed
    .normalize("NFKD")
    .replace(/\p{Mn}/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, MAX_ID_LEN)
    .replace(/-+$/, "");
}

/** Why `typed` cannot name a room, or null if it can (see `roomId`). */
function roomProblem(label, typed) {
  if (typed === "") return `${label} is required.`;
  if ([...typed].length > MAX_ID_LEN) return `${label} must be at most ${MAX_ID_LEN} characters.`;
  if (roomId(typed) === "") return `${label} needs at least one letter (A–Z) or digit.`;
  return null;
}

/** Why `value` cannot be a wire id (protocol rule), or null if it can. */
function idProblem(label, value) {
  if (value === "") return `${label} is required.`;
  if (value.length > MAX_ID_LEN) return `${label} must be at most ${MAX_ID_LEN} characters.`;
  if (!ID_RULE.test(value)) return `${label} may only contain letters A–Z and a–z, digits, dot, underscore and hyphen.`;
  return null;
}

/** A display name as the server keeps it: trimmed and NFC-normalised. */
function cleanName(typed) {
  return typed.trim().normalize("NFC");
}

/** Why a cleaned name cannot be a display name (the protocol's rule), or null: any script
 *  and punctuation, 1–64 characters, no control characters, not only invisible ones. */
function nameProblem(label, name) {
  if (name === "") return `${label} is required.`;
  if ([...name].length > MAX_NAME_CHARS) return `${label} must be at most ${MAX_NAME_CHARS} characters.`;
  if (/\p{Cc}/u.test(name)) return `${label} cannot contain control characters such as tabs or line breaks.`;
  if (/^[\p{Z}\p{Cf}\p{Mn}\p{Me}]+$/u.test(name)) return `${label} needs at least one visible character.`;
  return null;
}

/** A new client id: 16 URL-safe random characters, unrelated to the person's name, so two
 *  people who pick the same name are still two people. */
function newClientId() {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => alphabet[b & 63]).join("");
}

/** Message ids look like `<ms>-<seq>`; returns [ms, seq] or null. Ids are opaque to the
 *  protocol except for their order, which is what this is for. */
function parseId(id) {
  const match = typeof id === "string" ? /^(\d{1,20})-(\d{1,20})$/.exec(id) : null;
  return match ? [Number(match[1]), Number(match[2])] : null;
}

function compareIds(a, b) {
  return a[0] - b[0] || a[1] - b[1];
}

/** Random per page load, so nonces never repeat across reloads or tabs of the same browser:
 *  the backend deduplicates resends by (client, nonce), and a reused nonce would make it
 *  swallow a genuinely new message. */
const NONCE_PREFIX = (() => {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(36).padStart(2, "0")).join("");
})();
let nonceCounter = 0;

function nextNonce() {
  nonceCounter += 1;
  return `${NONCE_PREFIX}-${nonceCounter}`;
}

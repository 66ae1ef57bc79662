// Client/channel ids, message ids and send nonces.

const ID_RULE = /^[A-Za-z0-9._-]+$/;
const MAX_ID_LEN = 64;

/** Why `value` cannot be a room or client id (protocol rule), or null if it can. */
function idProblem(label, value) {
  if (value === "") return `${label} is required.`;
  if (value.length > MAX_ID_LEN) return `${label} must be at most ${MAX_ID_LEN} characters.`;
  if (!ID_RULE.test(value)) {
    return `${label} may only contain letters A–Z and a–z, digits, dot, underscore and hyphen — no spaces or other symbols.`;
  }
  return null;
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

/** Random per page load, so nonces never repeat across reloads or tabs of the same name:
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

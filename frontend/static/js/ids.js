// Room ids, display names, the browser's client id, the sign-in token that vouches for
// them when the backend requires one, message ids and send nonces.

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

// Tokens. With `data-token-mode` the page needs one before it connects: `guest` asks this
// page's own `/token`, `operator` the operator's endpoint with the browser's credentials
// (their sign-in cookie). Either answers {token, expires_at} for {client_id, name, channel}.
// The connection asks for the next one at TOKEN_REFRESH_SHARE of a token's life, measured by
// the endpoint's clock (its `Date`) when it tells it, so a wrong clock here does not matter.
const tokenUrl = body.dataset.tokenMode ? body.dataset.tokenUrl || "" : "";
const TOKEN_REFRESH_SHARE = 0.8;
/** An endpoint that fails this many times in a row (network, 5xx, 429) is given up on. */
const TOKEN_MAX_FAILURES = 4;
/** A refresh whose token could not be fetched is tried again this much later. */
const TOKEN_REFRESH_RETRY_MS = 2000;

/** Why no token came; `final` when asking again cannot help (a 4xx other than 429). */
class TokenProblem extends Error {
  constructor(message, final, retryAfterMs) {
    super(message);
    this.final = final;
    this.retryAfterMs = retryAfterMs;
  }
}

/** A new token for the session's client id, name and room: { value, refreshAt }. */
async function fetchToken(s) {
  let response;
  try {
    response = await fetch(tokenUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ client_id: s.clientId, name: s.name, channel: s.channel }),
      credentials: body.dataset.tokenMode === "operator" ? "include" : "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new TokenProblem("the sign-in service cannot be reached", false, 0);
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const said = typeof answer.message === "string" ? answer.message : `status ${response.status}`;
    const final = response.status >= 400 && response.status < 500 && response.status !== 429;
    const retryAfterMs = (Number(response.headers.get("retry-after")) || 0) * 1000;
    throw new TokenProblem(said, final, retryAfterMs);
  }
  if (typeof answer.token !== "string" || !Number.isFinite(answer.expires_at)) {
    throw new TokenProblem("the sign-in service gave no token", true, 0);
  }
  const now = Date.now();
  const serverNow = Date.parse(response.headers.get("date") || "") || now;
  const lifeMs = Math.max(0, answer.expires_at * 1000 - serverNow);
  return { value: answer.token, refreshAt: now + lifeMs * TOKEN_REFRESH_SHARE };
}

/** Whether the session must get a token before connecting. */
function needsToken(s) {
  return tokenUrl !== "" && (!s.token || Date.now() >= s.token.refreshAt);
}

/** Gets a token, then calls `then`; a failure backs off (`retry(delayMs)`) or, when it is
 *  final or keeps happening, says why and stops (`stop(text)`). */
async function obtainToken(s, then, retry, stop) {
  if (s.signingIn) return;
  s.signingIn = true;
  let token;
  try {
    token = await fetchToken(s);
  } catch (problem) {
    s.signingIn = false;
    if (s !== session) return;
    s.tokenFailures += 1;
    if (problem.final || s.tokenFailures >= TOKEN_MAX_FAILURES) {
      s.tokenFailures = 0;
      stop(`Could not sign in to this room: ${problem.message}.`);
    } else {
      retry(Math.max(problem.retryAfterMs, 1000 * 2 ** s.tokenFailures));
    }
    return;
  }
  s.signingIn = false;
  if (s !== session) return;
  s.tokenFailures = 0;
  s.token = token;
  then();
}

/** While connected: the next token at its time, sent as a `refresh` (answered `refreshed`).
 *  A refresh that fails is tried again shortly; if the token expires first the server
 *  closes with 4401 and the page signs in afresh. */
function scheduleRefresh(s) {
  clearTimeout(s.refreshTimer);
  if (!tokenUrl || !s.token) return;
  const socket = s.socket;
  const live = () => session === s && s.socket === socket && s.welcomed;
  const refresh = async () => {
    if (!live()) return;
    let token;
    try {
      token = await fetchToken(s);
    } catch {
      if (live()) s.refreshTimer = setTimeout(refresh, TOKEN_REFRESH_RETRY_MS);
      return;
    }
    if (!live()) return;
    s.nextToken = token;
    socket.send(JSON.stringify({ type: "refresh", token: token.value, nonce: `r-${nextNonce()}` }));
  };
  s.refreshTimer = setTimeout(refresh, Math.max(0, s.token.refreshAt - Date.now()));
}

/** `refreshed`: the connection lasts as long as the token just sent. */
function onRefreshed(s) {
  if (!s.nextToken) return;
  s.token = s.nextToken;
  s.nextToken = null;
  scheduleRefresh(s);
}

/** A `refresh` refused (`unauthorized`): ask for another token shortly; if none is taken
 *  before this one expires, the server closes with 4401 and the page signs in afresh. */
function onRefreshError(s, frame) {
  if (typeof frame.nonce !== "string" || !frame.nonce.startsWith("r-") || !s.nextToken) return false;
  s.nextToken = null;
  clearTimeout(s.refreshTimer);
  const socket = s.socket;
  s.refreshTimer = setTimeout(() => {
    if (session === s && s.socket === socket) scheduleRefresh(s);
  }, TOKEN_REFRESH_RETRY_MS);
  return true;
}

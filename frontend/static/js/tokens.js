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

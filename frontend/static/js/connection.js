// The WebSocket to the backend: connecting with `since`, reading frames, and reconnecting
// with exponential backoff and jitter. The status line always says where things stand.
//
// A browser sees neither WebSocket pings nor the status of a refused upgrade, so:
// - a backend that stops answering (frozen, or a half-open socket) is noticed by what the
//   page can see: no `welcome` within CONNECT_TIMEOUT_MS of connecting, or a send with no
//   answer while nothing at all arrived for ACK_TIMEOUT_MS (outbox.js), or an application
//   `ping` sent after HEARTBEAT_MS of silence that nothing answered within
//   HEARTBEAT_TIMEOUT_MS; the socket is then given up and a new one opened;
// - a refusal arrives as a close code 4xxx with a reason: where trying again cannot help
//   (4400, 4403; 4401 without tokens, or twice in a row with them) the page says why and
//   stops; 4429 (too many) backs off. With tokens, 4401 (expired or refused) gets a new token
//   before connecting again (ids.js). 4000 (disconnected by the server) shows the reason and
//   waits for the person to rejoin (rooms.js).
//
// Invariant: `s.lastId` is the newest id received in a `message` frame of the history named
// by `s.epoch` (the latest welcome's), or `0-0` when none has arrived since that welcome.
// Frames on one connection arrive in id order, so everything up to it has been received,
// and reconnecting with `?since=lastId&epoch=epoch` loses nothing (acks do not advance it:
// an ack can overtake older messages still on their way). If the channel's history was lost
// meanwhile, the epoch no longer matches and the server says `recovered: false`, which the
// page shows as a gap. `s.seen` drops whatever is replayed twice.

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30000;
/** A connection that lasted this long was healthy: the next failure starts backoff over. */
const STABLE_MS = 10000;
/** Longest wait for `welcome` after opening a socket before trying another one. */
const CONNECT_TIMEOUT_MS = 10000;
/** Refusals that the same request would get again: say why and stop retrying. */
const REFUSALS = {
  4400: "The server cannot accept this room or name",
  4401: "The server requires you to sign in, and this page has no valid sign-in for it",
  4403: "The server does not allow this page to connect",
};

function setStatus(state, text) {
  ui.connection.dataset.state = state;
  ui.status.textContent = text;
  ui.countdown.textContent = "";
  ui.retry.hidden = state !== "reconnecting" && state !== "offline" && state !== "refused";
}

function clearTimers(s) {
  clearTimeout(s.heartbeatTimer);
  clearTimeout(s.retryTimer);
  clearTimeout(s.connectTimer);
  clearInterval(s.countdownTimer);
  clearTimeout(s.refreshTimer);
}

function connect() {
  const s = session;
  if (!s) return;
  clearTimers(s);
  if (navigator.onLine === false) {
    setStatus("offline", "Offline — waiting for the network");
    return;
  }
  if (needsToken(s)) {
    s.token = null;
    setStatus("connecting", "Signing in…");
    obtainToken(s, connect, (delay) => scheduleReconnect(s, delay), (text) => stopRefused(s, text));
    return;
  }
  const query = new URLSearchParams({ name: s.name });
  if (s.token) query.set("token", s.token.value);
  if (s.lastId) {
    query.set("since", s.lastId);
    if (s.epoch) query.set("epoch", s.epoch);
  }
  const url = `${backendUrl}/ws/${encodeURIComponent(s.channel)}/${encodeURIComponent(s.clientId)}?${query}`;
  s.resumedFrom = s.lastId;
  s.welcomed = false;
  s.refused = false;
  setStatus("connecting", s.everConnected ? "Reconnecting…" : "Connecting…");
  let socket;
  try {
    socket = new WebSocket(url);
  } catch (err) {
    // A malformed URL or a blocked origin: retrying the same thing cannot help.
    setStatus("offline", `Cannot connect: ${err.message}`);
    return;
  }
  s.socket = socket;
  const current = () => session === s && s.socket === socket;
  socket.addEventListener("message", (event) => {
    if (!current()) return;
    s.lastFrameAt = Date.now();
    onFrame(s, event.data);
  });
  socket.addEventListener("close", (event) => {
    if (current()) onClose(s, event);
  });
  s.connectTimer = setTimeout(() => {
    if (current() && !s.welcomed) abandon(s, "The server did not answer");
  }, CONNECT_TIMEOUT_MS);
}

/** Gives up on a socket that stopped answering (the browser may not notice for minutes)
 *  and reconnects as after a drop. Its late events, if any, are ignored. */
function abandon(s, why) {
  const socket = s.socket;
  if (!socket) return;
  s.socket = null;
  socket.close();
  onClose(s, { code: 0, reason: "", abandoned: why });
}

/** Closes the session's socket on purpose (leaving, switching rooms). */
function disconnect(s) {
  clearTimers(s);
  const socket = s.socket;
  s.socket = null;
  s.welcomed = false;
  if (socket) socket.close(1000, "left");
}

/** Says why the page stopped trying; "Reconnect now" tries again. */
function stopRefused(s, text) {
  clearTimers(s);
  s.refused = true;
  holdOutbox(s);
  if (text !== s.lastCloseNotice) addNotice(text, "error");
  s.lastCloseNotice = text;
  setStatus("refused", "Not connected — refused by the server");
}

function onClose(s, event) {
  const lastedMs = s.connectedAt ? Date.now() - s.connectedAt : 0;
  clearTimers(s);
  s.socket = null;
  s.welcomed = false;
  s.connectedAt = 0;
  forgetHistoryRequest(s);
  clearTyping(s);

  if (event.code === 4000) {
    showRemoved(s, event.reason);
    return;
  }
  // With tokens, a 4401 is an expired token (or one refused): get a new one, once.
  const tokenExpired = event.code === 4401 && tokenUrl !== "" && (s.tokenRefusals += 1) < 2;
  if (tokenExpired) s.token = null;
  const refusal = tokenExpired ? null : REFUSALS[event.code];
  if (refusal) {
    stopRefused(s, event.reason ? `${refusal}: ${event.reason}.` : `${refusal}.`);
    return;
  }
  holdOutbox(s);

  const reasons = {
    1008: "The server refused the connection",
    1009: "A message was too large for the server",
    4429: "The server is busy; trying again shortly",
  };
  const notice = event.abandoned
    ? `${event.abandoned}; reconnecting`
    : reasons[event.code] && (event.reason ? `${reasons[event.code]}: ${event.reason}` : reasons[event.code]);
  if (notice) {
    if (notice !== s.lastCloseNotice) addNotice(notice, "error");
    s.lastCloseNotice = notice;
  }

  let delay;
  if (event.code === 1012) {
    // Server restarting: come back soon, spread out so all clients don't return at once.
    s.attempt = 0;
    delay = 100 + Math.random() * 900;
  } else {
    if (lastedMs > STABLE_MS) s.attempt = 0;
    // 1013 and 4429: the server is overloaded; don't come straight back.
    if (event.code === 1013 || event.code === 4429) s.attempt = Math.max(s.attempt, 3);
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** s.attempt);
    // "Equal jitter": at least half the ceiling, so retries really do back off.
    delay = ceiling / 2 + Math.random() * (ceiling / 2);
    s.attempt += 1;
  }
  scheduleReconnect(s, delay);
}

function scheduleReconnect(s, delay) {
  clearTimers(s);
  if (navigator.onLine === false) {
    setStatus("offline", "Offline — waiting for the network");
    return;
  }
  const due = Date.now() + delay;
  setStatus("reconnecting", "Reconnecting");
  const tick = () => {
    const seconds = Math.max(1, Math.ceil((due - Date.now()) / 1000));
    ui.countdown.textContent = ` in ${seconds} s…`;
  };
  tick();
  s.countdownTimer = setInterval(tick, 250);
  s.retryTimer = setTimeout(connect, delay);
}

function onFrame(s, data) {
  let frame;
  try {
    frame = JSON.parse(data);
  } catch {
    return;
  }
  if (!frame || typeof frame !== "object") return;
  switch (frame.type) {
    case "welcome":
      onWelcome(s, frame);
      break;
    case "message":
      onMessage(s, frame);
      break;
    case "ack":
      onAck(s, frame);
      break;
    case "presence":
      onPresence(s, frame);
      break;
    case "online":
      onOnlineCount(s, frame);
      break;
    case "history":
      onHistoryPage(s, frame);
      break;
    case "typing":
      onTyping(s, frame);
      break;
    case "refreshed":
      onRefreshed(s);
      break;
    case "error":
      onError(s, frame);
      break;
    default:
    // Unknown frame types are ignored, so the server can add some.
  }
}

function onWelcome(s, frame) {
  clearTimeout(s.connectTimer);
  s.welcomed = true;
  s.everConnected = true;
  s.connectedAt = Date.now();
  s.welcomedAt = Date.now();
  s.lastCloseNotice = null;
  s.tokenRefusals = 0;
  setStatus("connected", "Connected");
  if (s.resumedFrom && frame.recovered === false) {
    addNotice(
      "Earlier messages could not be recovered: some messages sent while you were away may be missing above.",
      "error gap",
    );
  }
  if (frame.recovered !== true) {
    // A new position in the history this welcome names: everything after it follows on
    // this connection (the replay, then live messages).
    s.lastId = "0-0";
    s.lastKey = [0, 0];
  }
  s.epoch = typeof frame.epoch === "string" ? frame.epoch : null;
  setOnline(s, frame.online, frame.online_count, frame.names);
  flushOutbox(s);
  startHeartbeat(s);
  scheduleRefresh(s);
}

function onMessage(s, m) {
  const key = parseId(m.id);
  if (!key) return;
  if (!s.lastKey || compareIds(key, s.lastKey) > 0) {
    s.lastId = m.id;
    s.lastKey = key;
  }
  if (s.seen.has(m.id)) return;
  const sender = String(m.client_id);
  const own = sender === s.clientId;
  stopTyping(s, sender);
  if (own && claimOwnMessage(s, { id: m.id, message: String(m.message), time: m.time }, key)) return;
  s.seen.add(m.id);
  showReceived(s, serverItem(s, m), key, own);
}

function onError(s, frame) {
  if (onSendError(s, frame) || onHistoryError(s, frame) || onRefreshError(s, frame)) return;
  const detail = frame.message ? String(frame.message) : "The server reported a problem";
  addNotice(`${detail} (${String(frame.code || "error")})`, "error");
}

// Messages typed here until the server confirms them. Each has a nonce that stays the same
// across reconnects: whatever is unconfirmed when a connection drops is sent again, with
// that nonce, after the next `welcome`, and the backend's deduplication by nonce turns a
// resend of something it had already stored into an `ack` of the original.
//
// An entry leaves the outbox with its `ack` (or a refusal). Its own `message` frame may come
// first: the entry is then shown as delivered (`shownId`) but stays until the ack, so a send
// the server stored without a replica's confirmation (`not_confirmed`) is resent, same nonce,
// until acked — and shown once, since the ack of a shown entry changes nothing on screen.

const WAITING_NOTE = "Waiting for the connection — will send when reconnected";
const REFUSED_NOTE = "Not sent: the server refused the connection";
const CONFIRMING_NOTE = "Stored — waiting for the server to confirm it…";
/** A send with no answer, and nothing else heard on its connection, for this long means the
 *  connection is dead, whatever the browser says: it is given up, and the send goes out again
 *  (same nonce) on a new one. (Other frames count: a backend waiting on a slow Redis answers
 *  a burst of sends one by one, each within its command timeout, and is alive meanwhile.) */
const ACK_TIMEOUT_MS = 10000;
/** Resends of a `not_confirmed` send back off from this delay up to the ceiling. */
const CONFIRM_RETRY_MS = 500;
const CONFIRM_RETRY_MAX_MS = 8000;
/** A shown entry is resent after a reconnect only this long after it was first sent: well
 *  within the server's dedupe window (10 min by default), so a resend is never stored twice. */
const SHOWN_RESEND_MS = 5 * 60 * 1000;

/** Why a send failed, in words, by error code; unknown codes fall back to the server's text. */
const SEND_FAILURES = {
  rate_limited: "You are sending too fast. Wait a moment, then send it again.",
  too_large: "This message is too long.",
  bad_frame: "The server could not read this message.",
  unavailable: "The server could not store this message right now. Try again in a moment.",
};

/** Queues `text` as a new message of the current room and sends it if connected. */
function queueSend(s, text) {
  const nonce = nextNonce();
  const item = messageItem(s.clientId, s.name, text, true, new Date().toISOString());
  item.classList.add("pending");
  const entry = { text, item, sent: false, shownId: null, firstSentAt: 0, confirmTries: 0 };
  s.outbox.set(nonce, entry);
  appendPending(item);
  transmit(s, nonce, entry);
}

function isOpen(s) {
  return s.welcomed && s.socket != null && s.socket.readyState === WebSocket.OPEN;
}

function transmit(s, nonce, entry) {
  clearTimeout(entry.confirmTimer);
  if (!isOpen(s)) {
    entry.sent = false;
    if (!entry.shownId) setNote(entry.item, s.refused ? REFUSED_NOTE : WAITING_NOTE);
    return;
  }
  const socket = s.socket;
  socket.send(JSON.stringify({ type: "send", message: entry.text, nonce }));
  entry.sent = true;
  entry.firstSentAt ||= Date.now();
  if (!entry.shownId && !entry.confirmTries) setNote(entry.item, "Sending…");
  const waiting = {};
  entry.waiting = waiting;
  const sentAt = Date.now();
  const check = () => {
    if (session !== s || s.socket !== socket || s.outbox.get(nonce) !== entry || entry.waiting !== waiting) return;
    const quietMs = Date.now() - Math.max(sentAt, s.lastFrameAt);
    if (quietMs >= ACK_TIMEOUT_MS) abandon(s, "The server stopped answering");
    else entry.answerTimer = setTimeout(check, ACK_TIMEOUT_MS - quietMs);
  };
  clearTimeout(entry.answerTimer);
  entry.answerTimer = setTimeout(check, ACK_TIMEOUT_MS);
}

/** An answer about the entry arrived: its connection is alive. */
function answered(entry) {
  entry.waiting = null;
  clearTimeout(entry.answerTimer);
}

/** After `welcome`: everything unconfirmed goes out again, oldest first, same nonces. */
function flushOutbox(s) {
  for (const [nonce, entry] of s.outbox) {
    if (entry.shownId && Date.now() - entry.firstSentAt > SHOWN_RESEND_MS) {
      forget(s, nonce, entry); // Stored and shown; too old to resend safely.
      continue;
    }
    transmit(s, nonce, entry);
  }
}

/** The connection dropped, or was refused: nothing in flight can be confirmed on it. */
function holdOutbox(s) {
  for (const entry of s.outbox.values()) {
    entry.sent = false;
    answered(entry);
    clearTimeout(entry.confirmTimer);
    if (!entry.shownId) setNote(entry.item, s.refused ? REFUSED_NOTE : WAITING_NOTE);
  }
}

function forget(s, nonce, entry) {
  answered(entry);
  clearTimeout(entry.confirmTimer);
  s.outbox.delete(nonce);
}

/** Turns a pending item into a delivered message with the server's id and time. */
function deliver(s, entry, id, key, time) {
  s.seen.add(id);
  const item = entry.item;
  item.classList.remove("pending");
  item.dataset.id = id;
  setNote(item, "");
  setItemTime(item, time);
  showReceived(s, item, key, true);
}

function onAck(s, frame) {
  const entry = s.outbox.get(frame.nonce);
  const key = parseId(frame.id);
  if (!entry || !key) return;
  forget(s, frame.nonce, entry);
  if (entry.shownId) return; // Shown already, as the message its own frame brought.
  if (s.seen.has(frame.id)) {
    removeItem(entry.item); // Shown already, from its `message` frame.
    return;
  }
  deliver(s, entry, frame.id, key, new Date(key[0]).toISOString());
}

/** One of our own messages arrived before its ack (or after a reconnect that lost the
 *  ack): it is the oldest sent entry with this text, since a client's sends are stored in
 *  order. Returns whether an entry took it. */
function claimOwnMessage(s, m, key) {
  for (const entry of s.outbox.values()) {
    if (entry.sent && !entry.shownId && entry.text === m.message) {
      entry.shownId = m.id; // Kept until its ack: see the top of this file.
      deliver(s, entry, m.id, key, m.time);
      return true;
    }
  }
  return false;
}

/** Stored, but not confirmed: send it again with the same nonce after a backoff, until the
 *  ack of the original arrives. */
function awaitConfirmation(s, nonce, entry) {
  const delay = Math.min(CONFIRM_RETRY_MAX_MS, CONFIRM_RETRY_MS * 2 ** entry.confirmTries);
  entry.confirmTries += 1;
  if (!entry.shownId) setNote(entry.item, CONFIRMING_NOTE);
  clearTimeout(entry.confirmTimer);
  entry.confirmTimer = setTimeout(() => {
    if (session === s && s.outbox.get(nonce) === entry) transmit(s, nonce, entry);
  }, delay);
}

/** An `error` about one of our sends: show it on the message, with a way to try again —
 *  unless the message is stored already (`not_confirmed` now or before, or its own frame
 *  came): then the error is about a resend, and only a resend with the same nonce can end
 *  it; "Send again" would make a second message. */
function onSendError(s, frame) {
  const entry = frame.nonce != null ? s.outbox.get(frame.nonce) : null;
  if (!entry) return false;
  if (frame.code === "not_confirmed" || entry.shownId || entry.confirmTries > 0) {
    answered(entry);
    awaitConfirmation(s, frame.nonce, entry);
    return true;
  }
  forget(s, frame.nonce, entry);
  const known = SEND_FAILURES[frame.code];
  const detail = frame.message ? String(frame.message) : "";
  let reason = known || detail || "The server did not accept this message.";
  if (known && detail && frame.code !== "rate_limited") reason += ` ${detail}.`;
  markFailed(s, entry.item, `Not sent: ${reason}`, String(frame.code || "error"));
  return true;
}

function markFailed(s, item, reason, code) {
  item.classList.remove("pending");
  item.classList.add("failed");
  item.dataset.error = code;
  const note = item.querySelector(".note");
  note.textContent = `${reason} `;
  const again = el("button", "link", "Send again");
  again.type = "button";
  again.addEventListener("click", () => {
    removeItem(item);
    if (session === s) queueSend(s, itemText(item));
    ui.message.focus();
  });
  const discard = el("button", "link", "Discard");
  discard.type = "button";
  discard.addEventListener("click", () => {
    removeItem(item);
    ui.message.focus();
  });
  note.append(again, " · ", discard);
  // Failed items leave the pending tail (they will get no id): put them just above it.
  removeItem(item);
  ui.messages.insertBefore(item, pendingTail());
  regroupAround(item);
}

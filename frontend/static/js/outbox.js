// Messages typed here until the server confirms them. Each has a nonce that stays the same
// across reconnects: whatever is unconfirmed when a connection drops is sent again, with
// that nonce, after the next `welcome`, and the backend's deduplication by nonce turns a
// resend of something it had already stored into an `ack` of the original.

const WAITING_NOTE = "Waiting for the connection — will send when reconnected";

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
  const item = messageItem(s.name, text, true, new Date().toISOString());
  item.classList.add("pending");
  const entry = { text, item, sent: false };
  s.outbox.set(nonce, entry);
  appendPending(item);
  transmit(s, nonce, entry);
}

function isOpen(s) {
  return s.welcomed && s.socket != null && s.socket.readyState === WebSocket.OPEN;
}

function transmit(s, nonce, entry) {
  if (!isOpen(s)) {
    entry.sent = false;
    setNote(entry.item, WAITING_NOTE);
    return;
  }
  s.socket.send(JSON.stringify({ type: "send", message: entry.text, nonce }));
  entry.sent = true;
  setNote(entry.item, "Sending…");
}

/** After `welcome`: everything unconfirmed goes out again, oldest first, same nonces. */
function flushOutbox(s) {
  for (const [nonce, entry] of s.outbox) transmit(s, nonce, entry);
}

/** The connection dropped: nothing in flight can be confirmed on it any more. */
function holdOutbox(s) {
  for (const entry of s.outbox.values()) {
    entry.sent = false;
    setNote(entry.item, WAITING_NOTE);
  }
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
  s.outbox.delete(frame.nonce);
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
  for (const [nonce, entry] of s.outbox) {
    if (entry.sent && entry.text === m.message) {
      s.outbox.delete(nonce);
      deliver(s, entry, m.id, key, m.time);
      return true;
    }
  }
  return false;
}

/** An `error` about one of our sends: show it on the message, with a way to try again. */
function onSendError(s, frame) {
  const entry = frame.nonce != null ? s.outbox.get(frame.nonce) : null;
  if (!entry) return false;
  s.outbox.delete(frame.nonce);
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

// Entering, switching and leaving rooms without reloading the page, and rejoining one the
// server disconnected this person from. The URL follows the room (`/c/{channel}`, the wire
// id), so it can be shared, bookmarked, and navigated with back/forward; the header shows
// the room as it was typed ("Team Chat" is `team-chat`).

function newSession(channel, label, name) {
  return {
    channel,
    label,
    /** Who this browser is on the wire; `name` is only what others see. */
    clientId: clientId(),
    name,
    /** Display names by client id, from `welcome` and presence (absent: show the id). */
    names: new Map(),
    /** Client id -> timer of who is typing (presence.js); when this page last said it was. */
    typing: new Map(),
    typingSentAt: 0,
    /** The nonce of the page of older messages asked for, and whether older ones exist
     *  (null: not known yet) (messages.js). */
    historyNonce: null,
    historyMore: null,
    /** { value, refreshAt } when the backend requires tokens; the refresh being sent (ids.js). */
    token: null,
    nextToken: null,
    tokenFailures: 0,
    signingIn: false,
    /** Closes with 4401 since the last welcome: the second in a row stops the retries. */
    tokenRefusals: 0,
    refreshTimer: 0,
    /** Client id -> { item, at } of "left" lines, taken back if they return soon. */
    recentLeaves: new Map(),
    socket: null,
    welcomed: false,
    everConnected: false,
    lastId: null,
    lastKey: null,
    /** The epoch of the channel history `lastId` belongs to (from the latest welcome). */
    epoch: null,
    resumedFrom: null,
    /** Ids of messages shown, so a replay never doubles a line. */
    seen: new Set(),
    /** nonce -> { text, item, sent, shownId, … }, in the order typed (see outbox.js). */
    outbox: new Map(),
    online: new Set(),
    onlineCount: 0,
    /** During a presence batch: who was online before it, per person it names. */
    presenceBefore: null,
    presenceTimer: 0,
    unread: 0,
    /** Live messages from others that arrived while the tab was hidden (tab title). */
    unseen: 0,
    attempt: 0,
    connectedAt: 0,
    welcomedAt: 0,
    retryTimer: 0,
    countdownTimer: 0,
    /** No `welcome` in time: the socket is given up (connection.js). */
    connectTimer: 0,
    /** When the last frame arrived: a connection that says anything is alive (outbox.js). */
    lastFrameAt: 0,
    /** Disconnected by the server (4000): no reconnecting until the person rejoins. */
    removed: false,
    /** The last connection was refused in a way retrying cannot fix. */
    refused: false,
    lastCloseNotice: null,
  };
}

function roomPath(channel) {
  return `/c/${encodeURIComponent(channel)}`;
}

/** Enters the room `channel` (a wire id) shown as `label`, as `name`; `push` adds a history
 *  entry (not when following one). */
function enterRoom(channel, label, name, push) {
  if (session) disconnect(session);
  session = newSession(channel, label, name);
  resetMessages(session);
  renderTyping(session);
  ui.announce.replaceChildren();
  setOnline(session, [], 0);
  renderUnread(session);
  showSendError("");
  ui.roomName.textContent = label;
  ui.you.textContent = name;
  ui.message.placeholder = `Message #${label}`;
  renderTitle(session);
  ui.join.hidden = true;
  ui.room.hidden = false;
  renderRooms(rememberRoom(channel, label), channel);
  if (location.pathname !== roomPath(channel)) {
    if (push) history.pushState(null, "", roomPath(channel));
    else history.replaceState(null, "", roomPath(channel));
  }
  connect();
  ui.message.focus();
}

/** Back to the join form; `push` as for `enterRoom`. */
function leaveRoom(push) {
  const s = session;
  if (!s) return;
  session = null;
  disconnect(s);
  clearTyping(s);
  setStatus("idle", "Not connected");
  ui.room.hidden = true;
  ui.join.hidden = false;
  ui.channel.value = s.label;
  document.title = "Chat";
  if (push && location.pathname !== "/") history.pushState(null, "", "/");
  ui.channel.focus();
}

/** Close 4000: someone running the service disconnected this person. Coming straight back
 *  would defeat that, so the page waits for them to choose to rejoin. */
function showRemoved(s, reason) {
  s.removed = true;
  holdOutbox(s);
  const text = reason ? `You were disconnected by the server: ${reason}` : "You were disconnected by the server.";
  const notice = addNotice(text, "error removed");
  const rejoin = el("button", "link", "Rejoin");
  rejoin.type = "button";
  rejoin.addEventListener("click", () => {
    rejoin.remove();
    if (session !== s || s.socket) return;
    s.removed = false;
    connect();
  });
  notice.append(" ", rejoin);
  setStatus("removed", "Disconnected by the server");
}

/** The recent-rooms list: links to `/c/…`, followed in place by `onRoomLinkClick`. */
function renderRooms(rooms, current) {
  ui.rooms.replaceChildren(
    ...rooms.map(({ id, label }) => {
      const link = el("a", null, `# ${label}`);
      link.dir = "auto";
      link.href = roomPath(id);
      link.dataset.room = id;
      link.dataset.label = label;
      if (id === current) link.setAttribute("aria-current", "page");
      const item = el("li");
      item.append(link);
      return item;
    }),
  );
}

function onRoomLinkClick(event) {
  const link = event.target.closest("a[data-room]");
  // Modified clicks keep their usual meaning (new tab, new window).
  if (!link || !session || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  if (link.dataset.room !== session.channel) enterRoom(link.dataset.room, link.dataset.label, session.name, true);
}

function onSwitchSubmit(event) {
  event.preventDefault();
  const label = ui.switchChannel.value.trim();
  const problem = roomProblem("The room", label);
  ui.switchError.textContent = problem || "";
  ui.switchError.hidden = !problem;
  ui.switchChannel.toggleAttribute("aria-invalid", Boolean(problem));
  if (problem || !session) return;
  ui.switchChannel.value = "";
  const channel = roomId(label);
  if (channel !== session.channel) enterRoom(channel, label, session.name, true);
}

function onJoinSubmit(event) {
  event.preventDefault();
  const label = ui.channel.value.trim();
  const name = cleanName(ui.name.value);
  const problems = [
    [ui.channel, roomProblem("The room", label)],
    [ui.name, nameProblem("Your name", name)],
  ];
  for (const [input, problem] of problems) input.toggleAttribute("aria-invalid", Boolean(problem));
  const failed = problems.filter(([, problem]) => problem);
  if (failed.length > 0) {
    ui.joinError.textContent = failed.map(([, problem]) => problem).join(" ");
    ui.joinError.hidden = false;
    failed[0][0].focus();
    return;
  }
  ui.joinError.hidden = true;
  saveName(name);
  enterRoom(roomId(label), label, name, true);
}

/** The room a `/c/…` path names, as {id, label}, or null. Links may use any case. */
function linkedRoom(path) {
  const match = /^\/c\/([^/]+)$/.exec(path);
  let typed = "";
  try {
    typed = match ? decodeURIComponent(match[1]) : "";
  } catch {
    typed = "";
  }
  if (roomProblem("", typed)) return null;
  const id = roomId(typed);
  return { id, label: roomLabel(id) };
}

/** Back/forward: show whatever the URL now names, without reloading. */
function onPopState() {
  const room = linkedRoom(location.pathname);
  const name = session ? session.name : cleanName(loadName());
  if (room && !nameProblem("", name)) {
    if (!session || session.channel !== room.id) enterRoom(room.id, room.label, name, false);
  } else {
    leaveRoom(false);
  }
}

async function copyRoomLink() {
  if (!session) return;
  const url = `${location.origin}${roomPath(session.channel)}`;
  let copied = false;
  try {
    await navigator.clipboard.writeText(url);
    copied = true;
  } catch {
    copied = false;
  }
  flashButton(ui.copyLink, copied ? "Link copied ✓" : "Copy failed", "Copy link");
  if (!copied) addNotice(`Share this link: ${url}`);
  announce(copied ? "Link copied to the clipboard" : "Could not copy the link");
}

function flashButton(button, text, original) {
  button.textContent = text;
  clearTimeout(button.flashTimer);
  button.flashTimer = setTimeout(() => {
    button.textContent = original;
  }, 2000);
}

// Chat page: joins a room over the backend's WebSocket (protocol v1) and keeps the
// conversation consistent across reconnects.
//
// Invariants:
// - Chat text is only ever set with textContent / text nodes, never parsed as HTML.
// - A message id is shown at most once (`seen`), and list items are kept in id order.
// - `lastId` is the newest id received in a `message` frame. Frames on one connection
//   arrive in id order, so everything up to it has been received, and reconnecting with
//   `?since=lastId` loses nothing (acks do not advance it: an ack can overtake older
//   messages still on their way).
"use strict";

(() => {
  const ID_RULE = /^[A-Za-z0-9._-]+$/;
  const MAX_ID_LEN = 64;
  const NAME_KEY = "chat.name";
  const BACKOFF_BASE_MS = 500;
  const BACKOFF_MAX_MS = 30000;
  const STABLE_MS = 10000;

  const body = document.body;
  const backendUrl = body.dataset.backendUrl || "";
  const maxChars = Number(body.dataset.maxMessageChars) || 4096;
  const byId = (id) => document.getElementById(id);
  const ui = {
    connection: byId("connection"),
    status: byId("status"),
    countdown: byId("countdown"),
    retry: byId("retry"),
    join: byId("join"),
    joinForm: byId("join-form"),
    channel: byId("channel"),
    name: byId("name"),
    joinError: byId("join-error"),
    room: byId("room"),
    roomTitle: byId("room-title"),
    leave: byId("leave"),
    messages: byId("messages"),
    online: byId("online"),
    onlineCount: byId("online-count"),
    sendForm: byId("send-form"),
    message: byId("message"),
    send: byId("send"),
    sendError: byId("send-error"),
  };

  /** The current room, or null on the join form. */
  let session = null;
  /** Text of messages whose fate is unknown (connection lost before the ack). */
  const lostText = new WeakMap();

  // ---- ids and time ------------------------------------------------------------------

  function idProblem(label, value) {
    if (value === "") return `${label} is required.`;
    if (value.length > MAX_ID_LEN) return `${label} must be at most ${MAX_ID_LEN} characters.`;
    if (!ID_RULE.test(value)) {
      return `${label} may only contain letters, digits, dot, underscore and hyphen (no spaces).`;
    }
    return null;
  }

  /** Message ids look like `<ms>-<seq>`; returns [ms, seq] or null. */
  function parseId(id) {
    const match = /^(\d{1,20})-(\d{1,20})$/.exec(id);
    return match ? [Number(match[1]), Number(match[2])] : null;
  }

  function compareIds(a, b) {
    return a[0] - b[0] || a[1] - b[1];
  }

  function setTime(node, iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) {
      node.textContent = String(iso);
      return;
    }
    const today = date.toDateString() === new Date().toDateString();
    node.dateTime = date.toISOString();
    node.title = date.toLocaleString();
    node.textContent = today
      ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : date.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  }

  // ---- storage (may be unavailable, e.g. blocked cookies) -------------------------------

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

  // ---- connection state ----------------------------------------------------------------

  function setStatus(state, text) {
    ui.connection.dataset.state = state;
    ui.status.textContent = text;
    ui.countdown.textContent = "";
    ui.retry.hidden = state !== "reconnecting" && state !== "offline";
    ui.send.disabled = state !== "connected";
  }

  function clearTimers(s) {
    clearTimeout(s.retryTimer);
    clearInterval(s.countdownTimer);
  }

  function connect() {
    const s = session;
    if (!s) return;
    clearTimers(s);
    if (navigator.onLine === false) {
      setStatus("offline", "Offline — waiting for the network");
      return;
    }
    let url = `${backendUrl}/ws/${encodeURIComponent(s.channel)}/${encodeURIComponent(s.name)}`;
    if (s.lastId) url += `?since=${encodeURIComponent(s.lastId)}`;
    s.resumedFrom = s.lastId;
    s.welcomed = false;
    setStatus("connecting", "Connecting…");
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
      if (current()) onFrame(s, event.data);
    });
    socket.addEventListener("close", (event) => {
      if (current()) onClose(s, event);
    });
  }

  function onClose(s, event) {
    const lastedMs = s.connectedAt ? Date.now() - s.connectedAt : 0;
    s.socket = null;
    s.welcomed = false;
    s.connectedAt = 0;
    for (const item of s.pending.values()) {
      markFailed(item, "Connection lost before the server confirmed this message.");
      lostText.set(item, item.querySelector(".text").textContent);
    }
    s.pending.clear();

    const reasons = {
      1008: "The server refused the connection",
      1009: "A message was too large for the server",
    };
    if (reasons[event.code]) {
      const text = event.reason ? `${reasons[event.code]}: ${event.reason}` : reasons[event.code];
      if (text !== s.lastCloseNotice) addNotice(text, "error");
      s.lastCloseNotice = text;
    }

    let delay;
    if (event.code === 1012) {
      // Server restarting: come back soon, spread out so all clients don't return at once.
      s.attempt = 0;
      delay = Math.random() * 1000;
    } else {
      // A connection that lasted a while was healthy: start the backoff over.
      if (lastedMs > STABLE_MS) s.attempt = 0;
      if (event.code === 1013) s.attempt = Math.max(s.attempt, 3);
      delay = Math.random() * Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** s.attempt);
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
    s.countdownTimer = setInterval(tick, 1000);
    s.retryTimer = setTimeout(connect, delay);
  }

  // ---- frames ----------------------------------------------------------------------------

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
      case "error":
        onError(s, frame);
        break;
      default:
      // Unknown frame types are ignored, so the server can add some.
    }
  }

  function onWelcome(s, frame) {
    s.welcomed = true;
    s.connectedAt = Date.now();
    s.lastCloseNotice = null;
    setStatus("connected", "Connected");
    if (s.resumedFrom && frame.recovered === false) {
      addNotice("Some messages sent while you were disconnected could not be recovered.", "error");
    }
    s.online = new Set(Array.isArray(frame.online) ? frame.online.map(String) : []);
    s.onlineCount = Number(frame.online_count) || s.online.size;
    renderOnline(s);
  }

  function onMessage(s, m) {
    const key = typeof m.id === "string" ? parseId(m.id) : null;
    if (!key) return;
    if (!s.lastKey || compareIds(key, s.lastKey) > 0) {
      s.lastId = m.id;
      s.lastKey = key;
    }
    if (s.seen.has(m.id)) return;
    s.seen.add(m.id);
    const own = m.client_id === s.name;
    if (own) forgetOwnCopy(s, String(m.message));
    const item = messageItem(String(m.client_id), String(m.message), own);
    setTime(item.querySelector("time"), m.time);
    item.dataset.id = m.id;
    placeInOrder(item, key, own);
  }

  function onAck(s, frame) {
    const item = s.pending.get(frame.nonce);
    const key = typeof frame.id === "string" ? parseId(frame.id) : null;
    if (!item || !key) return;
    s.pending.delete(frame.nonce);
    if (s.seen.has(frame.id)) {
      item.remove(); // Its `message` frame came first and is already shown.
      return;
    }
    // Show it as delivered right away; its own `message` frame will then be a duplicate.
    s.seen.add(frame.id);
    item.classList.remove("pending");
    item.dataset.id = frame.id;
    item.querySelector(".note").textContent = "";
    setTime(item.querySelector("time"), new Date(key[0]).toISOString());
    placeInOrder(item, key, true);
  }

  function onPresence(s, frame) {
    const who = String(frame.client_id);
    if (frame.event === "join") s.online.add(who);
    else if (frame.event === "leave") s.online.delete(who);
    else return;
    if (Number.isFinite(frame.online_count)) s.onlineCount = frame.online_count;
    renderOnline(s);
    if (who !== s.name) addNotice(`${who} ${frame.event === "join" ? "joined" : "left"}`);
  }

  function onError(s, frame) {
    const text = `${frame.message || "The server refused this"} (${frame.code || "error"})`;
    const item = frame.nonce != null ? s.pending.get(frame.nonce) : null;
    if (item) {
      s.pending.delete(frame.nonce);
      markFailed(item, `Not sent: ${text}`);
    } else {
      addNotice(text, "error");
    }
  }

  // ---- sending ---------------------------------------------------------------------------

  function sendText(text) {
    const s = session;
    if (!s || !s.welcomed || !s.socket || s.socket.readyState !== WebSocket.OPEN) {
      showSendError("Not connected. Your message is kept here; send it once reconnected.");
      return false;
    }
    s.nonceCount += 1;
    const nonce = `n-${s.nonceCount}-${Date.now().toString(36)}`;
    s.socket.send(JSON.stringify({ type: "send", message: text, nonce }));
    const item = messageItem(s.name, text, true);
    item.classList.add("pending");
    item.querySelector(".note").textContent = "Sending…";
    s.pending.set(nonce, item);
    ui.messages.append(item);
    scrollToEnd(true);
    return true;
  }

  function submitComposer() {
    const text = ui.message.value;
    if (text.trim() === "") return;
    const length = [...text].length;
    if (length > maxChars) {
      showSendError(`Messages can be at most ${maxChars} characters; this one has ${length}.`);
      return;
    }
    if (sendText(text)) {
      ui.message.value = "";
      showSendError("");
    }
  }

  function showSendError(text) {
    ui.sendError.textContent = text;
    ui.sendError.hidden = text === "";
  }

  function markFailed(item, reason) {
    item.classList.remove("pending");
    item.classList.add("failed");
    const note = item.querySelector(".note");
    note.textContent = `${reason} `;
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "link";
    retry.textContent = "Send again";
    retry.addEventListener("click", () => {
      if (sendText(item.querySelector(".text").textContent)) item.remove();
    });
    note.append(retry);
  }

  /** One of our messages arrived: drop the local copy still waiting for its ack (whose
   *  ack will then find nothing to do) or cut off by a lost connection. */
  function forgetOwnCopy(s, text) {
    for (const [nonce, item] of s.pending) {
      if (item.querySelector(".text").textContent === text) {
        s.pending.delete(nonce);
        item.remove();
        return;
      }
    }
    for (const item of ui.messages.querySelectorAll("li.failed")) {
      if (lostText.get(item) === text) {
        item.remove();
        return;
      }
    }
  }

  // ---- rendering -------------------------------------------------------------------------

  function messageItem(sender, text, own) {
    const item = document.createElement("li");
    item.className = own ? "msg own" : "msg";
    const meta = document.createElement("div");
    meta.className = "meta";
    const who = document.createElement("span");
    who.className = "sender";
    who.textContent = own ? `${sender} (you)` : sender;
    const when = document.createElement("time");
    meta.append(who, " ", when);
    const content = document.createElement("p");
    content.className = "text";
    content.textContent = text;
    const note = document.createElement("p");
    note.className = "note";
    item.append(meta, content, note);
    return item;
  }

  /** The first of the trailing not-yet-acknowledged items, which stay at the bottom. */
  function pendingTail() {
    let tail = null;
    for (let node = ui.messages.lastElementChild; node; node = node.previousElementSibling) {
      if (!node.classList.contains("pending")) break;
      tail = node;
    }
    return tail;
  }

  /** Inserts before the pending tail, but also before any already shown message with a
   *  larger id (only history after an unrecoverable gap can arrive out of order). */
  function placeInOrder(item, key, own) {
    const follow = isNearEnd();
    item.remove();
    let before = pendingTail();
    let node = before ? before.previousElementSibling : ui.messages.lastElementChild;
    for (; node; node = node.previousElementSibling) {
      const other = node.dataset.id ? parseId(node.dataset.id) : null;
      if (!other) continue;
      if (compareIds(other, key) < 0) break;
      before = node;
    }
    ui.messages.insertBefore(item, before);
    scrollToEnd(follow || own);
  }

  function addNotice(text, kind) {
    const follow = isNearEnd();
    const item = document.createElement("li");
    item.className = kind ? `notice ${kind}` : "notice";
    item.textContent = text;
    ui.messages.insertBefore(item, pendingTail());
    scrollToEnd(follow);
  }

  function renderOnline(s) {
    const items = [...s.online].sort().map((who) => {
      const item = document.createElement("li");
      item.textContent = who === s.name ? `${who} (you)` : who;
      return item;
    });
    const hidden = s.onlineCount - s.online.size;
    if (hidden > 0) {
      const more = document.createElement("li");
      more.className = "more";
      more.textContent = `and ${hidden} more`;
      items.push(more);
    }
    ui.online.replaceChildren(...items);
    ui.onlineCount.textContent = String(Math.max(s.onlineCount, s.online.size));
  }

  function isNearEnd() {
    const list = ui.messages;
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  function scrollToEnd(force) {
    if (force) ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  // ---- joining and leaving ----------------------------------------------------------------

  function join(channel, name) {
    session = {
      channel,
      name,
      socket: null,
      welcomed: false,
      lastId: null,
      lastKey: null,
      resumedFrom: null,
      seen: new Set(),
      pending: new Map(),
      online: new Set(),
      onlineCount: 0,
      attempt: 0,
      connectedAt: 0,
      nonceCount: 0,
      retryTimer: 0,
      countdownTimer: 0,
      lastCloseNotice: null,
    };
    ui.messages.replaceChildren();
    ui.online.replaceChildren();
    ui.onlineCount.textContent = "0";
    showSendError("");
    ui.roomTitle.textContent = `Room ${channel} — you are ${name}`;
    document.title = `${channel} · Chat`;
    ui.join.hidden = true;
    ui.room.hidden = false;
    const path = `/c/${encodeURIComponent(channel)}`;
    if (location.pathname !== path) history.pushState(null, "", path);
    connect();
    ui.message.focus();
  }

  function leave() {
    const s = session;
    if (!s) return;
    session = null;
    clearTimers(s);
    if (s.socket) s.socket.close(1000, "left");
    setStatus("idle", "Not connected");
    ui.room.hidden = true;
    ui.join.hidden = false;
    document.title = "Chat";
    if (location.pathname !== "/") history.pushState(null, "", "/");
    ui.channel.focus();
  }

  function onJoinSubmit(event) {
    event.preventDefault();
    const channel = ui.channel.value.trim();
    const name = ui.name.value.trim();
    ui.channel.removeAttribute("aria-invalid");
    ui.name.removeAttribute("aria-invalid");
    const problems = [
      [ui.channel, idProblem("The room", channel)],
      [ui.name, idProblem("Your name", name)],
    ].filter(([, problem]) => problem);
    if (problems.length > 0) {
      for (const [input] of problems) input.setAttribute("aria-invalid", "true");
      ui.joinError.textContent = problems.map(([, problem]) => problem).join(" ");
      ui.joinError.hidden = false;
      problems[0][0].focus();
      return;
    }
    ui.joinError.hidden = true;
    saveName(name);
    join(channel, name);
  }

  // ---- wiring ----------------------------------------------------------------------------

  ui.joinForm.addEventListener("submit", onJoinSubmit);
  ui.leave.addEventListener("click", leave);
  ui.retry.addEventListener("click", () => {
    if (session && !session.socket) connect();
  });
  ui.sendForm.addEventListener("submit", (event) => {
    event.preventDefault();
    submitComposer();
  });
  ui.message.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitComposer();
    }
  });
  window.addEventListener("online", () => {
    if (session && !session.socket) connect();
  });
  window.addEventListener("offline", () => {
    if (session && !session.socket) {
      clearTimers(session);
      setStatus("offline", "Offline — waiting for the network");
    }
  });
  // Joining and leaving push history entries; going back or forward re-renders that URL.
  window.addEventListener("popstate", () => location.reload());

  const savedName = loadName();
  ui.name.value = savedName;
  const linked = body.dataset.channel;
  if (!backendUrl) {
    setStatus("offline", "No backend configured");
  } else if (linked && !idProblem("", savedName)) {
    join(linked, savedName);
  } else {
    (linked ? ui.name : ui.channel).focus();
  }
})();

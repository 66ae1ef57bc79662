// Page settings and the elements every other part works with. All files in this directory
// are concatenated, in the order `src/assets.rs` lists them, into one strict-mode function:
// they share its scope, so there is no module loader and one request serves the script.

const body = document.body;
/** ws:// or wss:// base URL of the backend, rendered into the page by the server. */
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
  roomName: byId("room-name"),
  you: byId("you"),
  notifyMentions: byId("notify-mentions"),
  copyLink: byId("copy-link"),
  peopleToggle: byId("people-toggle"),
  peopleCount: byId("people-count"),
  leave: byId("leave"),
  messages: byId("messages"),
  newMessages: byId("new-messages"),
  typing: byId("typing"),
  side: byId("side"),
  online: byId("online"),
  onlineCount: byId("online-count"),
  rooms: byId("rooms"),
  switchForm: byId("switch-form"),
  switchChannel: byId("switch-channel"),
  switchError: byId("switch-error"),
  sendForm: byId("send-form"),
  message: byId("message"),
  send: byId("send"),
  sendError: byId("send-error"),
  announce: byId("announce"),
};

/** The current room (see `newSession` in rooms.js), or null on the join form. */
let session = null;

/** Creates an element with a class and text; text is always text, never markup. */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

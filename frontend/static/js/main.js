// Wiring: event listeners and the first screen (join form, or straight into the room a
// `/c/{channel}` link names when the name is remembered).

function submitComposer() {
  const text = ui.message.value;
  if (text.trim() === "" || !session) return;
  const length = [...text].length;
  if (length > maxChars) {
    showSendError(`Messages can be at most ${maxChars} characters; this one has ${length}.`);
    return;
  }
  queueSend(session, text);
  ui.message.value = "";
  fitComposer();
  showSendError("");
}

function showSendError(text) {
  ui.sendError.textContent = text;
  ui.sendError.hidden = text === "";
}

/** The message box grows with its text, up to the CSS max-height. */
function fitComposer() {
  ui.message.style.height = "auto";
  ui.message.style.height = `${ui.message.scrollHeight + 2}px`;
}

function togglePeople() {
  const open = !ui.side.classList.contains("open");
  ui.side.classList.toggle("open", open);
  ui.peopleToggle.setAttribute("aria-expanded", String(open));
}

ui.joinForm.addEventListener("submit", onJoinSubmit);
ui.switchForm.addEventListener("submit", onSwitchSubmit);
ui.rooms.addEventListener("click", onRoomLinkClick);
ui.leave.addEventListener("click", () => leaveRoom(true));
ui.copyLink.addEventListener("click", copyRoomLink);
ui.peopleToggle.addEventListener("click", togglePeople);
ui.retry.addEventListener("click", () => {
  if (session && !session.socket) connect();
});
ui.newMessages.addEventListener("click", () => {
  scrollToEnd();
  ui.message.focus();
});
ui.messages.addEventListener("scroll", onMessagesScroll, { passive: true });
ui.sendForm.addEventListener("submit", (event) => {
  event.preventDefault();
  submitComposer();
  ui.message.focus();
});
// Tapping Send must not take focus from the message box: on a phone that would close the
// keyboard after every message.
ui.send.addEventListener("mousedown", (event) => event.preventDefault());
ui.notifyMentions.checked = loadNotifyMentions() && "Notification" in window && Notification.permission === "granted";
ui.notifyMentions.addEventListener("change", onNotifyToggle);
document.addEventListener("visibilitychange", onVisibilityChange);
ui.message.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submitComposer();
  }
});
ui.message.addEventListener("input", () => {
  fitComposer();
  noteTyping(session);
});
window.addEventListener("online", () => {
  if (session && !session.socket && !session.removed) connect();
});
window.addEventListener("offline", () => {
  if (session && !session.socket && !session.removed) {
    clearTimers(session);
    setStatus("offline", "Offline — waiting for the network");
  }
});
window.addEventListener("popstate", onPopState);

const savedName = cleanName(loadName());
ui.name.value = savedName;
const linked = body.dataset.channel ? linkedRoom(location.pathname) : null;
if (!backendUrl) {
  setStatus("offline", "No backend configured");
} else if (linked && !nameProblem("", savedName)) {
  enterRoom(linked.id, linked.label, savedName, false);
} else {
  (linked ? ui.name : ui.channel).focus();
}

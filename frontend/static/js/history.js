// Paging back. The first line of the list is always the edge of what is shown: a button for
// earlier messages, "Loading…", or "Beginning of the room". It is there from the start with
// one height, so what it says can change without moving what the reader is looking at.
const NEAR_TOP_PX = 40;
const HISTORY_PAGE = 50;
const EDGE_TEXT = { more: "Show earlier messages", loading: "Loading earlier messages…", start: "Beginning of the room" };

/** Empties the list down to its edge line (a new room). */
function resetMessages(s) {
  const edge = el("li", "edge");
  edge.dataset.state = "more";
  ui.messages.replaceChildren(edge);
  s.historyNonce = null;
  renderEdge(s);
}

function renderEdge(s) {
  const edge = ui.messages.firstElementChild;
  if (!edge || !edge.classList.contains("edge")) return;
  const state = s.historyMore === false ? "start" : s.historyNonce ? "loading" : "more";
  edge.dataset.state = state;
  if (state === "more") {
    const button = el("button", "link", EDGE_TEXT.more);
    button.type = "button";
    button.addEventListener("click", () => requestOlder(s));
    edge.replaceChildren(button);
  } else {
    edge.replaceChildren(EDGE_TEXT[state]);
  }
}

/** Asks for the page before the oldest message shown, unless one is on its way or the
 *  beginning is shown already. */
function requestOlder(s) {
  if (s !== session || s.historyNonce || s.historyMore === false || !isOpen(s)) return;
  const oldest = ui.messages.querySelector("li.msg[data-id]");
  if (!oldest) return;
  s.historyNonce = `h-${nextNonce()}`;
  s.socket.send(JSON.stringify({ type: "history", before: oldest.dataset.id, limit: HISTORY_PAGE, nonce: s.historyNonce }));
  renderEdge(s);
}

/** Nothing will answer a request made on a connection that closed. */
function forgetHistoryRequest(s) {
  if (!s.historyNonce) return;
  s.historyNonce = null;
  renderEdge(s);
}

/** A page of older messages: shown above the others, the reader's view staying put. */
function onHistoryPage(s, frame) {
  if (frame.nonce !== s.historyNonce) return;
  s.historyNonce = null;
  s.historyMore = frame.more !== false;
  const items = [];
  for (const m of Array.isArray(frame.messages) ? frame.messages : []) {
    if (!m || !parseId(m.id) || s.seen.has(m.id)) continue;
    s.seen.add(m.id);
    items.push(serverItem(s, m));
  }
  const list = ui.messages;
  const fromBottom = list.scrollHeight - list.scrollTop;
  const edge = list.firstElementChild;
  const first = edge ? edge.nextElementSibling : null;
  for (const item of items) list.insertBefore(item, first);
  for (const item of items) regroup(item);
  regroup(first);
  renderEdge(s);
  list.scrollTop = list.scrollHeight - fromBottom;
}

/** The answer to a page request was an error: the edge offers to try again. */
function onHistoryError(s, frame) {
  if (frame.nonce == null || frame.nonce !== s.historyNonce) return false;
  forgetHistoryRequest(s);
  addNotice("Earlier messages could not be loaded right now; try again in a moment.", "error");
  return true;
}

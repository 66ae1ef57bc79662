// The page's heartbeat: browsers answer the server's WebSocket pings without telling the
// page, so the page checks on an idle connection itself.

/** A connected page that has heard nothing for this long asks the server for a `pong`
 *  (it cannot see WebSocket pings)... */
const HEARTBEAT_MS = 20000;
/** ...and gives the socket up when nothing at all arrived this long after asking. */
const HEARTBEAT_TIMEOUT_MS = 10000;

/** Liveness a page can see on an idle connection: after HEARTBEAT_MS of silence it sends an
 *  application `ping`; any frame answers it; none within HEARTBEAT_TIMEOUT_MS means the
 *  server (or the path to it) is gone, and the socket is given up like an unanswered send. */
function startHeartbeat(s) {
  clearTimeout(s.heartbeatTimer);
  const socket = s.socket;
  let askedAt = 0;
  const beat = () => {
    if (session !== s || s.socket !== socket || !s.welcomed) return;
    const now = Date.now();
    if (askedAt && s.lastFrameAt < askedAt) {
      if (now - askedAt >= HEARTBEAT_TIMEOUT_MS) {
        abandon(s, "The server stopped answering");
        return;
      }
    } else if (now - s.lastFrameAt >= HEARTBEAT_MS) {
      askedAt = now;
      socket.send(JSON.stringify({ type: "ping" }));
    }
    s.heartbeatTimer = setTimeout(beat, 1000);
  };
  s.heartbeatTimer = setTimeout(beat, 1000);
}

// Display names as the backend adds them to frames (`name` on messages and presence,
// `names` in `welcome`), for a backend that does not yet: a WebSocket route in front of a
// page fills in whatever field is absent, from the `name` each page put on its /ws URL. It
// changes nothing a backend already sends, so the tests using it pass with either.

/** Names by client id, shared by every page routed through one registry. */
export function nameRegistry() {
  return new Map();
}

/** Routes `page`'s WebSockets through the stand-in; call before the page joins. */
export async function fillInNames(page, registry) {
  await page.routeWebSocket(/\/ws\//, (ws) => {
    const url = new URL(ws.url());
    const client = decodeURIComponent(url.pathname.split("/").at(-1));
    const name = url.searchParams.get("name");
    if (name) registry.set(client, name);
    const server = ws.connectToServer();
    ws.onMessage((message) => server.send(message));
    server.onMessage((message) => ws.send(withNames(message, registry)));
  });
}

function withNames(message, registry) {
  let frame;
  try {
    frame = JSON.parse(message);
  } catch {
    return message;
  }
  const known = (id) => registry.get(String(id));
  if ((frame.type === "message" || frame.type === "presence") && frame.name == null && known(frame.client_id)) {
    frame.name = known(frame.client_id);
  } else if (frame.type === "welcome" && frame.names == null && Array.isArray(frame.online)) {
    frame.names = Object.fromEntries(frame.online.filter(known).map((id) => [id, known(id)]));
  } else {
    return message;
  }
  return JSON.stringify(frame);
}

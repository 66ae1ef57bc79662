// An operator's token endpoint, as a page configured with TOKEN_URL calls it: a cross-origin
// POST of {client_id, name, channel} with the browser's cookies, answered with an HS256 token
// {token, expires_at} signed with the backends' secret. Each client id can be told to get
// tokens (`ok`), tokens signed with another secret (`forged`), a 503 (`down`) or a 403
// (`refuse`), and every request is recorded.
import crypto from "node:crypto";
import http from "node:http";
import { freePort } from "./processes.js";

function sign(secret, claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}`;
  return `${unsigned}.${crypto.createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
}

/** Starts the endpoint on a free port; tokens live `ttlSecs`. */
export async function startTokenServer({ secret, ttlSecs }) {
  const port = await freePort();
  const modes = new Map();
  const requests = [];
  const server = http.createServer((req, res) => {
    const origin = req.headers.origin || "";
    const cors = {
      "access-control-allow-origin": origin,
      "access-control-allow-credentials": "true",
      "access-control-allow-headers": "content-type",
      "access-control-allow-methods": "POST",
      "cache-control": "no-store",
    };
    if (req.method === "OPTIONS") {
      res.writeHead(204, cors).end();
      return;
    }
    let text = "";
    req.on("data", (chunk) => {
      text += chunk;
    });
    req.on("end", () => {
      let asked = {};
      try {
        asked = JSON.parse(text);
      } catch {
        asked = {};
      }
      const mode = modes.get(asked.client_id) || "ok";
      requests.push({ ...asked, cookie: req.headers.cookie || "", mode, at: Date.now() });
      const json = (status, body) =>
        res.writeHead(status, { ...cors, "content-type": "application/json" }).end(JSON.stringify(body));
      if (mode === "down") return json(503, { error: "unavailable", message: "sign-in is down" });
      if (mode === "refuse") return json(403, { error: "forbidden", message: "you are not signed in" });
      const exp = Math.floor(Date.now() / 1000) + ttlSecs;
      const key = mode === "forged" ? `not-${secret}` : secret;
      const token = sign(key, { sub: asked.client_id, exp, channels: [asked.channel], name: asked.name });
      return json(200, { token, expires_at: exp });
    });
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}/token`,
    requests,
    /** `ok`, `forged`, `down` or `refuse` for one client id. */
    setMode(clientId, mode) {
      modes.set(clientId, mode);
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

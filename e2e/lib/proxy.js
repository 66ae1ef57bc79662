// A round-robin TCP proxy with no session affinity, standing in for a cloud load balancer:
// each new connection goes to the next backend; a backend that refuses the connection is
// skipped, so clients reconnecting after an instance died land on a survivor.
//
// Used in-process by the tests (which read `routes` to see who landed where, and can make
// it refuse connections for a while), or standalone: node lib/proxy.js <port> <backend-port>…
import net from "node:net";
import { pathToFileURL } from "node:url";

export function startProxy(backendPorts, listenPort = 0) {
  let next = 0;
  let refusing = false;
  const routes = []; // { backend: index, path: "GET /ws/… line", open: bool, client: socket }
  const sockets = new Set();
  const track = (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };

  const server = net.createServer((client) => {
    track(client);
    if (refusing) return void client.destroy();
    client.pause();
    const route = { backend: -1, path: "", open: true, client };
    client.once("data", (chunk) => {
      route.path = chunk.toString("latin1").split("\r\n", 1)[0];
    });
    const attempt = (tries) => {
      if (tries >= backendPorts.length || client.destroyed) return void client.destroy();
      const index = next;
      next = (next + 1) % backendPorts.length;
      const upstream = net.connect(backendPorts[index], "127.0.0.1");
      const refused = () => attempt(tries + 1); // that backend is down: try the next one
      upstream.once("error", refused);
      upstream.once("connect", () => {
        upstream.off("error", refused);
        track(upstream);
        if (client.destroyed) return void upstream.destroy();
        route.backend = index;
        routes.push(route);
        upstream.on("close", () => client.destroy());
        client.on("close", () => {
          route.open = false;
          upstream.destroy();
        });
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(listenPort, "127.0.0.1", () =>
      resolve({
        port: server.address().port,
        routes,
        /** While true, new connections are closed at once (existing ones are kept). */
        refuse(value) {
          refusing = value;
        },
        /** Cuts the open connections whose request line contains `part`, as a lost network
         *  would (no close frame). */
        drop(part) {
          for (const route of routes) {
            if (route.open && route.path.includes(part)) route.client.destroy();
          }
        },
        close() {
          for (const socket of sockets) socket.destroy();
          return new Promise((done) => server.close(() => done()));
        },
      }),
    );
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [listen, ...backends] = process.argv.slice(2).map(Number);
  const proxy = await startProxy(backends, listen);
  console.log(`proxy on 127.0.0.1:${proxy.port} -> ${backends.join(", ")}`);
}

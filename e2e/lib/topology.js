// The system under test, on free loopback ports: a private redis-server, two backend
// instances on it, the round-robin proxy in front of them, and the frontend whose page
// points browsers at the proxy. `stop()` tears everything down by pid.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startProxy } from "./proxy.js";
import { freePort, httpOk, start, stop, tcpOpen, waitUntil } from "./processes.js";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "../..");
export const artifactsDir = path.resolve(here, "../artifacts");
/** Where `cargo build` put the binaries; e2e/run sets it from `cargo metadata`. */
const binDir = process.env.CHAT_BIN_DIR || path.join(repoRoot, "target/debug");

/** Starts everything; `label` names this run's log directory under artifacts/logs. */
export async function startTopology(label, { backendEnv = {} } = {}) {
  const logDir = path.join(artifactsDir, "logs", label);
  const children = [];
  let proxy = null;
  const topology = {
    backends: [],
    proxy: null,
    frontendUrl: "",
    async stop() {
      if (proxy) await proxy.close();
      await Promise.all(children.map((child) => stop(child)));
    },
  };
  try {
    const redisPort = await freePort();
    const redis = start(
      "redis",
      "redis-server",
      ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      {},
      logDir,
    );
    children.push(redis);
    await waitUntil("redis-server", () => tcpOpen(redisPort), 10000, redis);

    const frontendPort = await freePort();
    const origin = `http://127.0.0.1:${frontendPort}`;
    const backendPorts = [await freePort(), await freePort()];
    for (const [i, port] of backendPorts.entries()) {
      const backend = start(
        `backend${i}`,
        path.join(binDir, "backend"),
        [],
        {
          PORT: String(port),
          REDIS_URL: `redis://127.0.0.1:${redisPort}`,
          ALLOWED_ORIGINS: origin,
          RUST_LOG: "info",
          WORKERS: "1",
          // The tests type faster than people: lift the per-client send rate limit.
          RATE_LIMIT_PER_SEC: "200",
          RATE_LIMIT_BURST: "200",
          ...backendEnv,
        },
        logDir,
      );
      children.push(backend);
      topology.backends.push({ port, process: backend });
    }
    for (const { port, process } of topology.backends) {
      await waitUntil(`backend :${port}`, () => httpOk(`http://127.0.0.1:${port}/readyz`), 20000, process);
    }

    proxy = await startProxy(backendPorts);
    topology.proxy = proxy;

    const frontend = start(
      "frontend",
      path.join(binDir, "frontend"),
      [],
      { PORT: String(frontendPort), BACKEND_URL: `ws://127.0.0.1:${proxy.port}`, RUST_LOG: "warn" },
      logDir,
    );
    children.push(frontend);
    await waitUntil("frontend", () => httpOk(`${origin}/healthz`), 20000, frontend);
    topology.frontendUrl = origin;
    return topology;
  } catch (err) {
    await topology.stop();
    throw err;
  }
}

/** The backend index (0 or 1) that a client's latest WebSocket went to, per the proxy; -1 if none. */
export function backendOf(topology, name) {
  const route = topology.proxy.routes.findLast((r) => r.path.includes(`/${name}`));
  return route ? route.backend : -1;
}

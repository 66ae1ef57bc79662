// The system under test, on free loopback ports: a private redis-server (optionally with a
// replica of its own), two backend instances on it, the round-robin proxy in front of them,
// and the frontend whose page points browsers at the proxy. `stop()` tears everything down
// by pid.
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startProxy } from "./proxy.js";
import { freePort, httpOk, start, stop, tcpOpen, waitUntil } from "./processes.js";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "../..");
export const artifactsDir = path.resolve(here, "../artifacts");
/** Where `cargo build` put the binaries; e2e/run sets it from `cargo metadata`. */
const binDir = process.env.CHAT_BIN_DIR || path.join(repoRoot, "target/debug");

/** Starts everything; `label` names this run's log directory under artifacts/logs.
 *  `backendEnv` and `frontendEnv` add to (or override) each service's environment: tokens
 *  (AUTH_JWT_SECRET on both, GUEST_TOKEN_TTL_SECS or TOKEN_URL on the frontend), API keys. */
export async function startTopology(label, { backendEnv = {}, frontendEnv = {}, replica = false } = {}) {
  const logDir = path.join(artifactsDir, "logs", label);
  const children = [];
  let proxy = null;
  const topology = {
    /** The private redis-server's port, for tests that do things to its data. */
    redisPort: 0,
    backends: [],
    /** The replica's process, when asked for one. */
    replica: null,
    proxy: null,
    frontendUrl: "",
    async stop() {
      if (proxy) await proxy.close();
      await Promise.all(children.map((child) => stop(child)));
    },
  };
  try {
    const redisPort = await freePort();
    topology.redisPort = redisPort;
    const redis = start(
      "redis",
      "redis-server",
      ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      {},
      logDir,
    );
    children.push(redis);
    await waitUntil("redis-server", () => tcpOpen(redisPort), 10000, redis);
    if (replica) {
      const replicaPort = await freePort();
      topology.replica = start(
        "redis-replica",
        "redis-server",
        ["--port", String(replicaPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
          .concat(["--replicaof", "127.0.0.1", String(redisPort)]),
        {},
        logDir,
      );
      children.push(topology.replica);
      await waitUntil("replica in sync", () => replicaSynced(replicaPort), 15000, topology.replica);
    }

    const frontendPort = await freePort();
    const origin = `http://127.0.0.1:${frontendPort}`;
    const backendPorts = [await freePort(), await freePort()];
    for (const [i, port] of backendPorts.entries()) {
      const metricsPort = await freePort();
      const backend = start(
        `backend${i}`,
        path.join(binDir, "backend"),
        [],
        {
          PORT: String(port),
          METRICS_PORT: String(metricsPort),
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
      topology.backends.push({ port, metricsPort, process: backend });
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
      { PORT: String(frontendPort), BACKEND_URL: `ws://127.0.0.1:${proxy.port}`, RUST_LOG: "warn", ...frontendEnv },
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

/** Whether the redis-server on `port` is a replica whose link to its primary is up. */
function replicaSynced(port) {
  return new Promise((resolve) => {
    execFile("redis-cli", ["-p", String(port), "info", "replication"], (err, stdout) =>
      resolve(!err && stdout.includes("master_link_status:up")),
    );
  });
}

/** The sum over both backends of one Prometheus series (exact name with labels). */
export async function backendMetric(topology, series) {
  let total = 0;
  for (const { metricsPort } of topology.backends) {
    const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(2000) }).then((r) =>
      r.text(),
    );
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    total += line ? Number(line.slice(series.length + 1)) : 0;
  }
  return total;
}

/** The backend index (0 or 1) that a client's latest WebSocket went to, per the proxy; -1 if none. */
export function backendOf(topology, name) {
  const route = topology.proxy.routes.findLast((r) => r.path.includes(`/${name}`));
  return route ? route.backend : -1;
}

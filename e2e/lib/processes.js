// Starting the servers a test needs and stopping them by pid, even when a test fails.
// Every wait is bounded in time.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

const running = new Set();

// Last resort if the test process ends without its `after` hook (a crash, Ctrl-C).
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => process.exit(130));
}

/** Ports already handed out: the kernel may offer a just-closed port again. */
const handedOut = new Set();

/**
 * A port that was free a moment ago and was not handed out before in this run (the binaries
 * cannot bind port 0 themselves; two picks in a row can otherwise give the same port).
 */
export async function freePort() {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const server = net.createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address();
        server.close(() => resolve(port));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** Starts `command` with its output in `<logDir>/<name>.log`. */
export function start(name, command, args, env, logDir) {
  fs.mkdirSync(logDir, { recursive: true });
  const log = fs.openSync(path.join(logDir, `${name}.log`), "w");
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", log, log],
  });
  fs.closeSync(log);
  child.name = name;
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

/** Stops one process by its pid: SIGTERM, then SIGKILL if it lingers. */
export async function stop(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(child.pid, "SIGTERM");
  const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid, "SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Kills a process dead (SIGKILL) and waits until it is gone. */
export async function kill(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(child.pid, "SIGKILL");
  await exited;
}

/** Freezes a process (SIGSTOP) by its pid: its sockets stay open, nothing answers. */
export function freeze(child) {
  process.kill(child.pid, "SIGSTOP");
}

/** Lets a frozen process run again (SIGCONT). */
export function thaw(child) {
  if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGCONT");
}

/** Polls `probe` until it resolves truthy; fails after `timeoutMs`. */
export async function waitUntil(what, probe, timeoutMs = 15000, child = null) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what}: process exited (${child.exitCode})`);
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms`);
}

export function httpOk(url) {
  return fetch(url, { signal: AbortSignal.timeout(1000) }).then((response) => response.ok);
}

export function tcpOpen(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

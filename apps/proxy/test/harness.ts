// Real sockets: backends and the proxy on ephemeral loopback ports, clients
// that each send from their own 127.x.y.z address.

import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type RequestListener, type Server } from "node:http";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll } from "@jest/globals";
import { createBackend, attachWebSocketEcho } from "@stickyring/backend";
import { createLogger, listen, waitForPort, type LogLevel } from "@stickyring/runtime";
import { ConfigError, loadConfig } from "../src/config.js";
import { createStickyProxy, type StickyProxy } from "../src/proxy.js";

export interface Backend {
  id: string;
  port: number;
  server: Server;
  /** Stops it hard, as a crash would: the port refuses connections. */
  kill(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
}

export async function startBackend(n: number): Promise<Backend> {
  const id = `app${n}`;
  const make = () => {
    const server = createServer(createBackend({ id, greeting: `Hello from App ${n}` }));
    attachWebSocketEcho(server, `Hello from App ${n}`);
    return server;
  };
  const backend: Backend = {
    id,
    port: 0,
    server: make(),
    async kill() {
      const closed = new Promise((resolve) => backend.server.close(resolve));
      backend.server.closeAllConnections();
      await closed;
    },
    async restore() {
      backend.server = make();
      await listen(backend.server, backend.port, "127.0.0.1");
    },
  };
  backend.port = await listen(backend.server, 0, "127.0.0.1");
  return backend;
}

/**
 * The engine the integration tests run on: HTTP_ENGINE=express runs them on
 * node:http (`pnpm test:express`), else the fast engine serves.
 */
export const ENGINE = process.env.HTTP_ENGINE === "express" ? "express" : "fast";

export interface RunningProxy {
  proxy: StickyProxy;
  port: number;
  adminPort: number;
  stop(): Promise<void>;
}

export async function startProxy(
  backends: Backend[],
  env: Record<string, string> = {},
): Promise<RunningProxy> {
  const config = loadConfig({
    PORT: "0",
    ADMIN_PORT: "0",
    HOST: "127.0.0.1",
    BACKENDS: backends.map((b) => `${b.id}=http://127.0.0.1:${b.port}`).join(","),
    // Tests, backends and proxy share one process on a shared machine: a
    // check's answer can wait 200+ ms while other tests run (measured with
    // two CPU burners beside the suite), and a shorter timeout took healthy
    // servers down.
    HEALTH_INTER: "500ms",
    HEALTH_TIMEOUT: "500ms",
    // The TLS port runs on the fast engine only (config.ts refuses it with
    // HTTP_ENGINE=express): its tests run there on either engine's run.
    HTTP_ENGINE: env.TLS_PORT === undefined ? ENGINE : "fast",
    ...env,
  });
  // TEST_LOG=debug shows the in-process proxy's log when a test needs explaining.
  const level = (process.env.TEST_LOG ?? "silent") as LogLevel;
  const proxy = createStickyProxy(config, createLogger("proxy", level));
  const { port, adminPort } = await proxy.start();
  return { proxy, port, adminPort, stop: () => proxy.stop(2000) };
}

/**
 * A proxy in front of one server of the test's own ("app1" on `port`),
 * without active checks in the way; `cleanup` gets its stop.
 */
export async function proxyToPort(
  port: number,
  cleanup: (() => Promise<unknown>)[],
  env: Record<string, string> = {},
): Promise<RunningProxy> {
  const running = await startProxy([{ id: "app1", port } as Backend], {
    HEALTH_INTER: "60s",
    HEALTH_TIMEOUT: "1s",
    ...env,
  });
  cleanup.push(() => running.stop());
  return running;
}

/** One node:http server of the test's own as the only backend ("app1"), a proxy in front of it. */
export interface SoloBackend {
  port: number;
  /** Replaceable: a test that stops the proxy may start another. */
  running: RunningProxy;
  /** Stops the proxy, then the backend. */
  stop(): Promise<void>;
}

export async function soloBackend(handler: RequestListener): Promise<SoloBackend> {
  const server = createServer(handler);
  const port = await listen(server, 0, "127.0.0.1");
  const solo: SoloBackend = {
    port,
    running: await startProxy([{ id: "app1", port } as Backend]),
    async stop() {
      await solo.running.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  return solo;
}

export { clientAddresses, get, mapLimit, type Reply } from "@stickyring/loopback";

/** Sends raw bytes to `port`; resolves with the status line of the answer once the proxy closes. */
export function statusLineOf(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(payload));
    let answer = "";
    socket.on("data", (d) => (answer += d));
    socket.on("error", reject);
    socket.on("close", () => resolve(answer.split("\r\n")[0] ?? ""));
    socket.setTimeout(5000, () => socket.destroy());
  });
}

/** Polls until `check` holds or the time is up. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A JSON request to the admin API with the bearer token. */
export function adminCall(
  adminPort: number,
  token: string,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  return fetch(`http://127.0.0.1:${adminPort}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      ...init.headers,
    },
  });
}

export interface Topology {
  backends: Backend[];
  running: RunningProxy;
}

/**
 * Starts `backends` backends (app1..appN) and a proxy over the first
 * `proxied` of them before the file's tests, and stops them after.
 */
export function useTopology(
  options: { backends?: number; proxied?: number; env?: Record<string, string> } = {},
): Topology {
  const { backends = 3, proxied = backends, env = {} } = options;
  const topology = {} as Topology;
  beforeAll(async () => {
    topology.backends = await Promise.all(
      Array.from({ length: backends }, (_, i) => startBackend(i + 1)),
    );
    topology.running = await startProxy(topology.backends.slice(0, proxied), env);
  });
  afterAll(async () => {
    await topology.running?.stop();
    await Promise.all((topology.backends ?? []).map((b) => b.kill()));
  });
  return topology;
}

/**
 * The built proxy (dist/main.js) as its own process, listening on env.PORT.
 * Kill it when done. `output: "pipe"` keeps its stdout readable.
 */
export async function spawnProxy(
  env: Record<string, string>,
  output: "ignore" | "pipe" = "ignore",
  /** A command the proxy runs under, e.g. `["prlimit", "--nofile=400"]`. */
  wrapper: string[] = [],
): Promise<ChildProcess> {
  const main = fileURLToPath(new URL("../dist/main.js", import.meta.url));
  const [command, ...args] = [...wrapper, process.execPath, main];
  const child = spawn(command!, args, {
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", output, "ignore"],
  });
  await waitForPort(Number(env.PORT), { alive: () => child.exitCode === null });
  return child;
}

/** The processes whose parent is `pid` (a WORKERS primary's workers), from /proc. */
export function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return (
          /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${entry}/status`, "utf8"))?.[1] ===
          String(pid)
        );
      } catch {
        return false; // exited while listing
      }
    })
    .map(Number);
}

/** What loadConfig refuses `env` for, each problem as it says it; [] when it takes it. */
export function configProblems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

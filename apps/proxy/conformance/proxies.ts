// The two proxies under comparison, each its own process in front of one
// scripted backend: the built stickyring (dist/main.js) and Debian's HAProxy
// 2.6, both with a 2 s server timeout so a stalled case costs at most that.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitForPort } from "@stickyring/runtime";

export const SERVER_TIMEOUT_MS = 2000;
export const CLIENT_TIMEOUT_MS = 5000;

export interface RunningProxy {
  name: "stickyring" | "haproxy";
  port: number;
  /** What the process printed (for a failure message). */
  output(): string;
  stop(): Promise<void>;
}

const taken = new Set<number>();

/** A free port in 21000-21999 on 127.0.0.1, not handed out before by this process. */
export async function pickPort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 21000 + Math.floor(Math.random() * 1000);
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) {
      taken.add(port);
      return port;
    }
  }
  throw new Error("no free port in 21000-21999");
}

async function started(
  name: RunningProxy["name"],
  child: ChildProcess,
  port: number,
  cleanup: () => void,
): Promise<RunningProxy> {
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d));
  child.stderr?.on("data", (d: Buffer) => (output += d));
  child.once("error", (error) => (output += `\n${error.message}`));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
    cleanup();
  };
  try {
    await waitForPort(port, { timeoutMs: 10_000, alive: () => child.exitCode === null });
  } catch (error) {
    await stop();
    throw new Error(`${name} did not start: ${(error as Error).message}\n${output}`, {
      cause: error,
    });
  }
  return { name, port, output: () => output, stop };
}

/**
 * The built proxy as a child process, its only backend `app1` the scripted
 * backend. `host`: the address it listens on (an IPv4-mapped IPv6 address
 * makes clients' addresses arrive as ::ffff:a.b.c.d, as on a dual-stack listener).
 */
export async function startStickyring(
  backendPort: number,
  host = "127.0.0.1",
): Promise<RunningProxy> {
  const port = await pickPort();
  const main = fileURLToPath(new URL("../dist/main.js", import.meta.url));
  const child = spawn(process.execPath, [main], {
    env: {
      ...process.env,
      NODE_OPTIONS: "",
      PORT: String(port),
      HOST: host,
      ADMIN_PORT: "0",
      BACKENDS: `app1=http://127.0.0.1:${backendPort}`,
      BALANCE: "source",
      HASH_TYPE: "consistent",
      TIMEOUT_CONNECT: "2s",
      TIMEOUT_SERVER: `${SERVER_TIMEOUT_MS}ms`,
      TIMEOUT_CLIENT: `${CLIENT_TIMEOUT_MS}ms`,
      // One check at start (answered by the backend); none during the run.
      HEALTH_INTER: "1d",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return started("stickyring", child, port, () => {});
}

/**
 * HAProxy 2.6 in `mode http`, default keep-alive and `http-reuse safe`,
 * `option forwardfor` (stickyring always adds X-Forwarded-For), one server.
 */
export async function startHaproxy(backendPort: number): Promise<RunningProxy> {
  const port = await pickPort();
  const dir = mkdtempSync("/tmp/conformance-haproxy-");
  const config = [
    "global",
    "  maxconn 512",
    "defaults",
    "  mode http",
    "  option forwardfor",
    "  timeout connect 2s",
    `  timeout client ${CLIENT_TIMEOUT_MS}ms`,
    `  timeout server ${SERVER_TIMEOUT_MS}ms`,
    "frontend fe",
    `  bind 127.0.0.1:${port}`,
    "  default_backend be",
    "backend be",
    "  balance source",
    "  hash-type consistent",
    `  server app1 127.0.0.1:${backendPort}`,
    "",
  ].join("\n");
  const file = join(dir, "haproxy.cfg");
  writeFileSync(file, config);
  const child = spawn("haproxy", ["-f", file, "-db"], { stdio: ["ignore", "pipe", "pipe"] });
  return started("haproxy", child, port, () => rmSync(dir, { recursive: true, force: true }));
}

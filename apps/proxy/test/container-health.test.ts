// The image's health check (infra/healthcheck.sh): the running proxy writes
// where its admin /healthz is to HEALTHCHECK_FILE once it listens, and the check
// asks that address. Run here as the image runs it: bash, the built proxy.

import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "@jest/globals";
import { announceHealth, freePort, listen } from "@stickyring/runtime";
import { childrenOf, spawnProxy, startBackend, waitFor, type Backend } from "./harness.js";

const script = fileURLToPath(new URL("../../../infra/healthcheck.sh", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "stickyring-health-"));
const file = join(dir, "health");

/** The image's check: its exit status. Not spawnSync: the servers asked are in this process. */
function check(healthFile = file): Promise<number | null> {
  return new Promise((resolve) =>
    spawn("bash", [script], { env: { HEALTHCHECK_FILE: healthFile }, stdio: "ignore" }).on(
      "exit",
      resolve,
    ),
  );
}

const stops: (() => unknown)[] = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
  rmSync(file, { force: true });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the built proxy", () => {
  let backend: Backend;
  const start = async (env: Record<string, string>) => {
    backend = await startBackend(1);
    const child: ChildProcess = await spawnProxy({
      PORT: String(await freePort()),
      BACKENDS: `app1=http://127.0.0.1:${backend.port}`,
      HEALTHCHECK_FILE: file,
      ...env,
    });
    stops.push(() => backend.kill());
    stops.push(() => child.kill("SIGKILL"));
    return child;
  };

  it("writes the admin listener's real address (ADMIN_PORT=0: a port of the system's choosing) and passes the check; once it is gone the check fails", async () => {
    const child = await start({ ADMIN_PORT: "0" });
    await waitFor(() => {
      try {
        return readFileSync(file, "utf8").endsWith("\n");
      } catch {
        return false;
      }
    });
    const [host, port, path] = readFileSync(file, "utf8").trim().split(" ");
    expect(host).toBe("127.0.0.1");
    expect(Number(port)).toBeGreaterThan(0);
    expect(path).toBe("/healthz");
    expect(await check()).toBe(0);
    child.kill("SIGKILL");
    await waitFor(() => child.exitCode !== null || child.signalCode !== null);
    expect(await check()).toBe(1);
  });

  it("with WORKERS, writes it once the primary's admin listener opens", async () => {
    const child = await start({ ADMIN_PORT: String(await freePort()), WORKERS: "2" });
    stops.push(() => {
      for (const pid of childrenOf(child.pid!)) process.kill(pid, "SIGKILL");
    });
    await waitFor(async () => (await check()) === 0, 10_000);
  });
});

describe("the check", () => {
  it("fails without a file, on a refused connection and on an answer that is not 2xx", async () => {
    expect(await check(join(dir, "missing"))).toBe(1);
    const closed = await freePort();
    writeFileSync(file, `127.0.0.1 ${closed} /healthz\n`);
    expect(await check()).toBe(1);

    let status = 503;
    const server = createServer((req, res) => {
      res.writeHead(req.url === "/healthz" ? status : 404).end();
    });
    const port = await listen(server, 0, "127.0.0.1");
    stops.push(() => new Promise((r) => server.close(r)));
    writeFileSync(file, `127.0.0.1 ${port} /healthz\n`);
    expect(await check()).toBe(1);
    status = 204;
    expect(await check()).toBe(0);
    writeFileSync(file, `127.0.0.1 ${port} /elsewhere\n`);
    expect(await check()).toBe(1);

    // Status lines as a server may write them: without a reason phrase, or not HTTP at all.
    let line = "HTTP/1.1 200\r\n";
    // Answered once the request is in, and a reset (the check closing first) is no error here.
    const raw = createNetServer((socket) => {
      socket.on("error", () => undefined);
      socket.once("data", () => socket.end(`${line}content-length: 0\r\n\r\n`));
    });
    const rawPort = await listen(raw, 0, "127.0.0.1");
    stops.push(() => new Promise((r) => raw.close(r)));
    writeFileSync(file, `127.0.0.1 ${rawPort} /healthz\n`);
    expect(await check()).toBe(0);
    line = "garbage 200 x\r\n";
    expect(await check()).toBe(1);
  });
});

describe("announceHealth", () => {
  it("writes nothing without HEALTHCHECK_FILE; one it cannot write is logged, not thrown", () => {
    const warnings: string[] = [];
    const logger = { warn: (message: string) => void warnings.push(message) };
    announceHealth(logger, "0.0.0.0", 1, "/healthz", {});
    expect(warnings).toEqual([]);
    announceHealth(logger, "::", 8404, "/healthz", { HEALTHCHECK_FILE: file });
    expect(readFileSync(file, "utf8")).toBe("127.0.0.1 8404 /healthz\n");
    announceHealth(logger, undefined, 1, "/healthz", {
      HEALTHCHECK_FILE: join(dir, "no/such/dir"),
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^HEALTHCHECK_FILE=.*no\/such\/dir: cannot write it \(ENOENT/);
  });
});

// Faults under load: a backend killed and restarted repeatedly, and the
// proxy itself stopped with requests in flight and replaced.

import type { ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "@jest/globals";
import { createHashRing, sourceKey } from "@stickyring/hashing";
import { freePort } from "@stickyring/runtime";
import {
  childrenOf,
  clientAddresses,
  get,
  mapLimit,
  spawnProxy,
  startBackend,
  startProxy,
  waitFor,
} from "./harness.js";

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

const ids = ["app1", "app2", "app3"];
const ring = createHashRing({ servers: ids.map((id) => ({ id })) });

describe("a backend killed and restarted repeatedly under load", () => {
  it("fails no GET, moves only its clients (to their next server) and brings them back", async () => {
    const backends = await Promise.all([1, 2, 3].map(startBackend));
    cleanup.push(() => Promise.all(backends.map((b) => b.kill().catch(() => undefined))));
    // 150 clients, the proxy and the backends share this process: checks
    // answered past 500 ms three times in a row once in CI (on the express
    // engine) and took a live server down. A killed server is ejected by its
    // first refused connection, not by failed checks, so a higher fall count
    // loses nothing here.
    const running = await startProxy(backends, { HEALTH_FALL: "10" });
    cleanup.push(() => running.stop());

    const clients = clientAddresses(150);
    const seen = new Map(clients.map((c) => [c, new Set<string>()]));
    const failures: string[] = [];
    let requests = 0;
    let loading = true;
    const load = mapLimit(clients, 150, async (from) => {
      while (loading) {
        try {
          const reply = await get(running.port, { from });
          requests++;
          if (reply.status !== 200) failures.push(`${from}: ${reply.status} ${reply.body.trim()}`);
          else seen.get(from)!.add(reply.backend!);
        } catch (error) {
          failures.push(`${from}: ${(error as Error).message}`);
        }
      }
    });
    const victim = backends[1]!;
    try {
      for (let cycle = 0; cycle < 3; cycle++) {
        await new Promise((r) => setTimeout(r, 400));
        await victim.kill();
        await new Promise((r) => setTimeout(r, 600));
        await victim.restore();
        // Health checks bring it back (rise 2); its clients return then.
        await waitFor(() => running.proxy.placement().targets.has("app2"));
      }
      await new Promise((r) => setTimeout(r, 800));
    } finally {
      // Also when a wait fails: the clients must not outlive the test.
      loading = false;
      await load;
    }

    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(1000);
    for (const from of clients) {
      const [owner, fallback] = ring.pickN(sourceKey(from), 2);
      const reached = [...seen.get(from)!].sort();
      if (owner === "app2") expect(reached).toEqual([owner, fallback].sort());
      else expect(reached).toEqual([owner]);
    }
  }, 30_000);
});

describe("the proxy stopped with SIGTERM under load", () => {
  async function slowBackend(n: number): Promise<Server> {
    const server = createServer((_req, res) =>
      setTimeout(() => res.end(`Hello from App ${n}`), 300),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanup.push(() => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    });
    return server;
  }

  async function startProcess(env: Record<string, string>): Promise<ChildProcess> {
    const child = await spawnProxy(env);
    cleanup.push(async () => void child.kill("SIGKILL"));
    return child;
  }

  it("finishes in-flight requests, exits 0, and a new process places every client where the old one did", async () => {
    const servers = await Promise.all([1, 2, 3].map(slowBackend));
    const port = await freePort();
    const env = {
      PORT: String(port),
      ADMIN_PORT: "0",
      BACKENDS: servers
        .map((s, i) => `app${i + 1}=http://127.0.0.1:${(s.address() as AddressInfo).port}`)
        .join(","),
    };
    const clients = clientAddresses(300);

    const first = await startProcess(env);
    const before = await mapLimit(clients, 100, (from) => get(port, { from }));
    const inFlight = Promise.all(clients.slice(0, 40).map((from) => get(port, { from })));
    await new Promise((r) => setTimeout(r, 100));
    const exited = new Promise<number | null>((r) => first.once("exit", r));
    first.kill("SIGTERM");
    const drained = await inFlight;
    expect(drained.map((r) => r.status)).toEqual(drained.map(() => 200));
    expect(await exited).toBe(0);

    await startProcess(env);
    const after = await mapLimit(clients, 100, (from) => get(port, { from }));
    expect(after.map((r) => r.backend)).toEqual(before.map((r) => r.backend));
    expect(new Set(after.map((r) => r.backend)).size).toBe(3);
    // Two processes started and 640 answers of 300 ms each: ~4 s on the fast
    // engine, ~6 s on the express engine, on a machine shared with others.
  }, 15_000);

  it.each([
    ["one process, signalled twice", "0"],
    ["WORKERS=2, the primary and its workers signalled at once", "2"],
  ])(
    "drains its requests in flight whatever signals follow the first: %s",
    async (_name, workers) => {
      const server = await slowBackend(1);
      const port = await freePort();
      const child = await startProcess({
        PORT: String(port),
        ADMIN_PORT: "0",
        WORKERS: workers,
        BACKENDS: `app1=http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      });
      // Workers listen one after another: every one answers before the signals.
      await mapLimit(clientAddresses(40), 40, (from) => get(port, { from }));
      const inFlight = Promise.all(clientAddresses(20).map((from) => get(port, { from })));
      await new Promise((r) => setTimeout(r, 100));
      const exited = new Promise<number | null>((r) => child.once("exit", r));
      // As `kill -TERM -- -<process group>` (systemd's default) signals them:
      // each worker gets it from the sender, then again from the primary.
      for (const pid of [child.pid!, ...childrenOf(child.pid!)]) process.kill(pid, "SIGTERM");
      await new Promise((r) => setTimeout(r, 50));
      child.kill(workers === "0" ? "SIGINT" : "SIGTERM");
      child.kill("SIGTERM");
      const drained = await inFlight;
      expect(drained.map((r) => r.status)).toEqual(drained.map(() => 200));
      expect(await exited).toBe(0);
    },
  );

  it("answers a connection accepted just before the signal whose request comes just after", async () => {
    const server = await slowBackend(1);
    const port = await freePort();
    const child = await startProcess({
      PORT: String(port),
      ADMIN_PORT: "0",
      BACKENDS: `app1=http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    });
    const socket = connect(port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    // Accepted by the proxy, nothing sent yet: an idle connection to it.
    await new Promise((r) => setTimeout(r, 200));
    child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    let answer = "";
    socket.on("data", (d: Buffer) => (answer += d.toString("latin1")));
    const ended = new Promise((r) => socket.once("close", r));
    socket.on("error", () => {});
    socket.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    await ended;
    // It was reset before: a new connection's request is not retried by clients.
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer).toMatch(/Hello from App 1$/);
  });

  it("logs that it is shutting down and that it stopped: its last lines are not lost", async () => {
    const server = await slowBackend(1);
    const port = await freePort();
    const child = await spawnProxy(
      {
        PORT: String(port),
        ADMIN_PORT: "0",
        LOG_LEVEL: "info",
        BACKENDS: `app1=http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        // Whole milliseconds or not: c-ares took none but whole ones (a crash at start).
        TIMEOUT_CONNECT: "1500.5ms",
      },
      "pipe",
    );
    cleanup.push(async () => void child.kill("SIGKILL"));
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    expect((await get(port)).status).toBe(200);
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    const messages = output
      .trim()
      .split("\n")
      .map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(messages).toContain("proxy listening");
    expect(messages.slice(-2)).toEqual(["shutting down: draining in-flight requests", "stopped"]);
  });
});

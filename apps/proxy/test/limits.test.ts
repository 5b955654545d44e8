// Limits under load (#19): a server's maxconn and its FIFO queue, the queue
// timeout, a server leaving with requests queued, the client connection
// limit, and the bound on idle connections to a server. Real sockets: the
// proxy in this process, node:http servers that count what reaches them.

import { afterEach, describe, expect, it } from "@jest/globals";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { readdirSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { sourceKey } from "@stickyring/hashing";
import { freePort, listen } from "@stickyring/runtime";
import WebSocket from "ws";
import { ConfigError, loadConfig } from "../src/config.js";
import {
  clientAddresses,
  get,
  spawnProxy,
  startBackend,
  startProxy,
  waitFor,
  type Backend,
  type RunningProxy,
} from "./harness.js";

/** A backend that counts requests in flight and the most at once, and holds each as told. */
async function countingBackend(id: string, holdMs: (req: IncomingMessage) => number) {
  const state = {
    now: 0,
    peak: 0,
    order: [] as string[],
    bodies: new Map<string, string>(),
    connections: 0,
    open: 0,
    openPeak: 0,
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === "/healthz") return void res.end("ok");
    state.now++;
    state.peak = Math.max(state.peak, state.now);
    state.order.push(req.url!);
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk));
    req.on("end", () =>
      setTimeout(() => {
        state.bodies.set(req.url!, body);
        state.now--;
        res.setHeader("content-type", "text/plain");
        res.end(`${id} ${req.url}`);
      }, holdMs(req)),
    );
  });
  server.on("connection", (socket) => {
    state.connections++;
    state.open++;
    state.openPeak = Math.max(state.openPeak, state.open);
    socket.on("close", () => state.open--);
  });
  const port = await listen(server, 0, "127.0.0.1");
  return {
    id,
    port,
    state,
    backend: { id, port } as Backend,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

type Counting = Awaited<ReturnType<typeof countingBackend>>;

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function proxyOver(backends: Counting[], env: Record<string, string>): Promise<RunningProxy> {
  const running = await startProxy(
    backends.map((b) => b.backend),
    // No active checks in the way: these tests take servers out themselves.
    { HEALTH_INTER: "60s", HEALTH_TIMEOUT: "1s", ...env },
  );
  cleanup.push(() => running.stop());
  return running;
}

const admin = (running: RunningProxy, path: string, body?: unknown) =>
  fetch(`http://127.0.0.1:${running.adminPort}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function metric(running: RunningProxy, line: RegExp): Promise<number | undefined> {
  const text = await (await admin(running, "/metrics")).text();
  const match = new RegExp(`^${line.source} (\\S+)$`, "m").exec(text);
  return match ? Number(match[1]) : undefined;
}

describe("a server's maxconn (MAXCONN)", () => {
  it("never lets more than maxconn requests reach a server: 200 clients at once, MAXCONN=5", async () => {
    const app1 = await countingBackend("app1", () => 20);
    cleanup.push(() => app1.stop());
    const running = await proxyOver([app1], { MAXCONN: "5", TIMEOUT_QUEUE: "20s" });
    const replies = await Promise.all(
      clientAddresses(200).map((from, i) =>
        get(running.port, { from, path: `/r${i}`, timeoutMs: 20_000 }),
      ),
    );
    expect(replies.filter((r) => r.status === 200)).toHaveLength(200);
    expect(app1.state.order).toHaveLength(200);
    expect(app1.state.peak).toBe(5);
    // The proxy's own peaks say what the backend counted. Connections may
    // pass MAXCONN: a finished answer's connection rejoins the pool only after
    // its slot went to the next request, which opened one of its own (see
    // connection.ts finishExchange); the pool keeps them, not more.
    expect(await metric(running, /stickyring_server_requests_max\{backend="app1"\}/)).toBe(5);
    const connections = await metric(
      running,
      /stickyring_server_connections_max\{backend="app1"\}/,
    );
    expect(connections).toBe(app1.state.openPeak);
    expect(connections).toBeLessThanOrEqual(10);
  }, 30_000);

  it("answers queued requests in the order they arrived", async () => {
    // The first request holds the only slot until all the others are queued.
    const app1 = await countingBackend("app1", (req) => (req.url === "/0" ? 400 : 5));
    cleanup.push(() => app1.stop());
    const running = await proxyOver([app1], { MAXCONN: "1", TIMEOUT_QUEUE: "10s" });
    const clients = clientAddresses(12);
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < clients.length; i++) {
      pending.push(get(running.port, { from: clients[i], path: `/${i}` }));
      // Each arrives after the one before (connections are accepted in turn).
      await new Promise((r) => setTimeout(r, 15));
    }
    await Promise.all(pending);
    expect(app1.state.order).toEqual(clients.map((_, i) => `/${i}`));
    expect(app1.state.peak).toBe(1);
  });

  it("keeps the slot of a client that left while its server works, until the server answers (HAProxy without abortonclose)", async () => {
    // The server counts its own work: a request it is still working on is
    // in flight, whether or not the client that sent it is still there.
    const app1 = await countingBackend("app1", (req) => (req.url === "/left" ? 500 : 5));
    cleanup.push(() => app1.stop());
    const running = await proxyOver([app1], { MAXCONN: "1", TIMEOUT_QUEUE: "10s" });
    const leaving = connect(running.port, "127.0.0.1");
    leaving.on("error", () => {});
    leaving.write("GET /left HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => app1.state.order.length === 1);
    leaving.resetAndDestroy();
    const started = performance.now();
    const next = await get(running.port, { from: "127.0.9.2", path: "/next", timeoutMs: 5000 });
    expect(next.status).toBe(200);
    expect(app1.state.order).toEqual(["/left", "/next"]);
    expect(app1.state.peak).toBe(1);
    // It waited for the server's answer to the one that left (500 ms in all).
    expect(performance.now() - started).toBeGreaterThan(300);
  });

  it("frees the slot of a client that stops reading its answer, after TIMEOUT_CLIENT", async () => {
    const big = Buffer.alloc(20 * 1024 * 1024, 120);
    const server = createServer((req, res) => {
      if (req.url === "/big") return void res.end(big);
      res.end("small");
    });
    const port = await listen(server, 0, "127.0.0.1");
    cleanup.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    const running = await proxyOver([{ backend: { id: "app1", port } as Backend } as Counting], {
      MAXCONN: "1",
      TIMEOUT_QUEUE: "20s",
      TIMEOUT_CLIENT: "1s",
    });
    // The first client asks for a large answer and never reads it.
    const stuck = connect(running.port, "127.0.0.1");
    cleanup.push(async () => stuck.destroy());
    stuck.on("error", () => {});
    stuck.write("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    stuck.pause();
    await new Promise((r) => setTimeout(r, 300));
    const started = performance.now();
    const next = await get(running.port, { from: "127.0.9.1", path: "/small", timeoutMs: 15_000 });
    expect(next.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(8000);
  }, 20_000);

  it("counts an open WebSocket against its server's maxconn, as HAProxy counts a tunnel", async () => {
    const backend = await startBackend(1);
    cleanup.push(() => backend.kill());
    const running = await proxyOver([{ backend } as Counting], {
      MAXCONN: "1",
      TIMEOUT_QUEUE: "300ms",
    });
    const open = (from: string) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${running.port}/live`, { localAddress: from });
        ws.once("message", () => resolve(ws));
        ws.once("error", reject);
        ws.once("unexpected-response", (_req, res) =>
          reject(new Error(`status ${res.statusCode}`)),
        );
      });
    const [a, b, c] = clientAddresses(3);
    const first = await open(a!);
    cleanup.push(async () => first.terminate());
    // The tunnel holds the only slot: another upgrade and a request wait, then get 503.
    await expect(open(b!)).rejects.toThrow("status 503");
    const refused = await get(running.port, { from: c });
    expect(refused.status).toBe(503);
    expect(refused.body).toContain("is at its connection limit");
    // Once the tunnel closes, its slot is free again.
    first.close();
    await waitFor(async () => (await get(running.port, { from: c })).status === 200);
    const second = await open(b!);
    second.close();
  });

  it.each([
    ["off", "answers a queued request whose client shut its sending side (HTTP allows it)"],
    ["on", "drops a queued request whose client shut its sending side (HAProxy abortonclose)"],
  ])("with ABORT_ON_CLOSE=%s, %s", async (setting) => {
    const app1 = await countingBackend("app1", (req) => (req.url === "/hold" ? 600 : 1));
    cleanup.push(() => app1.stop());
    const running = await proxyOver([app1], { MAXCONN: "1", ABORT_ON_CLOSE: setting });
    const [from, other] = clientAddresses(2);
    const held = get(running.port, { from, path: "/hold" });
    await waitFor(() => app1.state.now === 1);
    const socket = connect({ port: running.port, host: "127.0.0.1", localAddress: other });
    let answer = "";
    socket.on("data", (d: Buffer) => (answer += d.toString("latin1")));
    const closed = new Promise((r) => socket.once("close", r));
    socket.on("error", () => {});
    socket.write("GET /queued HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => queuedCount(running) === 1);
    socket.end(); // FIN: nothing more will come from this client
    if (setting === "on") {
      // Out of the queue at once, long before the held request's answer.
      await waitFor(() => queuedCount(running) === 0, 300);
      await closed;
      expect(answer).toBe("");
    } else {
      await closed;
      expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*app1 \/queued$/);
    }
    expect((await held).status).toBe(200);
    expect(app1.state.order).toEqual(setting === "on" ? ["/hold"] : ["/hold", "/queued"]);
  });

  it("answers 503 with a clear body once a request waited TIMEOUT_QUEUE", async () => {
    const app1 = await countingBackend("app1", () => 1500);
    cleanup.push(() => app1.stop());
    const running = await proxyOver([app1], { MAXCONN: "1", TIMEOUT_QUEUE: "200ms" });
    const [from, other] = clientAddresses(2);
    const first = get(running.port, { from, path: "/slow" });
    await waitFor(() => app1.state.now === 1);
    const started = performance.now();
    const queued = await get(running.port, { from: other, path: "/queued" });
    const waited = performance.now() - started;
    expect(queued.status).toBe(503);
    expect(queued.body).toMatch(
      /app1 is at its connection limit and the request waited \d+ ms in its queue/,
    );
    expect(waited).toBeGreaterThanOrEqual(190);
    expect(waited).toBeLessThan(1200); // before the held request's answer
    expect((await first).status).toBe(200);
    // It never reached the server.
    expect(app1.state.order).toEqual(["/slow"]);
  });

  /**
   * app1 and app2 behind MAXCONN=1, app1's slot held by a request to
   * /hold for `holdMs`; `onApp1`: client addresses the placement sends to app1.
   */
  async function app1Held(holdMs: number, env: Record<string, string> = {}) {
    const app1 = await countingBackend("app1", (req) => (req.url === "/hold" ? holdMs : 5));
    const app2 = await countingBackend("app2", () => 5);
    cleanup.push(
      () => app1.stop(),
      () => app2.stop(),
    );
    const running = await proxyOver([app1, app2], {
      MAXCONN: "1",
      TIMEOUT_QUEUE: "10s",
      ...env,
    });
    const ring = running.proxy.placement().ring;
    const clients = clientAddresses(200);
    const onApp1 = clients.filter((a) => ring.pick(sourceKey(a)) === "app1");
    const onApp2 = clients.filter((a) => ring.pick(sourceKey(a)) === "app2");
    const hold = get(running.port, { from: onApp1[0], path: "/hold" });
    await waitFor(() => app1.state.now === 1);
    return { app1, app2, running, onApp1, onApp2, hold };
  }

  it("moves queued requests, a POST with its body too, to the next server when theirs leaves", async () => {
    const { app2, running, onApp1, hold } = await app1Held(1500);
    const queuedGet = get(running.port, { from: onApp1[1], path: "/get" });
    const queuedPost = get(running.port, {
      from: onApp1[2],
      path: "/post",
      method: "POST",
      headers: { "content-length": "2" },
      body: "hi",
    });
    await waitFor(() => running.proxy.membership.list().length === 2 && queuedCount(running) === 2);
    expect((await admin(running, "/api/servers/app1/disable", {})).status).toBe(200);
    // None of either was sent, and the POST's body is still the client's (HAProxy's redispatch).
    const [movedGet, movedPost] = await Promise.all([queuedGet, queuedPost]);
    expect(movedGet).toMatchObject({ status: 200, backend: "app2" });
    expect(movedPost).toMatchObject({ status: 200, backend: "app2" });
    expect(app2.state.order.slice().sort()).toEqual(["/get", "/post"]);
    expect(app2.state.bodies.get("/post")).toBe("hi");
    expect((await hold).status).toBe(200); // the one in flight finishes where it was
  });

  it("moves a drained server's queued requests where their clients go now, but those its cookie sent", async () => {
    const { app1, running, onApp1, onApp2, hold } = await app1Held(1000, { COOKIE: "SRV" });
    const queued = get(running.port, { from: onApp1[1], path: "/queued" });
    // From another address the placement sends elsewhere, but its cookie names app1.
    const pinned = get(running.port, {
      from: onApp2[0],
      path: "/pinned",
      headers: { cookie: "SRV=app1" },
    });
    await waitFor(() => queuedCount(running) === 2);
    const started = performance.now();
    expect((await admin(running, "/api/servers/app1/drain", {})).status).toBe(200);
    expect(await queued).toMatchObject({ status: 200, backend: "app2" });
    expect(performance.now() - started).toBeLessThan(500); // moved, not left to wait
    // The cookie's request waits for app1, which a drained server still serves.
    expect(await pinned).toMatchObject({ status: 200, backend: "app1" });
    expect((await hold).status).toBe(200);
    expect(app1.state.order).toEqual(["/hold", "/pinned"]);
  });

  it("counts queued requests in the admin API and the metrics, and changes maxconn at run time", async () => {
    // The first holds its slot while the others queue, and still when the limit goes up.
    const app1 = await countingBackend("app1", (req) => (req.url === "/hold" ? 3000 : 1000));
    cleanup.push(() => app1.stop());
    const running = await proxyOver([app1], { MAXCONN: "1", TIMEOUT_QUEUE: "10s" });
    const clients = clientAddresses(4);
    const all = clients.map((from, i) =>
      get(running.port, { from, path: i === 0 ? "/hold" : `/${i}` }),
    );
    await waitFor(() => queuedCount(running) === 3);
    const view = (await (await admin(running, "/api/servers")).json()) as {
      servers: { id: string; queued: number; maxconn: number; inFlight: number }[];
    };
    expect(view.servers[0]).toMatchObject({ id: "app1", queued: 3, maxconn: 1, inFlight: 4 });
    expect(
      await metric(running, /stickyring_server_requests\{backend="app1",state="queued"\}/),
    ).toBe(3);
    expect(await metric(running, /stickyring_server_maxconn\{backend="app1"\}/)).toBe(1);

    // A dry run changes nothing; the change itself lets the queue through.
    const dry = await admin(running, "/api/servers/app1/maxconn?dryRun=true", { maxconn: 10 });
    expect(dry.status).toBe(200);
    expect(await dry.json()).toMatchObject({ dryRun: true, moved: 0 });
    expect(queuedCount(running)).toBe(3);
    const bad = await admin(running, "/api/servers/app1/maxconn", { maxconn: -1 });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      error: expect.stringMatching(/^maxconn: expected an integer/),
    });
    const set = await admin(running, "/api/servers/app1/maxconn", { maxconn: 10 });
    expect(set.status).toBe(200);
    await waitFor(() => app1.state.now === 4);
    expect(queuedCount(running)).toBe(0);
    for (const reply of await Promise.all(all)) expect(reply.status).toBe(200);
  }, 15_000);
});

/** Requests waiting in every server's queue. */
function queuedCount(running: RunningProxy): number {
  return running.proxy.membership.list().reduce((n, m) => n + running.proxy.queued(m.id), 0);
}

describe("the client connection limit (CLIENT_MAXCONN)", () => {
  /** A raw keep-alive connection; resolves with the first answer's head line. */
  const open = (port: number) =>
    new Promise<Socket>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(socket));
      socket.once("error", reject);
    });
  const ask = (socket: Socket, path: string) =>
    new Promise<string>((resolve) => {
      socket.once("data", (data) => resolve(data.toString("latin1").split("\r\n")[0]!));
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    });

  it("under more connections than descriptors, keeps its servers up and serves once they close", async () => {
    // A flood past `ulimit -n`: no check may fail for the proxy's own lack of
    // descriptors (one that did would take every server down, and the
    // clients after the flood would get 503s until the checks brought them
    // back: HEALTH_RISE=100 makes that 10 s).
    const app1 = await countingBackend("app1", () => 1);
    cleanup.push(() => app1.stop());
    const port = await freePort();
    const child = await spawnProxy(
      {
        PORT: String(port),
        ADMIN_PORT: String(await freePort()),
        HOST: "127.0.0.1",
        LOG_LEVEL: "info",
        BACKENDS: `app1=http://127.0.0.1:${app1.port}`,
        HEALTH_INTER: "100ms",
        HEALTH_RISE: "100",
        HEALTH_FALL: "2",
      },
      "pipe",
      ["prlimit", "--nofile=300:300"],
    );
    cleanup.push(async () => void child.kill("SIGKILL"));
    let log = "";
    child.stdout!.on("data", (d: Buffer) => (log += d));
    const flood: Socket[] = [];
    for (let i = 0; i < 400; i++) {
      const socket = connect(port, "127.0.0.1");
      socket.on("error", () => {});
      flood.push(socket);
    }
    // Ten health-check rounds with the process near its limit.
    await new Promise((r) => setTimeout(r, 1000));
    expect(readdirSync(`/proc/${child.pid}/fd`).length).toBeGreaterThanOrEqual(250);
    for (const socket of flood) socket.destroy();
    expect(log).not.toMatch(/app1 is down/);
    // A connection made while none was free may have been dropped (libuv
    // accepts and closes them then): the client asks again, as one would.
    let status = 0;
    await waitFor(async () => {
      status = await get(port, { timeoutMs: 1000 }).then(
        (reply) => reply.status,
        () => 0,
      );
      return status !== 0;
    }, 5000);
    expect(status).toBe(200);
    expect(log).not.toMatch(/app1 is down/);
  }, 20_000);

  /** A proxy with CLIENT_MAXCONN=2, both places taken by connections answered once (/a, /b). */
  const full = async () => {
    const app1 = await countingBackend("app1", () => 1);
    cleanup.push(() => app1.stop());
    const running = await proxyOver([app1], { CLIENT_MAXCONN: "2" });
    const a = await open(running.port);
    const b = await open(running.port);
    cleanup.push(async () => [a, b].forEach((s) => s.destroy()));
    expect(await ask(a, "/a")).toBe("HTTP/1.1 200 OK");
    expect(await ask(b, "/b")).toBe("HTTP/1.1 200 OK");
    return { app1, running, a };
  };

  it("serves at most the limit at once; the next connection waits unread and is served when one closes", async () => {
    const { app1, running, a } = await full();
    const c = await open(running.port);
    cleanup.push(async () => c.destroy());
    const answer = ask(c, "/c");
    const early = await Promise.race([
      answer,
      new Promise((r) => setTimeout(() => r("none"), 400)),
    ]);
    expect(early).toBe("none");
    expect(app1.state.order).toEqual(["/a", "/b"]);
    expect(await metric(running, /stickyring_client_connections\{state="waiting"\}/)).toBe(1);
    expect(await metric(running, /stickyring_client_connections\{state="open"\}/)).toBe(2);
    expect(await metric(running, /stickyring_client_connections_limit/)).toBe(2);

    a.destroy();
    expect(await answer).toBe("HTTP/1.1 200 OK");
    expect(app1.state.order).toEqual(["/a", "/b", "/c"]);
  });

  it("frees at once the place of a waiting connection its client closed, and serves the next", async () => {
    const { app1, running, a } = await full();
    const gone = await open(running.port);
    const c = await open(running.port);
    cleanup.push(async () => [gone, c].forEach((s) => s.destroy()));
    const waiting = () => metric(running, /stickyring_client_connections\{state="waiting"\}/);
    await waitFor(async () => (await waiting()) === 2);
    // `gone` gives up with nothing sent: its FIN reaches the proxy while it waits unread.
    gone.end();
    await waitFor(async () => (await waiting()) === 1);
    // a leaves: c is next, not gone's dead connection (served, it held the place until the client timeout).
    const answer = ask(c, "/c");
    a.destroy();
    expect(
      await Promise.race([answer, new Promise((r) => setTimeout(() => r("none"), 2000))]),
    ).toBe("HTTP/1.1 200 OK");
    expect(app1.state.order).toEqual(["/a", "/b", "/c"]);
  });

  it("closes new connections at once when as many wait as are served", async () => {
    const app1 = await countingBackend("app1", () => 1);
    cleanup.push(() => app1.stop());
    const running = await proxyOver([app1], { CLIENT_MAXCONN: "1" });
    const served = await open(running.port);
    const waiting = await open(running.port);
    cleanup.push(async () => [served, waiting].forEach((s) => s.destroy()));
    await waitFor(
      async () => (await metric(running, /stickyring_client_connections\{state="waiting"\}/)) === 1,
    );
    const refused = await open(running.port);
    await new Promise((resolve) => refused.once("close", resolve));
    expect(await metric(running, /stickyring_client_connections_refused/)).toBe(1);
  });
});

describe("connections per client address (CLIENT_ADDRESS_MAXCONN)", () => {
  /** A keep-alive connection from `from` (a loopback address), after `preamble` if given. */
  const open = (port: number, from: string, preamble = "") =>
    new Promise<Socket>((resolve, reject) => {
      const socket = connect({ port, host: "127.0.0.1", localAddress: from }, () => {
        if (preamble !== "") socket.write(preamble);
        resolve(socket);
      });
      socket.once("error", reject);
    });
  /** The first answer's status line, or "closed" when the proxy closes the connection without one. */
  const ask = (socket: Socket, path: string) =>
    new Promise<string>((resolve) => {
      socket.once("data", (data) => resolve(data.toString("latin1").split("\r\n")[0]!));
      socket.once("close", () => resolve("closed"));
      socket.on("error", () => undefined);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    });
  const proxyHeader = (client: string) => `PROXY TCP4 ${client} 127.0.0.1 40000 80\r\n`;

  it("closes at once a connection past the cap from one address; other addresses and freed places are served", async () => {
    const app1 = await countingBackend("app1", () => 1);
    cleanup.push(() => app1.stop());
    const running = await proxyOver([app1], { CLIENT_ADDRESS_MAXCONN: "2" });
    const a = await open(running.port, "127.0.0.2");
    const b = await open(running.port, "127.0.0.2");
    cleanup.push(async () => [a, b].forEach((s) => s.destroy()));
    expect(await ask(a, "/a")).toBe("HTTP/1.1 200 OK");
    expect(await ask(b, "/b")).toBe("HTTP/1.1 200 OK");

    const third = await open(running.port, "127.0.0.2");
    expect(await ask(third, "/c")).toBe("closed");
    const other = await open(running.port, "127.0.0.3");
    cleanup.push(async () => other.destroy());
    expect(await ask(other, "/d")).toBe("HTTP/1.1 200 OK");
    expect(await metric(running, /stickyring_client_connections_refused_per_address/)).toBe(1);

    a.destroy();
    await waitFor(
      async () => (await metric(running, /stickyring_client_connections\{state="open"\}/)) === 2,
    );
    const again = await open(running.port, "127.0.0.2");
    cleanup.push(async () => again.destroy());
    expect(await ask(again, "/e")).toBe("HTTP/1.1 200 OK");
    expect(app1.state.order).toEqual(["/a", "/b", "/d", "/e"]);
  });

  it("with ACCEPT_PROXY, counts the address the PROXY header names, not the balancer's", async () => {
    const app1 = await countingBackend("app1", () => 1);
    cleanup.push(() => app1.stop());
    const running = await proxyOver([app1], {
      CLIENT_ADDRESS_MAXCONN: "1",
      ACCEPT_PROXY: "on",
    });
    // Every connection comes from the one balancer (127.0.0.4).
    const first = await open(running.port, "127.0.0.4", proxyHeader("203.0.113.7"));
    cleanup.push(async () => first.destroy());
    expect(await ask(first, "/a")).toBe("HTTP/1.1 200 OK");
    const same = await open(running.port, "127.0.0.4", proxyHeader("203.0.113.7"));
    expect(await ask(same, "/b")).toBe("closed");
    const other = await open(running.port, "127.0.0.4", proxyHeader("203.0.113.8"));
    cleanup.push(async () => other.destroy());
    expect(await ask(other, "/c")).toBe("HTTP/1.1 200 OK");
    expect(app1.state.order).toEqual(["/a", "/c"]);
  });

  it("is off by default, and refused by name when it is not a count", () => {
    expect(loadConfig({}).clientAddressMaxconn).toBe(0);
    expect(() => loadConfig({ CLIENT_ADDRESS_MAXCONN: "-1" })).toThrow(
      /CLIENT_ADDRESS_MAXCONN="-1": expected an integer from 0 to 1000000/,
    );
  });
});

describe("idle connections to a server (MAX_IDLE_PER_SERVER)", () => {
  it("keeps a burst's connections for the next burst, then at most that many", async () => {
    const app1 = await countingBackend("app1", () => 30);
    cleanup.push(() => app1.stop());
    const running = await proxyOver([app1], { MAX_IDLE_PER_SERVER: "3" });
    const burst = async () => {
      const replies = await Promise.all(
        clientAddresses(40).map((from) => get(running.port, { from })),
      );
      expect(replies.every((r) => r.status === 200)).toBe(true);
    };
    await burst();
    const opened = app1.state.connections;
    expect(opened).toBeGreaterThan(3); // the burst needed more
    // A second burst right after finds them idle: few or no new connections.
    await burst();
    expect(app1.state.connections - opened).toBeLessThan(opened / 2);
    // Unused for a second, those beyond the bound close.
    const quiet = performance.now();
    await waitFor(() => app1.state.open === 3, 5000);
    expect(performance.now() - quiet).toBeGreaterThanOrEqual(900);
    expect(
      await metric(running, /stickyring_server_connections\{backend="app1",state="idle"\}/),
    ).toBe(3);
    // The next request reuses one of them.
    const before = app1.state.connections;
    expect((await get(running.port, { from: "127.9.9.9" })).status).toBe(200);
    expect(app1.state.connections).toBe(before);
  });
});

describe("limit settings", () => {
  const load = (env: Record<string, string>) => () =>
    loadConfig({ BACKENDS: "app1=http://127.0.0.1:1,web=dns://web:80", ...env });

  it("reads MAXCONN as a default and overrides by server or DNS group", () => {
    const config = load({ MAXCONN: "100,app1=5,web=20" })();
    expect(config.maxconn).toEqual({
      fallback: 100,
      byName: new Map([
        ["app1", 5],
        ["web", 20],
      ]),
    });
    expect(load({})().maxconn.fallback).toBe(0);
  });

  it.each([
    ["MAXCONN", "lots", /^MAXCONN="lots": expected a number of requests in flight per server/],
    ["MAXCONN", "app9=3", /^MAXCONN: "app9" is not a backend or DNS group in BACKENDS/],
    ["MAXCONN", "5,6", /^MAXCONN="5,6": the default is given twice/],
    ["MAXCONN", "app1=2,app1=3", /^MAXCONN="app1=2,app1=3": "app1" is given twice/],
    ["TIMEOUT_QUEUE", "soon", /^TIMEOUT_QUEUE="soon": expected a duration/],
    [
      "CLIENT_MAXCONN",
      "0",
      /^CLIENT_MAXCONN="0": expected a number of client connections from 1 up/,
    ],
    [
      "CLIENT_MAXCONN",
      "9999999",
      /^CLIENT_MAXCONN="9999999": more client connections than the open-files limit allows \(\d+ per process/,
    ],
    [
      "CLIENT_MAXCONN",
      "100000000",
      /^CLIENT_MAXCONN="100000000": more client connections than the open-files limit allows .* at most \d+ here/,
    ],
    ["MAX_IDLE_PER_SERVER", "-1", /^MAX_IDLE_PER_SERVER="-1": expected an integer/],
  ])("refuses %s=%s naming the setting", (name, value, message) => {
    let error: unknown;
    try {
      load({ [name]: value })();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([expect.stringMatching(message)]);
  });

  it("waits TIMEOUT_CONNECT in a queue unless TIMEOUT_QUEUE says otherwise", () => {
    expect(load({ TIMEOUT_CONNECT: "3s" })().timeouts.queueMs).toBe(3000);
    expect(load({ TIMEOUT_CONNECT: "3s", TIMEOUT_QUEUE: "250ms" })().timeouts.queueMs).toBe(250);
  });

  it("derives the client connection limit from the open-files limit", () => {
    const config = load({})();
    expect(config.clientMaxconn).toBeGreaterThanOrEqual(64);
    expect(load({ CLIENT_MAXCONN: "500" })().clientMaxconn).toBe(500);
  });
});

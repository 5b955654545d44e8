import { createServer, type Server } from "node:http";
import { connect, createServer as createNetServer, type AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "@jest/globals";
import type { LookupFunction } from "node:net";
import { sourceKey } from "@stickyring/hashing";
import { startHealthChecks } from "../src/control-plane/health.js";
import { describeFailure, failureStatus } from "../src/data-plane/errors.js";
import { Membership } from "../src/control-plane/membership.js";
import {
  ENGINE,
  clientAddresses,
  get,
  startBackend,
  startProxy,
  waitFor,
  type Backend,
  type RunningProxy,
} from "./harness.js";

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function rawServer(
  handler: Parameters<typeof createServer>[1],
): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanup.push(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return { server, port: (server.address() as AddressInfo).port };
}

async function proxyFor(
  backends: Pick<Backend, "id" | "port">[],
  env: Record<string, string> = {},
): Promise<RunningProxy> {
  const running = await startProxy(backends as Backend[], env);
  cleanup.push(() => running.stop());
  return running;
}

describe("upstream failures get a clear status and body, never a hang", () => {
  it("answers 503 at once when every server is down, and recovers by itself", async () => {
    const backend = await startBackend(1);
    cleanup.push(() => backend.kill().catch(() => undefined));
    const running = await proxyFor([backend]);
    await backend.kill();
    await get(running.port); // ejects it
    const started = performance.now();
    const reply = await get(running.port);
    // At once: no connect is tried (TIMEOUT_CONNECT is 5 s); 50 ms was too tight for a loaded CI machine.
    expect(performance.now() - started).toBeLessThan(1000);
    expect(reply.status).toBe(503);
    expect(reply.body).toBe("503 Service Unavailable: no server is up (1 down)\n");
    await backend.restore();
    await waitFor(async () => (await get(running.port)).status === 200, 5000);
  });

  it("takes no healthy server down when a busy event loop runs its connect timers late", async () => {
    const backend = await startBackend(1);
    cleanup.push(() => backend.kill().catch(() => undefined));
    // 150 new connections at once: past the 64 opened at a time, requests
    // wait for the pool; both waits are timed by TIMEOUT_CONNECT.
    const running = await proxyFor([backend], { TIMEOUT_CONNECT: "100ms", HEALTH_INTER: "60s" });
    const clients = clientAddresses(150);
    // The loop blocked 200 ms, then free for 20, over and over, each block
    // after a poll (setImmediate): connects end meanwhile, and their events
    // come in the next poll, after the timers that have passed run.
    let busy: NodeJS.Timeout | undefined;
    const block = () => {
      const until = performance.now() + 200;
      while (performance.now() < until);
      busy = setTimeout(() => setImmediate(block), 20);
    };
    busy = setTimeout(() => setImmediate(block), 5);
    try {
      const replies = await Promise.all(clients.map((from) => get(running.port, { from })));
      const statuses = new Map<number, number>();
      for (const r of replies) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      expect([...statuses]).toEqual([[200, 150]]);
    } finally {
      clearTimeout(busy);
    }
  });

  it("answers 504 when a server accepts and never answers", async () => {
    const silent = await rawServer(() => undefined);
    const running = await proxyFor([{ id: "app1", port: silent.port }], {
      TIMEOUT_SERVER: "300ms",
    });
    const started = performance.now();
    const reply = await get(running.port, { path: "/slow" });
    expect(reply.status).toBe(504);
    expect(reply.backend).toBe("app1");
    expect(reply.body).toMatch(/app1 did not answer in time/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("breaks the client's response promptly when a server closes mid-body", async () => {
    const broken = await rawServer((_req, res) => {
      res.writeHead(200, { "content-length": "1000" });
      res.write("partial");
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const running = await proxyFor([{ id: "app1", port: broken.port }]);
    const started = performance.now();
    await expect(get(running.port)).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("relays the body a server sent before a trailer it cannot take, then cuts the answer", async () => {
    // A raw server: its head, then (in a read of its own) a chunk and a trailer llhttp refuses.
    const server = createNetServer((socket) => {
      socket.on("error", () => {});
      socket.once("data", () => {
        socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        setTimeout(() => socket.write("5\r\nhello\r\n0\r\nContent-Length: 99\r\n\r\n"), 100);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    const running = await proxyFor([{ id: "app1", port: (server.address() as AddressInfo).port }], {
      HEALTH_INTER: "60s",
    });
    const raw = await new Promise<string>((resolve) => {
      let got = "";
      const client = connect(running.port, "127.0.0.1", () =>
        client.write("GET /t HTTP/1.1\r\nHost: x\r\n\r\n"),
      );
      client.setEncoding("latin1");
      client.on("data", (d: string) => (got += d));
      client.on("error", () => {});
      client.on("close", () => resolve(got));
    });
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
    // node:http's client (the express engine's) drops a read's body pieces
    // with the parse error: that engine cuts the answer without them.
    if (ENGINE === "fast") expect(raw).toContain("5\r\nhello\r\n");
    // Cut: no last chunk, so the client cannot take the answer for whole.
    expect(raw).not.toContain("0\r\n\r\n");
  });

  it("answers 502 with the server's name when a POST cannot be delivered", async () => {
    const backend = await startBackend(1);
    const running = await proxyFor([backend]);
    await backend.kill();
    const reply = await get(running.port, {
      method: "POST",
      path: "/upload",
      headers: { "content-length": "0" },
    });
    // A bodyless POST that never connected is safe to retry, but there is no other server.
    expect([502, 503]).toContain(reply.status);
    expect(reply.body).toMatch(/^50[23] /);
  });

  it("sends a POST with its body to the next server when the chosen one refuses the connection", async () => {
    // Nothing reached the refusing server and none of the body was read:
    // HAProxy's `option redispatch` sends it on whole too.
    const echo = await rawServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk));
      req.on("end", () => res.end(`${req.method} ${body}`));
    });
    const dead = await startBackend(1);
    const running = await proxyFor([dead, { id: "app2", port: echo.port }], {
      HEALTH_INTER: "60s",
      HEALTH_TIMEOUT: "1s",
    });
    await dead.kill();
    const ring = running.proxy.placement().ring;
    const from = clientAddresses(100).find((a) => ring.pick(sourceKey(a)) === "app1")!;
    const body = "x".repeat(10_000);
    const reply = await get(running.port, {
      from,
      method: "POST",
      path: "/upload",
      headers: { "content-length": String(body.length) },
      body,
    });
    expect(reply).toMatchObject({ status: 200, backend: "app2", body: `POST ${body}` });
  });

  it("answers 503 naming the proxy, not the server, when the proxy itself had no descriptor left", () => {
    expect(failureStatus("EMFILE")).toBe(503);
    expect(describeFailure("app1", "EMFILE")).toBe(
      "Service Unavailable: the proxy is out of connections (file descriptors or ports) to reach app1",
    );
    expect(failureStatus("ECONNREFUSED")).toBe(502);
  });

  it("takes no server down for a health check the proxy itself could not make (EMFILE)", async () => {
    const changes: string[] = [];
    const membership = new Membership(
      [{ id: "app1", url: new URL("http://app1.test:5000"), weight: 1 }],
      { rise: 1, fall: 1, onChange: (reason) => changes.push(reason) },
    );
    // The check's connection fails as the proxy's own open fails with no descriptor left.
    let code = "EMFILE";
    const lookup = ((_host: string, _options: unknown, callback: (error: Error) => void) =>
      callback(Object.assign(new Error(code), { code }))) as unknown as LookupFunction;
    const stop = startHealthChecks(
      membership,
      { path: "/healthz", interMs: 20, timeoutMs: 500 },
      lookup,
    );
    cleanup.push(async () => stop());
    await new Promise((r) => setTimeout(r, 200));
    expect(changes).toEqual([]);
    expect(membership.list()[0]!.up).toBe(true);
    // The same checks failing for the server's sake take it down at once (fall 1).
    code = "ENOTFOUND";
    await waitFor(() => changes.length > 0);
    expect(changes).toEqual(["app1 is down (ENOTFOUND)"]);
  });

  it.each([
    [
      "shutdown-sessions",
      "cuts the requests a server marked down holds: a GET goes to the next server, a POST gets 502",
    ],
    [
      "none",
      "lets the requests a server marked down holds run to the server timeout (the default, as HAProxy's)",
    ],
  ])("with ON_MARKED_DOWN=%s, %s", async (setting) => {
    // A server that freezes: its checks and its requests get no answer.
    let frozen = false;
    const app1 = await rawServer((req, res) => {
      if (!frozen) res.end(req.url === "/healthz" ? "ok" : "app1");
    });
    const app2 = await rawServer((req, res) => {
      req.resume();
      req.on("end", () => res.end(`app2 ${req.method}`));
    });
    const running = await proxyFor(
      [
        { id: "app1", port: app1.port },
        { id: "app2", port: app2.port },
      ],
      {
        HEALTH_INTER: "150ms",
        HEALTH_TIMEOUT: "100ms",
        HEALTH_FALL: "2",
        TIMEOUT_SERVER: "2500ms",
        ON_MARKED_DOWN: setting,
      },
    );
    const ring = running.proxy.placement().ring;
    const [get1, post1] = clientAddresses(200).filter((a) => ring.pick(sourceKey(a)) === "app1");
    frozen = true;
    const started = performance.now();
    const [held, posted] = await Promise.all([
      get(running.port, { from: get1, path: "/held" }),
      get(running.port, {
        from: post1,
        method: "POST",
        path: "/order",
        headers: { "content-length": "2" },
        body: "{}",
      }),
    ]);
    const took = performance.now() - started;
    if (setting === "shutdown-sessions") {
      // Down after two failed checks (~0.5 s), long before the server timeout.
      expect(held).toMatchObject({ status: 200, backend: "app2", body: "app2 GET" });
      // It reached app1, which may have acted on it: never sent twice.
      expect(posted.status).toBe(502);
      expect(posted.body).toBe("502 Bad Gateway: app1 was marked down while it held the request\n");
      expect(took).toBeLessThan(2000);
    } else {
      expect(held.status).toBe(504);
      expect(posted.status).toBe(504);
      expect(took).toBeGreaterThanOrEqual(2400);
    }
    expect(running.proxy.placement().ring.pick(sourceKey(get1!))).toBe("app2");
  });

  it("retries a GET on the next server when the chosen one refuses, and counts the retry", async () => {
    const [a, b] = await Promise.all([startBackend(1), startBackend(2)]);
    cleanup.push(() => b.kill());
    const running = await proxyFor([a, b], { HEALTH_INTER: "60s", HEALTH_TIMEOUT: "1s" });
    await a.kill();
    const reply = await get(running.port, { from: "127.0.0.9" });
    expect(reply.status).toBe(200);
    expect(reply.backend).toBe("app2");
    const metrics = await (await fetch(`http://127.0.0.1:${running.adminPort}/metrics`)).text();
    expect(metrics).toMatch(/stickyring_server_up\{server="app1"\} 0/);
  });
});

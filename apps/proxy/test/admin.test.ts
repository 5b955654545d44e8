import { createServer } from "node:http";
import { connect } from "node:net";
import { describe, expect, it } from "@jest/globals";
import { createHashRing } from "@stickyring/hashing";
import { freePort, listen } from "@stickyring/runtime";
import {
  adminCall,
  clientAddresses,
  get,
  mapLimit,
  spawnProxy,
  useTopology,
  waitFor,
} from "./harness.js";

/** GET /healthz on a connection of its own. */
const healthz = (adminPort: number) => get(adminPort, { path: "/healthz", timeoutMs: 2000 });

const TOKEN = "s3cret-token-for-tests";
const topology = useTopology({ backends: 4, proxied: 3, env: { ADMIN_TOKEN: TOKEN } });
const admin = () => `http://127.0.0.1:${topology.running.adminPort}`;

// Admin answers are JSON of known shape; tests read them loosely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const call = (path: string, init: RequestInit = {}) =>
  adminCall(topology.running.adminPort, TOKEN, path, init);

const clients = clientAddresses(300);
const ringWith6 = createHashRing({
  servers: ["app1", "app2", "app3", "app6"].map((id) => ({ id })),
});
const owners = async () =>
  (await mapLimit(clients, 32, (from) => get(topology.running.port, { from }))).map(
    (r) => r.backend,
  );

describe("admin API", () => {
  it("refuses requests without the bearer token", async () => {
    expect((await fetch(`${admin()}/api/servers`)).status).toBe(401);
    expect(
      (await fetch(`${admin()}/api/servers`, { headers: { authorization: "Bearer wrong" } }))
        .status,
    ).toBe(401);
    expect((await fetch(`${admin()}/metrics`)).status).toBe(401);
  });

  it("lists servers with state, weight, health, share and requests", async () => {
    await get(topology.running.port);
    const body = (await (await call("/api/servers")).json()) as Json;
    expect(body.servers.map((s: { id: string }) => s.id)).toEqual(["app1", "app2", "app3"]);
    const total = body.servers.reduce((sum: number, s: { share: number }) => sum + s.share, 0);
    expect(total).toBeCloseTo(1, 6);
    expect(body.servers[0]).toMatchObject({ state: "ready", health: "up", weight: 1 });
    expect(
      body.servers.reduce((n: number, s: { requests: number }) => n + s.requests, 0),
    ).toBeGreaterThan(0);
  });

  it("drains a server at once: only its clients move, and enable brings them back", async () => {
    const before = await owners();
    expect((await call("/api/servers/app2/drain", { method: "POST" })).status).toBe(200);
    const drained = await owners();
    clients.forEach((_, i) => {
      if (before[i] === "app2") expect(drained[i]).not.toBe("app2");
      else expect(drained[i]).toBe(before[i]);
    });
    await call("/api/servers/app2/enable", { method: "POST" });
    expect(await owners()).toEqual(before);
  });

  it("disables a server (maintenance) and takes it out of the placement", async () => {
    await call("/api/servers/app3/disable", { method: "POST" });
    expect(new Set(await owners()).has("app3")).toBe(false);
    const listed = (await (await call("/api/servers")).json()) as Json;
    expect(listed.servers.find((s: { id: string }) => s.id === "app3")).toMatchObject({
      state: "maint",
      inPlacement: false,
    });
    // Its series stay, at 0, so dashboards and alerts still see it.
    const metrics = await (await call("/metrics")).text();
    for (const series of [
      'stickyring_server_requests{backend="app3",state="in_flight"} 0',
      'stickyring_server_requests{backend="app3",state="queued"} 0',
      'stickyring_server_maxconn{backend="app3"} 0',
    ])
      expect(metrics.split("\n")).toContain(series);
    await call("/api/servers/app3/enable", { method: "POST" });
  });

  it("adds a server: keys move only onto it; removes it: they come back", async () => {
    const before = await owners();
    const added = await call("/api/servers", {
      method: "POST",
      body: JSON.stringify({ id: "app4", url: `http://127.0.0.1:${topology.backends[3]!.port}` }),
    });
    expect(added.status).toBe(201);
    const after = await owners();
    clients.forEach((_, i) => {
      if (after[i] !== before[i]) expect(after[i]).toBe("app4");
    });
    expect(after.filter((o) => o === "app4").length).toBeGreaterThan(0);
    const expected = createHashRing({
      servers: ["app1", "app2", "app3", "app4"].map((id) => ({ id })),
    });
    clients.forEach((c, i) => expect(after[i]).toBe(expected.pick(c)));
    expect((await call("/api/servers/app4", { method: "DELETE" })).status).toBe(200);
    expect(await owners()).toEqual(before);
  });

  it("says why no server takes clients: drained, at weight 0, in maintenance", async () => {
    const post = (path: string, body?: object) =>
      call(path, { method: "POST", body: body && JSON.stringify(body) });
    await post("/api/servers/app1/drain");
    await post("/api/servers/app2/drain");
    await post("/api/servers/app3/weight", { weight: 0 });
    const drained = await get(topology.running.port);
    expect([drained.status, drained.body]).toEqual([
      503,
      "503 Service Unavailable: no server takes new clients (2 draining, 1 at weight 0)\n",
    ]);
    for (const id of ["app1", "app2", "app3"]) await post(`/api/servers/${id}/disable`);
    const out = await get(topology.running.port);
    expect(out.body).toBe("503 Service Unavailable: no server is up (3 in maintenance)\n");
    for (const id of ["app1", "app2", "app3"]) await post(`/api/servers/${id}/enable`);
    await post("/api/servers/app3/weight", { weight: 1 });
    expect((await get(topology.running.port)).status).toBe(200);
  });

  it("sets a weight: the share follows", async () => {
    await call("/api/servers/app1/weight", { method: "POST", body: JSON.stringify({ weight: 4 }) });
    const body = (await (await call("/api/servers")).json()) as Json;
    const share = body.servers.find((s: { id: string }) => s.id === "app1").share;
    expect(share).toBeGreaterThan(0.6); // 4 / 6
    await call("/api/servers/app1/weight", { method: "POST", body: JSON.stringify({ weight: 1 }) });
  });

  it("answers malformed requests with 400 and a message, unknown servers with 404", async () => {
    const badJson = await call("/api/servers", { method: "POST", body: "{not json" });
    expect(badJson.status).toBe(400);
    const badWeight = await call("/api/servers/app1/weight", {
      method: "POST",
      body: JSON.stringify({ weight: 999 }),
    });
    expect(badWeight.status).toBe(400);
    expect(((await badWeight.json()) as Json).error).toMatch(
      /weight: expected an integer from 0 to 256/,
    );
    const badUrl = await call("/api/servers", {
      method: "POST",
      body: JSON.stringify({ id: "x", url: "ftp://h" }),
    });
    expect(((await badUrl.json()) as Json).error).toMatch(/only http/);
    const duplicate = await call("/api/servers", {
      method: "POST",
      body: JSON.stringify({ id: "app1", url: "http://127.0.0.1:1" }),
    });
    expect(duplicate.status).toBe(409);
    expect((await call("/api/servers/nope/drain", { method: "POST" })).status).toBe(404);
    expect((await call("/api/servers/app1/explode", { method: "POST" })).status).toBe(400);
    // A field it does not know is refused by name, not ignored; nothing changes.
    const versionBefore = ((await (await call("/api/servers")).json()) as Json).placementVersion;
    const unknown = await call("/api/servers/app1/weight", {
      method: "POST",
      body: JSON.stringify({ weight: 2, wieght: 3 }),
    });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as Json).error).toMatch(/wieght/);
    const listed = (await (await call("/api/servers")).json()) as Json;
    expect(listed.placementVersion).toBe(versionBefore);
    expect(listed.servers.find((s: { id: string }) => s.id === "app1").weight).toBe(1);
    const drain = await call("/api/servers/app1/drain", {
      method: "POST",
      body: JSON.stringify({ x: 1 }),
    });
    expect(drain.status).toBe(400);
    expect(((await drain.json()) as Json).error).toMatch(/"x"/);
    expect(((await (await call("/api/servers")).json()) as Json).placementVersion).toBe(
      versionBefore,
    );
  });

  it("answers an endpoint asked with the wrong method 405 naming the methods it takes", async () => {
    const versionBefore = ((await (await call("/api/servers")).json()) as Json).placementVersion;
    const cases: [string, string, string][] = [
      ["/api/servers/app1/drain", "GET", "POST"],
      ["/api/servers/app1/weight", "PUT", "POST"],
      ["/api/servers/app1", "POST", "DELETE"],
      ["/api/servers", "DELETE", "GET, HEAD, POST"],
      ["/metrics", "POST", "GET, HEAD"],
      ["/api/lookup", "PUT", "GET, HEAD"],
      ["/", "POST", "GET, HEAD"],
      ["/api/events", "DELETE", "HEAD, GET"],
    ];
    for (const [path, method, allow] of cases) {
      const answer = await call(path, { method });
      expect([path, method, answer.status, answer.headers.get("allow")]).toEqual([
        path,
        method,
        405,
        allow,
      ]);
      expect(((await answer.json()) as Json).error).toBe(
        `${method} not allowed (allowed: ${allow})`,
      );
    }
    // Nothing changed; an endpoint that is not there is still 404.
    expect(((await (await call("/api/servers")).json()) as Json).placementVersion).toBe(
      versionBefore,
    );
    expect((await call("/api/nothing", { method: "POST" })).status).toBe(404);
    // An action that does not exist is not there under any method.
    expect((await call("/api/servers/app1/bogus")).status).toBe(404);
    expect((await call("/api/servers/app1/bogus", { method: "POST" })).status).toBe(400);
  });

  it("answers HEAD /api/events at once, without taking an event stream's place", async () => {
    for (let i = 0; i < 40; i++) {
      const head = await call("/api/events", { method: "HEAD", signal: AbortSignal.timeout(2000) });
      expect([head.status, head.headers.get("content-type")]).toEqual([
        200,
        "text/event-stream; charset=utf-8",
      ]);
    }
    // Every place is still free for the dashboard's stream.
    const stream = await call("/api/events", { signal: AbortSignal.timeout(2000) });
    expect(stream.status).toBe(200);
    await stream.body?.cancel();
  });

  it("drops a removed server's series for good, even when a request it held ends after", async () => {
    const slow = createServer((_req, res) => setTimeout(() => res.end("Hello from App 6"), 400));
    const slowPort = await listen(slow, 0, "127.0.0.1");
    try {
      await call("/api/servers", {
        method: "POST",
        body: JSON.stringify({ id: "app6", url: `http://127.0.0.1:${slowPort}` }),
      });
      // A client the ring gives app6.
      const from = clients.find((c) => ringWith6.pick(c) === "app6")!;
      const held = get(topology.running.port, { from });
      await new Promise((r) => setTimeout(r, 100));
      expect((await call("/api/servers/app6", { method: "DELETE" })).status).toBe(200);
      expect((await held).body).toBe("Hello from App 6");
      const metrics = await (await call("/metrics")).text();
      expect(metrics).not.toMatch(/backend="app6"/);
      expect(metrics).not.toMatch(/from="app6"/);
    } finally {
      slow.closeAllConnections();
      slow.close();
    }
  });

  it("adds a server with its maxconn", async () => {
    const added = await call("/api/servers", {
      method: "POST",
      body: JSON.stringify({ id: "app5", url: "http://127.0.0.1:1", maxconn: 5 }),
    });
    expect(added.status).toBe(201);
    const listed = ((await added.json()) as Json).servers;
    expect(listed.find((s: { id: string }) => s.id === "app5").maxconn).toBe(5);
    expect((await call("/api/servers/app5", { method: "DELETE" })).status).toBe(200);
  });

  it("refuses a dryRun it does not recognise (400) rather than applying the change", async () => {
    const state = async () =>
      ((await (await call("/api/servers")).json()) as Json).servers.map(
        (s: { id: string; state: string }) => `${s.id}:${s.state}`,
      );
    const before = await state();
    for (const query of ["dryRun=TRUE", "dryRun=yes", "dryRun=true&dryRun=false", "dryRun="]) {
      const drain = await call(`/api/servers/app2/drain?${query}`, { method: "POST" });
      expect(drain.status).toBe(400);
      expect(((await drain.json()) as Json).error).toMatch(/dryRun/);
      expect((await call(`/api/servers/app2?${query}`, { method: "DELETE" })).status).toBe(400);
    }
    const one = await call("/api/servers/app2/drain?dryRun=1", { method: "POST" });
    expect(((await one.json()) as Json).dryRun).toBe(true);
    expect(await state()).toEqual(before);
  });

  it("takes no action named after an object's own properties", async () => {
    for (const action of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      const reply = await call(`/api/servers/app1/${action}`, { method: "POST" });
      expect(reply.status).toBe(400);
    }
    const listed = (await (await call("/api/servers")).json()) as Json;
    expect(listed.servers.find((s: { id: string }) => s.id === "app1").state).toBe("ready");
  });

  it("refuses backend URLs with credentials or a host that is no DNS name or address", async () => {
    for (const url of [
      "http://:secret@127.0.0.1:5000",
      "http://user@127.0.0.1:5000",
      `http://${"a".repeat(10_000)}:5000`,
      "http://a..b:5000",
      "http://-a:5000",
      "http://a%22b:5000",
    ]) {
      const reply = await call("/api/servers", {
        method: "POST",
        body: JSON.stringify({ id: "bad", url }),
      });
      expect(reply.status).toBe(400);
    }
    expect(((await (await call("/api/servers")).json()) as Json).servers).toHaveLength(3);
  });

  it("forgets a removed server's metrics, so add and remove cycles do not grow them", async () => {
    const url = `http://127.0.0.1:${topology.backends[3]!.port}`;
    const cycle = async () => {
      await call("/api/servers", { method: "POST", body: JSON.stringify({ id: "app4", url }) });
      await mapLimit(clients.slice(0, 60), 16, (from) => get(topology.running.port, { from }));
      await call("/api/servers/app4", { method: "DELETE" });
    };
    // Every series the proxy's own metrics hold (name and labels, not values).
    // The process figures are left out: Node's collector adds a series when a
    // kind of GC first runs, which made a byte count of the whole text flaky.
    const series = async () =>
      (await (await call("/metrics")).text())
        .split("\n")
        .filter((line) => line.startsWith("stickyring_") && !line.startsWith("stickyring_process_"))
        .map((line) => line.slice(0, line.lastIndexOf(" ")));
    await cycle();
    const before = await series();
    for (let i = 0; i < 10; i++) await cycle();
    const after = await series();
    expect(after.join("\n")).not.toMatch(/app4/);
    expect(after).toEqual(before);
  });

  it("says where a client goes, matching X-Backend", async () => {
    for (const from of clients.slice(0, 20)) {
      const lookup = (await (await call(`/api/lookup?address=${from}`)).json()) as Json;
      expect(lookup.server).toBe((await get(topology.running.port, { from })).backend);
    }
    expect((await call("/api/lookup?address=nonsense")).status).toBe(400);
  });

  it("exports Prometheus metrics without client addresses", async () => {
    const text = await (await call("/metrics")).text();
    expect(text).toMatch(/stickyring_requests_total\{backend="app\d",code="200"\} \d+/);
    expect(text).toMatch(/stickyring_upstream_response_seconds_bucket/);
    expect(text).toMatch(/stickyring_placement_rebuilds_total \d+/);
    expect(text).not.toMatch(/127\.0\.\d+\.\d+/);
  });

  it("is not reachable through the proxy port", async () => {
    const reply = await get(topology.running.port, { path: "/api/servers" });
    expect(reply.body).toMatch(/^Hello from App/);
  });
});

describe("the admin listener", () => {
  // The built proxy, as a user runs it.
  it("closes connections that send no request within 5 s: 64 of them do not lock out the rest for long", async () => {
    const adminPort = await freePort();
    const port = await freePort();
    const child = await spawnProxy({
      PORT: String(port),
      ADMIN_PORT: String(adminPort),
      BACKENDS: `app1=http://127.0.0.1:${topology.backends[0]!.port}`,
    });
    try {
      await waitFor(async () => (await healthz(adminPort).catch(() => undefined))?.status === 200);
      const start = Date.now();
      const closedAt = Array.from(
        { length: 64 },
        () =>
          new Promise<number>((resolve) => {
            const socket = connect(adminPort, "127.0.0.1");
            socket.on("error", () => {});
            socket.resume(); // reads the 408, then the end
            socket.once("close", () => resolve(Date.now() - start));
          }),
      );
      await new Promise((r) => setTimeout(r, 500));
      // Every place is taken: the next connection is closed unanswered.
      await expect(healthz(adminPort)).rejects.toThrow();
      const times = await Promise.all(closedAt);
      // 5-6 s after they opened, as node checks every second (held 60 s and more before).
      expect(Math.min(...times)).toBeGreaterThan(4000);
      expect(Math.max(...times)).toBeLessThan(7500);
      expect((await healthz(adminPort)).status).toBe(200);
    } finally {
      child.kill("SIGKILL");
    }
  }, 20_000);
});

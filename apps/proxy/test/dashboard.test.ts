// The dashboard's server side: page and assets, the event stream, dry runs,
// lookups in each balance mode, and the browser-facing guards.

import { request } from "node:http";
import { describe, expect, it } from "@jest/globals";
import { createHashRing, sourceKey, uriKey } from "@stickyring/hashing";
import { MAX_EVENT_STREAMS } from "../src/control-plane/dashboard.js";
import { adminCall, clientAddresses, get, mapLimit, startProxy, useTopology } from "./harness.js";

const TOKEN = "dashboard-token-for-tests";
const topology = useTopology({ env: { ADMIN_TOKEN: TOKEN } });
const admin = (path: string) => `http://127.0.0.1:${topology.running.adminPort}${path}`;
const basic = (password: string) =>
  `Basic ${Buffer.from(`operator:${password}`).toString("base64")}`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const call = async (path: string, init: RequestInit = {}) => {
  const response = await adminCall(topology.running.adminPort, TOKEN, path, init);
  return { status: response.status, body: (await response.json()) as Json };
};

/** Reads the first server-sent event from the stream, then closes it. */
function firstEvent(
  path: string,
  headers: Record<string, string>,
): Promise<{ type: string; data: Json }> {
  return new Promise((resolve, reject) => {
    const req = request(admin(path), { headers }, (res) => {
      expect(res.headers["content-type"]).toMatch(/^text\/event-stream/);
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
        const end = text.indexOf("\n\n");
        if (end < 0) return;
        const lines = text.slice(0, end).split("\n");
        const type = lines.find((l) => l.startsWith("event: "))!.slice(7);
        const data = JSON.parse(lines.find((l) => l.startsWith("data: "))!.slice(6));
        req.destroy();
        resolve({ type, data });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

describe("dashboard page", () => {
  it("serves the page and its scripts, with a content security policy, behind the token", async () => {
    expect((await fetch(admin("/"))).status).toBe(401);
    const page = await fetch(admin("/"), { headers: { authorization: basic(TOKEN) } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toMatch(/default-src 'self'/);
    expect(await page.text()).toMatch(/<script type="module" src="main.js">/);
    const script = await fetch(admin("/main.js"), { headers: { authorization: basic(TOKEN) } });
    expect(script.headers.get("content-type")).toMatch(/javascript/);
  });

  it("accepts the token as a Basic password (browsers) and offers both schemes", async () => {
    const refused = await fetch(admin("/api/servers"), {
      headers: { authorization: basic("wrong-password-123") },
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toMatch(
      /Bearer realm="stickyring", Basic realm/,
    );
    const ok = await fetch(admin("/api/servers"), { headers: { authorization: basic(TOKEN) } });
    expect(ok.status).toBe(200);
  });
});

describe("event stream", () => {
  it("sends a snapshot at once: servers, shares, traffic and the ring's arcs", async () => {
    const { type, data } = await firstEvent("/api/events", { authorization: `Bearer ${TOKEN}` });
    expect(type).toBe("snapshot");
    expect(data.servers.map((s: Json) => s.id)).toEqual(["app1", "app2", "app3"]);
    expect(data.hashType).toBe("consistent");
    expect(data.traffic.intervalMs).toBe(1000);
    // The arcs cover the whole keyspace, in order, and agree with the shares.
    for (const ring of [data.ring.home, data.ring.live]) {
      expect(ring[0].from).toBe(0);
      expect(ring[ring.length - 1].to).toBe(1);
      for (let i = 1; i < ring.length; i++) expect(ring[i].from).toBe(ring[i - 1].to);
    }
    for (const server of data.servers) {
      const drawn = data.ring.live
        .filter((a: Json) => a.server === server.id)
        .reduce((sum: number, a: Json) => sum + a.to - a.from, 0);
      expect(Math.abs(drawn - server.share)).toBeLessThan(0.02);
    }
  });

  it("counts requests per second per server once traffic flows", async () => {
    const clients = clientAddresses(200);
    const deadline = Date.now() + 5000;
    let rates: Record<string, number[]> = {};
    while (Date.now() < deadline) {
      await mapLimit(clients, 16, (from) => get(topology.running.port, { from }));
      rates = (await firstEvent("/api/events", { authorization: `Bearer ${TOKEN}` })).data.traffic
        .rates;
      if (["app1", "app2", "app3"].every((id) => rates[id]?.some((v) => v > 0))) break;
    }
    for (const id of ["app1", "app2", "app3"])
      expect(Math.max(0, ...(rates[id] ?? []))).toBeGreaterThan(0);
  });

  it("keeps a disabled server on the home ring and takes it off the live ring", async () => {
    await call("/api/servers/app2/disable", { method: "POST" });
    try {
      const { data } = await firstEvent("/api/events", { authorization: `Bearer ${TOKEN}` });
      expect(data.ring.home.some((a: Json) => a.server === "app2")).toBe(true);
      expect(data.ring.live.some((a: Json) => a.server === "app2")).toBe(false);
      expect(data.servers.find((s: Json) => s.id === "app2").state).toBe("maint");
    } finally {
      await call("/api/servers/app2/enable", { method: "POST" });
    }
  });
});

describe("event stream limits", () => {
  it("answers 503 beyond MAX_EVENT_STREAMS open streams, and accepts again when one closes", async () => {
    const open: ReturnType<typeof request>[] = [];
    const statuses = await Promise.all(
      Array.from(
        { length: MAX_EVENT_STREAMS + 2 },
        () =>
          new Promise<number>((resolve, reject) => {
            const req = request(
              admin("/api/events"),
              { headers: { authorization: `Bearer ${TOKEN}` } },
              (res) => {
                res.resume();
                resolve(res.statusCode!);
              },
            );
            req.on("error", reject);
            req.end();
            open.push(req);
          }),
      ),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(MAX_EVENT_STREAMS);
    expect(statuses.filter((s) => s === 503)).toHaveLength(2);
    for (const req of open) req.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const { type } = await firstEvent("/api/events", { authorization: `Bearer ${TOKEN}` });
    expect(type).toBe("snapshot");
  });
});

describe("dry runs", () => {
  it("says what disabling a server would move, and changes nothing", async () => {
    const before = await call("/api/servers");
    const preview = await call("/api/servers/app2/disable?dryRun=true", { method: "POST" });
    expect(preview.status).toBe(200);
    expect(preview.body.dryRun).toBe(true);
    const app2 = before.body.servers.find((s: Json) => s.id === "app2");
    expect(Math.abs(preview.body.moved - app2.share)).toBeLessThan(0.001);
    expect(preview.body.flows.every((f: Json) => f.from === "app2")).toBe(true);
    expect(preview.body.shares.app2).toBeUndefined();
    // Everything but the health checks, which go on meanwhile.
    const state = (body: Json) => ({
      ...body,
      servers: body.servers.map(({ checks: _, ...server }: Json) => server),
    });
    const after = await call("/api/servers");
    expect(state(after.body)).toEqual(state(before.body));
  });

  it("previews adding a server and a weight, with the same checks as the change", async () => {
    const add = await call("/api/servers?dryRun=true", {
      method: "POST",
      body: JSON.stringify({ id: "app4", url: "http://127.0.0.1:1", weight: 1 }),
    });
    expect(add.status).toBe(200);
    expect(add.body.flows.every((f: Json) => f.to === "app4")).toBe(true);
    expect(add.body.moved).toBeGreaterThan(0.2);
    expect(add.body.moved).toBeLessThan(0.3);
    const weight = await call("/api/servers/app1/weight?dryRun=true", {
      method: "POST",
      body: JSON.stringify({ weight: 3 }),
    });
    expect(weight.body.flows.every((f: Json) => f.to === "app1")).toBe(true);
    expect((await call("/api/servers/nope/drain?dryRun=true", { method: "POST" })).status).toBe(
      404,
    );
    const bad = await call("/api/servers?dryRun=true", {
      method: "POST",
      body: JSON.stringify({ id: "<script>alert(1)</script>", url: "http://127.0.0.1:1" }),
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toContain("id: expected letters, digits");
    expect(bad.body.error).toContain('(got "<script>alert(1)</script>")');
    expect((await call("/api/servers")).body.servers).toHaveLength(3);
  });
});

describe("browser guards", () => {
  it("refuses writes from another site, allows them from the page itself", async () => {
    const cross = await call("/api/servers/app1/drain", {
      method: "POST",
      headers: { origin: "http://evil.example" },
    });
    expect(cross.status).toBe(403);
    const fetchSite = await call("/api/servers/app1/drain", {
      method: "POST",
      headers: { "sec-fetch-site": "cross-site" },
    });
    expect(fetchSite.status).toBe(403);
    const same = await call("/api/servers/app1/drain?dryRun=true", {
      method: "POST",
      headers: { origin: `http://127.0.0.1:${topology.running.adminPort}` },
    });
    expect(same.status).toBe(200);
    expect((await call("/api/servers")).body.servers[0].state).toBe("ready");
  });

  it("without a token answers only to loopback host names (DNS rebinding)", async () => {
    const open = await startProxy(topology.backends);
    try {
      const ask = (host: string) =>
        new Promise<number>((resolve, reject) => {
          const req = request(
            { host: "127.0.0.1", port: open.adminPort, path: "/api/servers", headers: { host } },
            (res) => {
              res.resume();
              resolve(res.statusCode!);
            },
          );
          req.on("error", reject);
          req.end();
        });
      expect(await ask("attacker.example")).toBe(403);
      expect(await ask(`localhost:${open.adminPort}`)).toBe(200);
      expect(await ask(`127.0.0.1:${open.adminPort}`)).toBe(200);
      expect(await ask(`[::1]:${open.adminPort}`)).toBe(200);
    } finally {
      await open.stop();
    }
  });
});

describe("lookup", () => {
  it("answers where a client goes, as the proxy routes it", async () => {
    const clients = clientAddresses(50);
    await mapLimit(clients, 8, async (from) => {
      const { body } = await call(`/api/lookup?address=${encodeURIComponent(from)}`);
      const reply = await get(topology.running.port, { from });
      expect(body.server).toBe(reply.backend);
      expect(body.key).toBe(sourceKey(from));
    });
    const bad = await call(`/api/lookup?address=${encodeURIComponent("<img src=x>")}`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toContain("<img src=x>");
  });

  it("reads a path in uri mode, as the request would be hashed", async () => {
    const uri = await startProxy(topology.backends, { BALANCE: "uri", ADMIN_TOKEN: TOKEN });
    try {
      const at = (path: string) => `http://127.0.0.1:${uri.adminPort}${path}`;
      const auth = { authorization: `Bearer ${TOKEN}` };
      const missing = await fetch(at("/api/lookup?address=10.0.0.1"), { headers: auth });
      expect(missing.status).toBe(400);
      expect(((await missing.json()) as Json).error).toMatch(/expected \?path=.*balance uri/);
      for (const path of ["/cart/42?x=1", "/a", "/static/app.js"]) {
        const body = (await (
          await fetch(at(`/api/lookup?path=${encodeURIComponent(path)}`), { headers: auth })
        ).json()) as Json;
        const reply = await get(uri.port, { path });
        expect(body.server).toBe(reply.backend);
        expect(body.key).toBe(uriKey(path));
        const ring = createHashRing({ servers: topology.backends.map((b) => ({ id: b.id })) });
        expect(body.server).toBe(ring.pick(uriKey(path)));
      }
    } finally {
      await uri.stop();
    }
  });
});

// DNS discovery through the proxy: backends on their own loopback addresses,
// named by a real DNS server on loopback (dns-server.ts) that rotates its
// answers, and two proxy replicas that must agree on every client as
// addresses come, go and DNS fails.

import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import { createBackend } from "@stickyring/backend";
import { createHashRing, sourceKey } from "@stickyring/hashing";
import { freePort, listen } from "@stickyring/runtime";
import {
  clientAddresses,
  get,
  mapLimit,
  spawnProxy,
  startProxy,
  waitFor,
  type RunningProxy,
} from "./harness.js";
import { startDnsServer, type DnsServer } from "./dns-server.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

// Waits for refreshes and hold times: seconds each, more on a busy machine.
jest.setTimeout(30_000);

const REFRESH_MS = 300;
const HOLD_MS = 1000;
const CLIENTS = clientAddresses(300, 20_000);

interface WebBackend {
  address: string;
  server: Server;
}

let dns: DnsServer;
let port: number;
const web = new Map<string, WebBackend>();
let replicas: RunningProxy[];

/** A backend on `address`, the port every web backend shares. */
async function startWeb(address: string): Promise<void> {
  const server = createServer(createBackend({ id: address, greeting: `Hello from ${address}` }));
  port = await listen(server, port ?? 0, address);
  web.set(address, { address, server });
}

async function stopWeb(address: string): Promise<void> {
  const backend = web.get(address)!;
  web.delete(address);
  backend.server.closeAllConnections();
  await new Promise((r) => backend.server.close(r));
}

const setAddresses = (addresses: string[]) => dns.zone.set("web.test", { a: addresses });
const idOf = (address: string) => `web@${address}:${port}`;

const env = () => ({
  BACKENDS: "dns://web.test:" + port,
  DNS_SERVERS: dns.address,
  DNS_REFRESH: `${REFRESH_MS}ms`,
  DNS_HOLD: `${HOLD_MS}ms`,
  MONITOR_URI: "/stickyring/healthz",
});

const servers = async (running: RunningProxy): Promise<Json> =>
  (await fetch(`http://127.0.0.1:${running.adminPort}/api/servers`)).json();

const inPlacement = async (running: RunningProxy) =>
  ((await servers(running)).servers as Json[])
    .filter((s) => s.inPlacement)
    .map((s) => s.id as string)
    .sort();

/** Each client's backend through each replica (three requests per client and replica). */
async function sweep(): Promise<string[][]> {
  return Promise.all(
    replicas.map((running) =>
      mapLimit(CLIENTS, 32, async (from) => {
        const seen = new Set<string>();
        for (let i = 0; i < 3; i++) {
          const reply = await get(running.port, { from });
          expect(reply.status).toBe(200);
          seen.add(reply.backend!);
        }
        expect(seen.size).toBe(1);
        return [...seen][0]!;
      }),
    ),
  );
}

/** Where the ring over these addresses' ids sends each client. */
const predicted = (addresses: string[]) => {
  const ring = createHashRing({ servers: addresses.map((a) => ({ id: idOf(a) })) });
  return CLIENTS.map((c) => ring.pick(sourceKey(c)));
};

beforeAll(async () => {
  dns = await startDnsServer();
  for (const address of ["127.40.0.1", "127.40.0.2", "127.40.0.3"]) await startWeb(address);
  setAddresses(["127.40.0.1", "127.40.0.2", "127.40.0.3"]);
  replicas = await Promise.all([startProxy([], env()), startProxy([], env())]);
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  for (const address of [...web.keys()]) await stopWeb(address);
  await dns.close();
});

describe("DNS discovery (dns://), two replicas", () => {
  let before: string[];

  it("places every client by the ring over the discovered ids, the same in both replicas, whatever order DNS answers in", async () => {
    const [a, b] = await sweep();
    expect(a).toEqual(b);
    expect(a).toEqual(predicted(["127.40.0.1", "127.40.0.2", "127.40.0.3"]));
    expect(new Set(a).size).toBe(3);
    // The name server rotated its answers meanwhile.
    expect(dns.queries.filter((q) => q === "A web.test").length).toBeGreaterThan(4);
    before = a!;
    const listed = await servers(replicas[0]!);
    expect(listed.discovery).toEqual([
      expect.objectContaining({
        name: "web",
        status: "ok",
        servers: 3,
        url: `dns://web.test:${port}`,
      }),
    ]);
    expect(listed.servers.map((s: Json) => s.source)).toEqual(["web", "web", "web"]);
  });

  it("takes in an address that appears within DNS_REFRESH + 1 s; only keys moving onto it move", async () => {
    await startWeb("127.40.0.4");
    const changed = performance.now();
    setAddresses(["127.40.0.4", "127.40.0.1", "127.40.0.2", "127.40.0.3"]);
    const expected = ["127.40.0.1", "127.40.0.2", "127.40.0.3", "127.40.0.4"].map(idOf).sort();
    for (const running of replicas)
      await waitFor(async () => (await inPlacement(running)).join() === expected.join(), 3000);
    expect(performance.now() - changed).toBeLessThan(REFRESH_MS + 1000);
    const [a, b] = await sweep();
    expect(a).toEqual(b);
    let moved = 0;
    a!.forEach((now, i) => {
      if (now !== before[i]) {
        expect(now).toBe(idOf("127.40.0.4"));
        moved++;
      }
    });
    expect(moved).toBeGreaterThan(0);
    before = a!;
  });

  it("lets an address that disappears go within DNS_REFRESH + 1 s: only its clients move, and no GET fails", async () => {
    const gone = idOf("127.40.0.2");
    const changed = performance.now();
    setAddresses(["127.40.0.1", "127.40.0.3", "127.40.0.4"]);
    for (const running of replicas)
      await waitFor(async () => !(await inPlacement(running)).includes(gone), 3000);
    // The server still answers: only DNS took it out.
    expect(performance.now() - changed).toBeLessThan(REFRESH_MS + 1000);
    await stopWeb("127.40.0.2");
    const [a, b] = await sweep();
    expect(a).toEqual(b);
    a!.forEach((now, i) => {
      if (before[i] === gone) expect(now).not.toBe(gone);
      else expect(now).toBe(before[i]);
    });
    expect(a).toEqual(predicted(["127.40.0.1", "127.40.0.3", "127.40.0.4"]));
    before = a!;
  });

  it("keeps the last servers while DNS fails (SERVFAIL, then no answer at all), and says so", async () => {
    const expected = ["127.40.0.1", "127.40.0.3", "127.40.0.4"].map(idOf).sort();
    for (const fails of ["servfail", "timeout"] as const) {
      dns.zone.set("web.test", { fails });
      await waitFor(
        async () => (await servers(replicas[0]!)).discovery[0].status === "stale",
        4000,
      );
      await new Promise((r) => setTimeout(r, HOLD_MS + 3 * REFRESH_MS));
      for (const running of replicas) expect(await inPlacement(running)).toEqual(expected);
      const metrics = await (
        await fetch(`http://127.0.0.1:${replicas[0]!.adminPort}/metrics`)
      ).text();
      expect(metrics).toMatch(/stickyring_dns_group_stale\{group="web"\} 1/);
      expect(metrics).toMatch(/stickyring_dns_lookups_total\{group="web",result="error"\} [1-9]/);
      const [a] = await sweep();
      expect(a).toEqual(before);
    }
    setAddresses(["127.40.0.1", "127.40.0.3", "127.40.0.4"]);
    await waitFor(async () => (await servers(replicas[0]!)).discovery[0].status === "ok", 3000);
  }, 30_000);

  it("keeps a drain on a discovered server across refreshes, and refuses to delete it", async () => {
    const admin = `http://127.0.0.1:${replicas[0]!.adminPort}/api/servers`;
    const id = encodeURIComponent(idOf("127.40.0.1"));
    expect((await fetch(`${admin}/${id}/drain`, { method: "POST" })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 3 * REFRESH_MS));
    const listed = (await servers(replicas[0]!)).servers.find(
      (s: Json) => s.id === idOf("127.40.0.1"),
    );
    expect(listed.state).toBe("drain");
    const refused = await fetch(`${admin}/${id}`, { method: "DELETE" });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as Json).error).toMatch(/found by DNS/);
    expect((await fetch(`${admin}/${id}/enable`, { method: "POST" })).status).toBe(200);
  });

  it("removes a group's servers only DNS_HOLD after the name stops existing; the monitor URI says 503 then", async () => {
    const monitor = async () =>
      (await get(replicas[0]!.port, { path: "/stickyring/healthz" })).status;
    expect(await monitor()).toBe(200);
    const gone = performance.now();
    dns.zone.set("web.test", { fails: "nxdomain" });
    await waitFor(async () => (await servers(replicas[0]!)).discovery[0].status === "empty", 3000);
    expect((await inPlacement(replicas[0]!)).length).toBe(3);
    await waitFor(async () => (await inPlacement(replicas[0]!)).length === 0, 4000);
    expect(performance.now() - gone).toBeGreaterThanOrEqual(HOLD_MS);
    expect(await monitor()).toBe(503);
    expect((await get(replicas[0]!.port, { from: CLIENTS[0] })).status).toBe(503);
    setAddresses(["127.40.0.1", "127.40.0.3", "127.40.0.4"]);
    await waitFor(async () => (await monitor()) === 200, 3000);
    // Each replica asks DNS on its own clock: both must have the three back.
    for (const running of replicas)
      await waitFor(async () => (await inPlacement(running)).length === 3, 3000);
    const [a, b] = await sweep();
    expect(a).toEqual(b);
    expect(a).toEqual(before);
  });
});

describe("DNS discovery (dns+srv://)", () => {
  it("takes addresses, ports and weights from SRV records", async () => {
    dns.zone.set("_http._tcp.web.test", {
      srv: [
        { priority: 0, weight: 10, port, target: "one.web.example" },
        { priority: 0, weight: 30, port, target: "three.web.example" },
      ],
    });
    dns.zone.set("one.web.example", { a: ["127.40.0.1"] });
    dns.zone.set("three.web.example", { a: ["127.40.0.3"] });
    const running = await startProxy([], { ...env(), BACKENDS: "dns+srv://_http._tcp.web.test" });
    try {
      const listed = (await servers(running)).servers as Json[];
      expect(listed.map((s) => [s.id, s.weight, s.source])).toEqual([
        [idOf("127.40.0.1"), 1, "web"],
        [idOf("127.40.0.3"), 3, "web"],
      ]);
      const reply = await get(running.port, { from: CLIENTS[1] });
      expect(reply.status).toBe(200);
    } finally {
      await running.stop();
    }
  });
});

describe("a name that does not resolve at start", () => {
  it("starts the proxy without servers (503, monitor 503), then takes them when it resolves", async () => {
    const running = await startProxy([], { ...env(), BACKENDS: `dns://later.test:${port}` });
    try {
      expect((await servers(running)).discovery[0].status).toBe("unresolved");
      expect((await get(running.port, { path: "/stickyring/healthz" })).status).toBe(503);
      expect((await get(running.port)).status).toBe(503);
      dns.zone.set("later.test", { a: ["127.40.0.3"] });
      await waitFor(async () => (await get(running.port)).status === 200, 3000);
      expect((await get(running.port, { path: "/stickyring/healthz" })).status).toBe(200);
    } finally {
      await running.stop();
    }
  });
});

describe("the monitor URI while stopping (GRACE)", () => {
  it("says 503 during the grace time while requests are still served, then the port closes", async () => {
    const running = await startProxy([], { ...env(), GRACE: "1500ms" });
    const stopped = running.stop();
    await new Promise((r) => setTimeout(r, 200));
    expect((await get(running.port, { path: "/stickyring/healthz" })).status).toBe(503);
    expect((await get(running.port, { from: CLIENTS[2] })).status).toBe(200);
    await stopped;
    await expect(get(running.port)).rejects.toThrow();
  });
});

describe("DNS discovery in the multi-core mode (WORKERS=2)", () => {
  it("gives every worker the discovered servers: clients land as the ring says, through both workers, and follow a change", async () => {
    for (const address of ["127.40.0.1", "127.40.0.3", "127.40.0.4"])
      if (!web.has(address)) await startWeb(address);
    setAddresses(["127.40.0.1", "127.40.0.3"]);
    const [proxyPort, adminPort] = [await freePort(), await freePort()];
    const child = await spawnProxy({
      ...env(),
      WORKERS: "2",
      PORT: String(proxyPort),
      ADMIN_PORT: String(adminPort),
      HOST: "127.0.0.1",
    });
    try {
      const owners = async () =>
        mapLimit(CLIENTS.slice(0, 100), 16, async (from) => {
          const seen = new Set<string>();
          // Fresh connections: the kernel spreads them over both workers.
          for (let i = 0; i < 4; i++) seen.add((await get(proxyPort, { from })).backend!);
          expect(seen.size).toBe(1);
          return [...seen][0]!;
        });
      await waitFor(async () => (await get(proxyPort)).status === 200, 5000);
      expect(await owners()).toEqual(predicted(["127.40.0.1", "127.40.0.3"]).slice(0, 100));
      setAddresses(["127.40.0.1", "127.40.0.3", "127.40.0.4"]);
      const listed = async () =>
        ((await (await fetch(`http://127.0.0.1:${adminPort}/api/servers`)).json()) as Json).servers
          .length;
      await waitFor(async () => (await listed()) === 3, 3000);
      // The primary sends the new placement to each worker; give it a report interval.
      await new Promise((r) => setTimeout(r, 300));
      expect(await owners()).toEqual(
        predicted(["127.40.0.1", "127.40.0.3", "127.40.0.4"]).slice(0, 100),
      );
      expect((await get(proxyPort, { path: "/stickyring/healthz" })).status).toBe(200);
    } finally {
      child.kill("SIGKILL");
    }
  }, 30_000);
});

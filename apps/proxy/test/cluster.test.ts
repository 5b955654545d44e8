// The multi-core mode as a user runs it: the built proxy with WORKERS=2,
// three backends, clients each from its own loopback address.

import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createHashRing, sourceKey } from "@stickyring/hashing";
import { freePort } from "@stickyring/runtime";
import {
  childrenOf,
  clientAddresses,
  get,
  mapLimit,
  spawnProxy,
  startBackend,
  waitFor,
  type Backend,
} from "./harness.js";

let backends: Backend[];
let child: ChildProcess;
let port: number;
let adminPort: number;
const admin = (path: string, init?: RequestInit) =>
  fetch(`http://127.0.0.1:${adminPort}${path}`, init);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

beforeAll(async () => {
  backends = await Promise.all([1, 2, 3].map(startBackend));
  [port, adminPort] = [await freePort(), await freePort()];
  child = await spawnProxy({
    WORKERS: "2",
    PORT: String(port),
    ADMIN_PORT: String(adminPort),
    HOST: "127.0.0.1",
    BACKENDS: backends.map((b) => `${b.id}=http://127.0.0.1:${b.port}`).join(","),
    HEALTH_INTER: "200ms",
    HEALTH_TIMEOUT: "150ms",
    // The backends share the test runner's process: with other suites running
    // beside it, three checks in a row once waited past 150 ms and took a
    // live server down (a 503 in the full run). A dead one is ejected by its
    // first refused connection, so a higher fall count slows no test here.
    HEALTH_FALL: "10",
  });
  // Both workers answer once the primary says all are listening.
  await waitFor(async () => (await admin("/api/servers").catch(() => undefined))?.ok === true);
});

afterAll(async () => {
  child?.kill("SIGKILL");
  await Promise.all((backends ?? []).map((b) => b.kill()));
});

/** The primary's children: its workers. */
const workerPids = () => childrenOf(child.pid!);

const clients = clientAddresses(400);
const ring = createHashRing({ servers: [{ id: "app1" }, { id: "app2" }, { id: "app3" }] });

/** Where each client goes, asked `times` times over fresh connections (spread over both workers). */
async function owners(times: number): Promise<Map<string, Set<string>>> {
  const seen = new Map(clients.map((c) => [c, new Set<string>()]));
  for (let i = 0; i < times; i++) {
    const replies = await mapLimit(clients, 32, (from) => get(port, { from }));
    replies.forEach((r, j) =>
      seen.get(clients[j]!)!.add(r.backend ?? `status ${r.status}: ${r.body.trim()}`),
    );
  }
  return seen;
}

describe("WORKERS=2", () => {
  it("runs two workers besides the primary", () => {
    expect(workerPids()).toHaveLength(2);
  });

  it("sends every client to the same server from every worker, the server the ring names", async () => {
    const seen = await owners(4);
    for (const [from, servers] of seen) expect([...servers]).toEqual([ring.pick(sourceKey(from))]);
  });

  it("counts the workers' requests in the admin API and in the metrics", async () => {
    await waitFor(async () => {
      const body = (await (await admin("/api/servers")).json()) as Json;
      return body.servers.reduce((n: number, s: Json) => n + s.requests, 0) >= clients.length * 4;
    });
    const text = await (await admin("/metrics")).text();
    const total = [
      ...text.matchAll(/^stickyring_requests_total\{backend="app\d",code="200"\} (\d+)/gm),
    ]
      .map((m) => Number(m[1]))
      .reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(clients.length * 4);
  });

  it("applies an admin change in every worker: disabling app2 moves only app2's clients", async () => {
    expect((await admin("/api/servers/app2/disable", { method: "POST" })).status).toBe(200);
    try {
      const next = createHashRing({ servers: [{ id: "app1" }, { id: "app3" }] });
      await waitFor(async () => {
        const seen = await owners(1);
        return [...seen.values()].every((s) => !s.has("app2"));
      });
      const seen = await owners(3);
      for (const [from, servers] of seen) {
        expect([...servers]).toEqual([next.pick(sourceKey(from))]);
        if (ring.pick(sourceKey(from)) !== "app2")
          expect([...servers]).toEqual([ring.pick(sourceKey(from))]);
      }
    } finally {
      await admin("/api/servers/app2/enable", { method: "POST" });
    }
  });

  it("takes a dead backend out in every worker without failed requests, and back when it returns", async () => {
    await backends[0]!.kill();
    try {
      const seen = await owners(3);
      for (const servers of seen.values()) {
        expect([...servers].some((s) => s.startsWith("status"))).toBe(false);
        expect(servers.has("app1")).toBe(false);
      }
    } finally {
      await backends[0]!.restore();
    }
    await waitFor(async () => {
      const body = (await (await admin("/api/servers")).json()) as Json;
      return body.servers.every((s: Json) => s.health === "up");
    }, 10_000);
    const seen = await owners(2);
    for (const [from, servers] of seen) expect([...servers]).toEqual([ring.pick(sourceKey(from))]);
  });

  it("keeps a killed worker's counters in /metrics: the sums never go down", async () => {
    const requestsTotal = async () => {
      const text = await (await admin("/metrics")).text();
      return [...text.matchAll(/^stickyring_requests_total\{[^}]*\} (\d+)$/gm)].reduce(
        (sum, m) => sum + Number(m[1]),
        0,
      );
    };
    await mapLimit(clients.slice(0, 100), 50, (from) => get(port, { from }));
    const before = await requestsTotal();
    expect(before).toBeGreaterThanOrEqual(100);
    const [victim] = workerPids();
    process.kill(victim!, "SIGKILL");
    await waitFor(() => {
      const pids = workerPids();
      return pids.length === 2 && !pids.includes(victim!);
    }, 10_000);
    expect(await requestsTotal()).toBeGreaterThanOrEqual(before);
    await mapLimit(clients.slice(0, 100), 50, (from) => get(port, { from }));
    expect(await requestsTotal()).toBeGreaterThanOrEqual(before + 100);
  });

  it("survives scrapes while workers are killed and replaced, and the new ones too", async () => {
    let scraping = true;
    let failed = 0;
    const scraper = (async () => {
      while (scraping) {
        if (!(await admin("/metrics").catch(() => undefined))?.ok) failed++;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    try {
      for (let kill = 0; kill < 3; kill++) {
        const [victim] = workerPids();
        process.kill(victim!, "SIGKILL");
        // One look at the children for both conditions: two looks could see two lists.
        let replaced: number[] = [];
        await waitFor(() => {
          replaced = workerPids().sort();
          return replaced.length === 2 && !replaced.includes(victim!);
        }, 10_000);
        // The replacement, scraped before its first placement, stays up.
        await new Promise((r) => setTimeout(r, 500));
        expect(workerPids().sort()).toEqual(replaced);
      }
    } finally {
      scraping = false;
      await scraper;
    }
    expect(child.exitCode).toBeNull();
    expect(failed).toBe(0);
  }, 30_000);

  it("stops on SIGTERM: workers drain and the primary exits 0", async () => {
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});

import { describe, expect, it } from "@jest/globals";
import { createHashRing, sourceKey } from "@stickyring/hashing";
import {
  clientAddresses,
  get,
  mapLimit,
  startBackend,
  startProxy,
  useTopology,
  waitFor,
} from "./harness.js";

const CLIENTS = clientAddresses(1200);
const ids = ["app1", "app2", "app3"];

/** Sends `rounds` GETs from every client; returns each client's backends and all statuses. */
async function sweep(port: number, rounds = 1) {
  const seen = new Map<string, Set<string>>();
  const statuses: number[] = [];
  for (let r = 0; r < rounds; r++) {
    await mapLimit(CLIENTS, 64, async (from) => {
      const reply = await get(port, { from });
      statuses.push(reply.status);
      expect(reply.body).toBe(`Hello from App ${reply.backend!.slice(3)}`);
      if (!seen.has(from)) seen.set(from, new Set());
      seen.get(from)!.add(reply.backend!);
    });
  }
  return { seen, statuses, owner: (from: string) => [...seen.get(from)!][0]! };
}

describe("source-IP stickiness with 1,200 distinct client addresses", () => {
  const topology = useTopology();

  let before: Awaited<ReturnType<typeof sweep>>;

  it("sends each address to one backend, the one @stickyring/hashing predicts, using all three", async () => {
    before = await sweep(topology.running.port, 3);
    expect(before.statuses.every((s) => s === 200)).toBe(true);
    const ring = createHashRing({ servers: ids.map((id) => ({ id })) });
    for (const from of CLIENTS) {
      expect(before.seen.get(from)!.size).toBe(1);
      expect(before.owner(from)).toBe(ring.pick(sourceKey(from)));
    }
    const used = new Set(CLIENTS.map(before.owner));
    expect(used).toEqual(new Set(ids));
    // 3,600 connections of their own: seconds when the other suites load both cores.
  }, 30_000);

  it("moves only the killed backend's clients, with no failed GET", async () => {
    await topology.backends[1]!.kill();
    const after = await sweep(topology.running.port);
    expect(after.statuses.filter((s) => s !== 200)).toEqual([]);
    let moved = 0;
    for (const from of CLIENTS) {
      const was = before.owner(from);
      const now = after.owner(from);
      if (was === "app2") {
        expect(now).not.toBe("app2");
        moved++;
      } else {
        expect(now).toBe(was);
      }
    }
    expect(moved).toBe(CLIENTS.filter((c) => before.owner(c) === "app2").length);
    expect(moved).toBeGreaterThan(0);
  }, 30_000);

  it("brings every client back when the backend is restored", async () => {
    await topology.backends[1]!.restore();
    await waitFor(() => topology.running.proxy.placement().targets.has("app2"), 5000);
    const back = await sweep(topology.running.port);
    for (const from of CLIENTS) expect(back.owner(from)).toBe(before.owner(from));
  }, 30_000);
});

describe("two proxies given the same servers in a different order", () => {
  it("place every client alike", async () => {
    const backends = await Promise.all([1, 2, 3].map(startBackend));
    const a = await startProxy(backends);
    const b = await startProxy([...backends].reverse());
    try {
      const clients = CLIENTS.slice(0, 300);
      const fromA = await mapLimit(clients, 32, (from) => get(a.port, { from }));
      const fromB = await mapLimit(clients, 32, (from) => get(b.port, { from }));
      expect(fromB.map((r) => r.backend)).toEqual(fromA.map((r) => r.backend));
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await Promise.all(backends.map((x) => x.kill()));
    }
  });
});

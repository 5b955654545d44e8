import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { ALGORITHMS, createHashRing } from "../src/create.js";
import { ipv4Keys, maxOverMean, placements, serverSets } from "./helpers.js";

const three = [{ id: "app1" }, { id: "app2" }, { id: "app3" }];
const keys = ipv4Keys(20_000);
const fewKeys = keys.slice(0, 2_000);

describe.each(ALGORITHMS)("%s: properties of every algorithm", (algorithm) => {
  it("gives drained servers (weight 0) no keys and returns undefined when all are drained", () => {
    const ring = createHashRing({ algorithm, servers: [...three, { id: "app4", weight: 0 }] });
    expect(placements(ring.pick, fewKeys)).not.toContain("app4");
    expect(ring.shares().get("app4")).toBe(0);
    const none = createHashRing({ algorithm, servers: [{ id: "a", weight: 0 }] });
    expect(none.pick("10.0.0.1")).toBeUndefined();
    expect(createHashRing({ algorithm, servers: [] }).pick("x")).toBeUndefined();
  });

  it("never throws from pick, whatever the string", () => {
    const ring = createHashRing({ algorithm, servers: three });
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (key) => {
        expect(["app1", "app2", "app3"]).toContain(ring.pick(key));
      }),
    );
  });

  it("lists distinct fallbacks after the owner with pickN", () => {
    const ring = createHashRing({ algorithm, servers: three });
    for (const key of fewKeys.slice(0, 200)) {
      const order = ring.pickN(key, 5);
      expect(order[0]).toBe(ring.pick(key));
      expect(new Set(order).size).toBe(3);
      expect(order).toHaveLength(3);
    }
    expect(ring.pickN("x", 0)).toEqual([]);
  });
});

// HAProxy numbers servers in declaration order and gives 16 points per unit
// of weight: its placement depends on the order, and its shares are coarse.
// It is checked against HAProxy itself in test/compat.test.ts.
const PRECISE = ALGORITHMS.filter((a) => a !== "haproxy");

describe.each(PRECISE)("%s: placement independent of order, shares follow weights", (algorithm) => {
  it("depends only on the set of servers, not their order", () => {
    fc.assert(
      fc.property(serverSets, fc.integer(), (servers, seed) => {
        const shuffled = fc.sample(fc.shuffledSubarray(servers, { minLength: servers.length }), {
          seed,
          numRuns: 1,
        })[0]!;
        const a = createHashRing({ algorithm, servers });
        const b = createHashRing({ algorithm, servers: shuffled });
        expect(placements(b.pick, fewKeys)).toEqual(placements(a.pick, fewKeys));
      }),
      { numRuns: 25 },
    );
  });

  it("shares weights proportionally (1:2:3 within 10%)", () => {
    const ring = createHashRing({
      algorithm,
      servers: [
        { id: "a", weight: 1 },
        { id: "b", weight: 2 },
        { id: "c", weight: 3 },
      ],
    });
    const counts = new Map<string, number>();
    for (const o of placements(ring.pick, keys)) counts.set(o!, (counts.get(o!) ?? 0) + 1);
    for (const [id, weight] of [
      ["a", 1],
      ["b", 2],
      ["c", 3],
    ] as const) {
      const expected = (keys.length * weight) / 6;
      expect(Math.abs(counts.get(id)! - expected) / expected).toBeLessThan(0.1);
    }
    const shares = [...ring.shares().values()].reduce((s, x) => s + x, 0);
    expect(shares).toBeCloseTo(1, 6);
  });
});

describe.each(["ring", "maglev"] as const)("%s: bounded loads", (algorithm) => {
  it("never picks a server above ceil(factor x mean load)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 1.1, 1.25, 1.5, 2),
        fc.array(fc.nat(50), { minLength: 3, maxLength: 3 }),
        fc.string(),
        (factor, load, key) => {
          const ring = createHashRing({ algorithm, servers: three, balanceFactor: factor });
          const loads = new Map(three.map((s, i) => [s.id, load[i]!]));
          const chosen = ring.pick(key, loads)!;
          const total = load.reduce((a, b) => a + b, 0);
          expect(loads.get(chosen)! + 1).toBeLessThanOrEqual(Math.ceil((factor * (total + 1)) / 3));
        },
      ),
    );
  });

  it("keeps every server within the cap while requests pile up", () => {
    const ring = createHashRing({ algorithm, servers: three, balanceFactor: 1.25 });
    const loads = new Map(three.map((s) => [s.id, 0]));
    // One hot key: without the bound every request would land on one server.
    for (let n = 0; n < 3000; n++) {
      const chosen = ring.pick("203.0.113.9", loads)!;
      loads.set(chosen, loads.get(chosen)! + 1);
      const cap = Math.ceil((1.25 * (n + 1)) / 3);
      for (const l of loads.values()) expect(l).toBeLessThanOrEqual(cap);
    }
    expect(Math.min(...loads.values())).toBeGreaterThan(0);
  });

  it("picks the plain owner when it is under the cap", () => {
    const ring = createHashRing({ algorithm, servers: three, balanceFactor: 1.25 });
    const idle = new Map(three.map((s) => [s.id, 0]));
    for (const key of fewKeys.slice(0, 200)) expect(ring.pick(key, idle)).toBe(ring.pick(key));
  });
});

describe("ring: minimal disruption", () => {
  it("removing a server moves only its keys", () => {
    fc.assert(
      fc.property(serverSets, fc.nat(), (servers, which) => {
        const removed = servers[which % servers.length]!.id;
        const before = createHashRing({ servers });
        const after = createHashRing({ servers: servers.filter((s) => s.id !== removed) });
        for (const key of fewKeys) {
          const was = before.pick(key);
          if (was !== removed) expect(after.pick(key)).toBe(was);
          else expect(after.pick(key)).toBe(before.pickN(key, 2)[1]);
        }
      }),
      { numRuns: 30 },
    );
  });

  it("adding a server moves keys only onto it", () => {
    fc.assert(
      fc.property(serverSets, (servers) => {
        const [added, ...rest] = servers;
        const before = createHashRing({ servers: rest });
        const after = createHashRing({ servers });
        for (const key of fewKeys) {
          const now = after.pick(key);
          if (now !== added!.id) expect(now).toBe(before.pick(key));
        }
      }),
      { numRuns: 30 },
    );
  });

  it.each(["ring", "haproxy", "nginx"] as const)(
    "%s: raising a weight step by step (a slow start) moves keys only onto that server, and its share follows",
    (algorithm) => {
      fc.assert(
        fc.property(serverSets, fc.integer({ min: 1, max: 19 }), (servers, from) => {
          const [rising, ...rest] = servers;
          const at = (fraction: number) =>
            createHashRing({
              algorithm,
              servers: [{ ...rising!, weight: (rising!.weight ?? 1) * fraction }, ...rest],
            });
          const before = at(from / 20);
          const after = at((from + 1) / 20);
          for (const key of fewKeys) {
            const now = after.pick(key);
            if (now !== rising!.id) expect(now).toBe(before.pick(key));
          }
          expect(after.shares().get(rising!.id)!).toBeGreaterThanOrEqual(
            before.shares().get(rising!.id)!,
          );
        }),
        { numRuns: 15 },
      );
    },
  );

  it("gives a server a small fractional weight a matching small share", () => {
    const ring = createHashRing({ servers: [...three, { id: "app4", weight: 0.1 }] });
    expect(ring.shares().get("app4")!).toBeGreaterThan(0.01);
    expect(ring.shares().get("app4")!).toBeLessThan(0.06); // 0.1 / 3.1 = 0.032
  });

  it("balances 3 equal servers within 5% of the mean", () => {
    const ring = createHashRing({ servers: three });
    expect(maxOverMean(placements(ring.pick, keys), ["app1", "app2", "app3"])).toBeLessThan(1.05);
  });
});

describe("maglev", () => {
  it("balances 3 equal servers within 1% of the mean", () => {
    const ring = createHashRing({ algorithm: "maglev", servers: three });
    const shares = [...ring.shares().values()];
    expect(Math.max(...shares) * 3).toBeLessThan(1.01);
  });

  it("moves at most 1.5 x the ideal share when one of 5 servers is removed", () => {
    const five = ["a", "b", "c", "d", "e"].map((id) => ({ id }));
    const before = createHashRing({ algorithm: "maglev", servers: five });
    const after = createHashRing({
      algorithm: "maglev",
      servers: five.filter((s) => s.id !== "c"),
    });
    const moved = keys.filter((k) => before.pick(k) !== after.pick(k)).length / keys.length;
    expect(moved).toBeGreaterThanOrEqual(0.19);
    expect(moved).toBeLessThanOrEqual(1.5 * 0.2);
  });

  it("grows the table to at least 100 slots per server", () => {
    const servers = Array.from({ length: 700 }, (_, i) => ({ id: `s${i}` }));
    const ring = createHashRing({ algorithm: "maglev", servers });
    expect(Math.min(...ring.shares().values())).toBeGreaterThan(0);
  });
});

describe("modulo (map-based)", () => {
  it("moves most keys when a server is removed: what consistent hashing avoids", () => {
    const before = createHashRing({ algorithm: "modulo", servers: three });
    const after = createHashRing({ algorithm: "modulo", servers: three.slice(0, 2) });
    const moved = keys.filter((k) => before.pick(k) !== after.pick(k)).length / keys.length;
    expect(moved).toBeGreaterThan(0.5);
  });
});

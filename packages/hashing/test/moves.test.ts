import { describe, expect, it } from "@jest/globals";
import { ALGORITHMS, createHashRing } from "../src/create.js";
import { keyspaceMoves } from "../src/moves.js";
import { ipv4Keys } from "./helpers.js";

// Explicit numeric ids: HAProxy's placement otherwise follows list order.
const three = [
  { id: "app1", numericId: 1 },
  { id: "app2", numericId: 2 },
  { id: "app3", numericId: 3 },
];

describe.each(ALGORITHMS)("%s: pickHash and keyspaceMoves", (algorithm) => {
  it("pickHash(hashKey(k)) is pick(k)", () => {
    const ring = createHashRing({ algorithm, servers: three });
    for (const key of ipv4Keys(2_000))
      expect(ring.pickHash(ring.hashKey(key))).toBe(ring.pick(key));
  });

  it("finds nothing moving between equal tables", () => {
    const a = createHashRing({ algorithm, servers: three });
    const b = createHashRing({ algorithm, servers: [...three].reverse() });
    expect(keyspaceMoves(a, b, 4096)).toEqual({ moved: 0, flows: [] });
  });

  it("agrees with the shares when a server leaves", () => {
    const before = createHashRing({ algorithm, servers: three });
    const after = createHashRing({ algorithm, servers: three.filter((s) => s.id !== "app2") });
    const moves = keyspaceMoves(before, after);
    const share = before.shares().get("app2")!;
    // Every flow is in the sampled fractions, so the total is exact to 1/65536
    // per slice boundary: compare with the share within a small tolerance.
    const fromApp2 = moves.flows.filter((f) => f.from === "app2");
    const total = fromApp2.reduce((sum, f) => sum + f.share, 0);
    expect(Math.abs(total - share)).toBeLessThan(0.002);
    if (algorithm === "maglev") {
      // Maglev trades a little disruption for balance: ~0.1% more than ideal.
      expect(moves.moved).toBeLessThan(total * 1.01);
    } else if (algorithm !== "modulo") {
      // Consistent placements move only the leaving server's keys.
      expect(moves.flows.every((f) => f.from === "app2")).toBe(true);
      expect(moves.moved).toBeCloseTo(total, 10);
    } else {
      // Map-based hashing reshuffles keys between the survivors too.
      expect(moves.moved).toBeGreaterThan(total + 0.1);
    }
  });
});

describe("keyspaceMoves", () => {
  it("reports keys gaining an owner and losing every owner", () => {
    const none = createHashRing({ servers: [] });
    const one = createHashRing({ servers: [{ id: "a" }] });
    expect(keyspaceMoves(none, one, 64)).toEqual({
      moved: 1,
      flows: [{ from: undefined, to: "a", share: 1 }],
    });
    expect(keyspaceMoves(one, none, 64).flows).toEqual([{ from: "a", to: undefined, share: 1 }]);
  });

  it("lists flows largest first and rejects a bad sample count", () => {
    const before = createHashRing({ servers: three });
    const after = createHashRing({ servers: [...three, { id: "app4", weight: 3 }] });
    const { flows, moved } = keyspaceMoves(before, after);
    expect(flows.map((f) => f.to)).toEqual(["app4", "app4", "app4"]);
    for (let i = 1; i < flows.length; i++)
      expect(flows[i]!.share).toBeLessThanOrEqual(flows[i - 1]!.share);
    expect(moved).toBeCloseTo(0.5, 1);
    expect(() => keyspaceMoves(before, after, 0)).toThrow(/samples must be an integer/);
  });
});

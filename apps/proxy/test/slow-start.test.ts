import { afterEach, describe, expect, it } from "@jest/globals";
import { FULL, rampAt } from "../src/control-plane/slow-start.js";
import { Membership } from "../src/control-plane/membership.js";
import { buildPlacement, rampedLimit } from "../src/data-plane/placement.js";
import {
  clientAddresses,
  configProblems,
  get,
  mapLimit,
  startBackend,
  startProxy,
  waitFor,
  type Backend,
} from "./harness.js";

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

const SETTINGS = {
  hashType: "consistent" as const,
  balance: { kind: "source" as const },
  balanceFactor: undefined,
};
const url = (port: number) => new URL(`http://127.0.0.1:${port}`);
const keys = clientAddresses(2000);

/**
 * A membership of app1..app3 (of `weight`) on a clock the test moves, which
 * stands `phase` ms into a second of the wall clock at the start; the
 * changes it reported.
 */
function warmingMembership(slowStartMs: number, phase = 0, weight = 1) {
  let now = 1_000_000;
  const changes: [string, boolean][] = [];
  const membership = new Membership(
    [1, 2, 3].map((n) => ({ id: `app${n}`, url: url(5000 + n), weight })),
    {
      rise: 1,
      fall: 1,
      slowStartMs,
      now: () => now,
      wallNow: () => now + phase,
      onChange: (reason, step) => changes.push([reason, step ?? false]),
    },
  );
  membership.goLive();
  const owners = () => {
    const { ring } = buildPlacement(membership.list(), SETTINGS, 1);
    return keys.map((k) => ring.pick(k));
  };
  return { membership, changes, owners, advance: (ms: number) => (now += ms) };
}

describe("slow start: the ramp", () => {
  it("takes HAProxy's levels: sixteenths of the weight and percents of maxconn, a second apart", () => {
    const levels = (duration: number) =>
      Array.from({ length: Math.ceil(duration / 1000) + 1 }, (_, k) => rampAt(k * 1000, duration));
    // floor((16k + S) / S) / 16 and floor(100k / S) percent, k the seconds turned: 1/16 at once.
    expect(levels(6_000).map((r) => r.weight * 16)).toEqual([1, 3, 6, 9, 11, 14, 16]);
    expect(levels(6_000).map((r) => r.conns)).toEqual([0, 16, 33, 50, 66, 83, 100]);
    expect(levels(20_000).map((r) => r.weight * 16)).toEqual([
      1, 1, 2, 3, 4, 5, 5, 6, 7, 8, 9, 9, 10, 11, 12, 13, 13, 14, 15, 16, 16,
    ]);
    // A step every second, whatever the duration (not SLOWSTART/20 for long ones).
    expect(rampAt(2_999, 60_000)).toEqual({ weight: 1 / 16, conns: 3 });
    expect(rampAt(12_000, 60_000)).toEqual({ weight: 4 / 16, conns: 20 });
    // The weight is whole before the end; maxconn is not: the ramp goes on.
    expect(rampAt(57_000, 60_000)).toEqual({ weight: 1, conns: 95 });
    expect(rampAt(60_000, 60_000)).toBe(FULL);
    // Whole seconds, rounded up, as HAProxy keeps slowstart.
    expect(rampAt(0, 500)).toEqual({ weight: 1 / 16, conns: 0 });
    expect(rampAt(1_000, 500)).toBe(FULL);
    // Seconds turned on the wall clock: a change 500 ms into a second is a second old 600 ms later.
    expect(rampAt(600, 6_000, 500)).toEqual({ weight: 3 / 16, conns: 16 });
    expect(rampAt(0, 0)).toBe(FULL);
    // maxconn: at least 1, floor of the percent.
    expect([0, 16, 50, 99, 100].map((conns) => rampedLimit(40, conns))).toEqual([1, 6, 20, 39, 40]);
    expect(rampedLimit(0, 50)).toBe(0);
  });
});

describe("slow start: which servers warm up, and how their clients come back", () => {
  it("a server back up takes its clients back step by step, and only its own", () => {
    const { membership, changes, owners, advance } = warmingMembership(20_000);
    const before = owners();
    membership.recordCheck("app2", false, "refused");
    const down = owners();
    expect(down.includes("app2")).toBe(false);
    membership.recordCheck("app2", true, "200");
    expect(membership.get("app2")!.ramp).toBe(1 / 16);
    let previous = owners();
    const counts = [previous.filter((o) => o === "app2").length];
    // The first step lasts from the start to 1 s; the 20th ends the ramp at 20 s.
    for (let step = 0; step < 20; step++) {
      advance(1000);
      membership.stepRamps();
      const now = owners();
      // A step moves clients only onto the warming server, never between others.
      now.forEach((owner, i) => {
        if (owner !== "app2") expect(owner).toBe(previous[i]);
      });
      previous = now;
      counts.push(now.filter((o) => o === "app2").length);
    }
    // Its share grew in steps from about a sixteenth of its own to all of it.
    const full = before.filter((o) => o === "app2").length;
    expect(counts[0]!).toBeLessThan(full * 0.15);
    expect(counts.slice(1).every((c, i) => c >= counts[i]!)).toBe(true);
    expect(counts[10]!).toBeGreaterThan(full * 0.3); // 10 s in: 9/16
    expect(counts[10]!).toBeLessThan(full * 0.7);
    expect(previous).toEqual(before);
    expect(membership.get("app2")).toMatchObject({ ramp: 1, warmSince: undefined });
    // Steps are logged quietly, the end is an event. Over 20 s the weight goes 1, 1, 2, 3, 4,
    // 5, 5, 6 ... sixteenths: a step that keeps it (and no maxconn to grow) rebuilds nothing.
    const slow = changes.filter(([reason]) => reason.startsWith("slow start"));
    expect(slow).toHaveLength(16);
    expect(slow.at(-1)).toEqual(["slow start: app2 at full weight (slow start over)", false]);
    expect(slow.slice(0, -1).every(([, step]) => step)).toBe(true);
    // Nothing more to step.
    advance(1000);
    membership.stepRamps();
    expect(changes.filter(([reason]) => reason.startsWith("slow start"))).toHaveLength(16);
  });

  it("grows maxconn from 1 by the seconds turned, as HAProxy does", () => {
    const { membership, advance } = warmingMembership(20_000);
    membership.setMaxconn("app1", 40);
    membership.setAdmin("app1", "maint");
    membership.setAdmin("app1", "ready");
    const maxconn = () => buildPlacement(membership.list(), SETTINGS, 1).maxconn.get("app1");
    expect(maxconn()).toBe(1); // 0%, at least 1
    advance(9_200);
    membership.stepRamps();
    expect(maxconn()).toBe(18); // 45%
    advance(10_000);
    membership.stepRamps();
    expect(maxconn()).toBe(38); // 95%: the weight is whole already, the ramp goes on
    expect(membership.get("app1")!.ramp).toBe(1);
    advance(1_000);
    membership.stepRamps();
    expect(maxconn()).toBe(40);
    expect(membership.get("app1")!.warmSince).toBeUndefined();
  });

  it("warms a server leaving maintenance or joining at run time, not one leaving drain or there from the start", () => {
    const { membership } = warmingMembership(20_000);
    expect(membership.list().map((m) => m.ramp)).toEqual([1, 1, 1]);
    membership.setAdmin("app1", "drain");
    membership.setAdmin("app1", "ready");
    expect(membership.get("app1")!.ramp).toBe(1);
    membership.setAdmin("app1", "maint");
    membership.setAdmin("app1", "ready");
    expect(membership.get("app1")!.ramp).toBe(1 / 16);
    membership.add({ id: "app4", url: url(5004), weight: 1 });
    expect(membership.get("app4")!.ramp).toBe(1 / 16);
    membership.sync("web", [{ id: "web-10.0.0.9-80", url: url(5009), weight: 1 }]);
    expect(membership.get("web-10.0.0.9-80")!.ramp).toBe(1 / 16);
    // Going down ends a slow start; coming back starts a new one.
    membership.markDown("app4", "refused");
    expect(membership.get("app4")).toMatchObject({ ramp: 1, warmSince: undefined });
  });

  it("times each ramp's steps from its own start, not by a clock shared by all", () => {
    const { membership, advance } = warmingMembership(6_000);
    expect(membership.nextStepIn()).toBeUndefined();
    membership.setAdmin("app1", "maint");
    membership.setAdmin("app1", "ready");
    expect(membership.nextStepIn()).toBe(1000);
    advance(300);
    membership.setAdmin("app2", "maint");
    membership.setAdmin("app2", "ready");
    // app1's next step is the sooner, 1 s after app1 left maintenance.
    expect(membership.nextStepIn()).toBe(700);
    advance(701);
    membership.stepRamps();
    expect(membership.get("app1")!.ramp).toBe(3 / 16);
    expect(membership.get("app2")!.ramp).toBe(1 / 16); // 701 ms: its first step is not due
    // Then app2's, 1 s after it left maintenance.
    expect(membership.nextStepIn()).toBe(299);
    advance(300);
    membership.stepRamps();
    expect(membership.get("app2")!.ramp).toBe(3 / 16);
    advance(5_000);
    membership.stepRamps();
    expect(membership.list().map((m) => m.ramp)).toEqual([1, 1, 1]);
    expect(membership.nextStepIn()).toBeUndefined();
  });

  it("never loses a step that falls between taking one and arming for the next", () => {
    const { membership, advance } = warmingMembership(6_000);
    membership.setAdmin("app1", "maint");
    membership.setAdmin("app1", "ready");
    advance(999);
    membership.stepRamps(); // not due yet
    advance(2); // the step at 1 s passes before the timer is armed again
    expect(membership.nextStepIn()).toBe(0);
    membership.stepRamps();
    expect(membership.get("app1")!.ramp).toBe(3 / 16);
    expect(membership.nextStepIn()).toBe(999);
  });

  it("starts a ramp again when the server enters or leaves drain during it, not after it", () => {
    const { membership, advance } = warmingMembership(6_000);
    membership.setAdmin("app1", "maint");
    membership.setAdmin("app1", "ready");
    advance(2_300);
    membership.stepRamps();
    membership.setAdmin("app1", "drain"); // its seconds count from here
    advance(4_900); // 7.2 s after the first change, 4.9 s into the one drain started
    membership.stepRamps();
    expect(membership.get("app1")!.warmSince).toBeDefined();
    membership.setAdmin("app1", "ready"); // and from here
    expect(membership.get("app1")!.ramp).toBe(1 / 16);
    advance(6_000);
    membership.stepRamps();
    expect(membership.get("app1")!.ramp).toBe(1);
    membership.setAdmin("app1", "drain");
    membership.setAdmin("app1", "ready");
    expect(membership.get("app1")).toMatchObject({ ramp: 1, warmSince: undefined });
  });

  it("keeps a cut-short ramp's step schedule when it starts again before its next step, as HAProxy's warm-up task does", () => {
    const { membership, advance } = warmingMembership(6_000, 300, 10);
    membership.setAdmin("app2", "maint");
    membership.setAdmin("app2", "ready"); // 300 ms into a second; steps at +1 s, +2 s ...
    advance(2_200);
    membership.stepRamps();
    membership.setAdmin("app2", "maint");
    advance(300);
    membership.setAdmin("app2", "ready"); // 800 ms into a second; the step at +3 s still stands
    expect(membership.get("app2")!.ramp).toBe(1 / 16);
    expect(membership.nextStepIn()).toBe(200); // the wall clock's second turns first
    advance(550); // the old schedule's step, 0.55 s after ready: one second turned since
    membership.stepRamps();
    expect(membership.get("app2")!.ramp).toBe(3 / 16);
    // Down for longer than a step, the schedule runs out: it starts afresh.
    membership.setAdmin("app2", "maint");
    const at = advance(1_500);
    membership.stepRamps();
    expect(membership.get("app2")!.stepDue).toBeUndefined();
    membership.setAdmin("app2", "ready");
    expect(membership.get("app2")!.stepDue).toBe(at + 1000);
  });

  it("grows maxconn when the wall clock's second turns, not at the weight's step", () => {
    const { membership, advance, changes } = warmingMembership(20_000, 700, 10);
    membership.setMaxconn("app2", 40);
    membership.setAdmin("app2", "maint");
    membership.setAdmin("app2", "ready"); // 700 ms into a second
    const maxconn = () => buildPlacement(membership.list(), SETTINGS, 1).maxconn.get("app2");
    expect(maxconn()).toBe(1);
    expect(membership.nextStepIn()).toBe(300);
    advance(301); // the second turned: 5%
    membership.stepRamps();
    expect(maxconn()).toBe(2);
    expect(membership.get("app2")!.ramp).toBe(1 / 16);
    expect(changes.at(-1)).toEqual(["slow start: app2 at 6%, maxconn at 5%", true]);
  });

  it("recomputes a warming server's level when its weight changes, at the seconds turned then", () => {
    const { membership, advance } = warmingMembership(6_000, 780, 10);
    membership.setAdmin("app2", "maint");
    membership.setAdmin("app2", "ready"); // 780 ms into a second
    advance(2_000);
    membership.stepRamps(); // the step at 2 s: 2.78 s on the wall clock, two seconds turned
    expect(membership.get("app2")!.ramp).toBe(6 / 16);
    advance(410); // 0.19 s into the next second: three turned
    membership.setWeight("app2", 20);
    expect(membership.get("app2")!.ramp).toBe(9 / 16);
  });

  it("does nothing without SLOWSTART", () => {
    const { membership } = warmingMembership(0);
    membership.recordCheck("app2", false, "refused");
    membership.recordCheck("app2", true, "200");
    membership.add({ id: "app4", url: url(5004), weight: 1 });
    expect(membership.list().map((m) => m.ramp)).toEqual([1, 1, 1, 1]);
  });
});

describe("SLOWSTART in a running proxy", () => {
  it("brings a server back up over SLOWSTART, its clients returning in steps", async () => {
    const backends: Backend[] = [];
    for (const n of [1, 2, 3]) backends.push(await startBackend(n));
    cleanup.push(() => Promise.all(backends.map((b) => b.kill().catch(() => undefined))));
    // 10 s: a loaded machine must not get through most of the ramp before the first look.
    const running = await startProxy(backends, {
      SLOWSTART: "10s",
      HEALTH_RISE: "1",
      MAXCONN: "40",
    });
    cleanup.push(() => running.stop());
    const clients = clientAddresses(300);
    const owners = async () =>
      (await mapLimit(clients, 32, (from) => get(running.port, { from }))).map((r) => r.backend);
    const before = await owners();
    const app2 = before.filter((o) => o === "app2").length;
    expect(app2).toBeGreaterThan(50);

    await backends[1]!.kill();
    await get(running.port, { from: clients[before.indexOf("app2")]! }); // ejects it
    await backends[1]!.restore();
    const servers = async () =>
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      ((await (await fetch(`http://127.0.0.1:${running.adminPort}/api/servers`)).json()) as any)
        .servers as {
        id: string;
        health: string;
        rampPercent: number;
        maxconn: number;
        maxconnNow: number;
      }[];
    await waitFor(
      async () => (await servers()).find((s) => s.id === "app2")!.health === "up",
      5000,
    );
    const warming = (await servers()).find((s) => s.id === "app2")!;
    const rampEarly = warming.rampPercent;
    // Its limit grows from 1 with the seconds turned, and the API says which applies now.
    expect(warming.maxconn).toBe(40);
    expect(rampEarly).toBeLessThan(60);
    expect(warming.maxconnNow).toBeGreaterThanOrEqual(1);
    expect(warming.maxconnNow).toBeLessThan(24); // under 60% of 40
    const early = await owners();
    const earlyCount = early.filter((o) => o === "app2").length;
    expect(earlyCount).toBeLessThan(app2 * 0.75);
    // Only app2's own clients move back, and all of them by the end.
    early.forEach((owner, i) => {
      if (owner === "app2") expect(before[i]).toBe("app2");
    });
    await waitFor(
      async () => (await servers()).find((s) => s.id === "app2")!.rampPercent === 100,
      15_000,
    );
    expect(await owners()).toEqual(before);
  }, 40_000);

  it("refuses SLOWSTART with map-based placement and an invalid duration, naming the setting", () => {
    expect(configProblems({ SLOWSTART: "10s", HASH_TYPE: "map-based" })).toEqual([
      expect.stringMatching(/^SLOWSTART="10s": HASH_TYPE=map-based cannot raise a weight in steps/),
    ]);
    expect(configProblems({ SLOWSTART: "soon" })).toEqual([
      expect.stringMatching(/^SLOWSTART="soon": expected a duration/),
    ]);
    expect(configProblems({ SLOWSTART: "30s" })).toEqual([]);
  });
});

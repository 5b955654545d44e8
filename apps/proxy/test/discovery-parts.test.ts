// DNS discovery's parts: the search rules of resolv.conf, a group's states
// (pure), SRV weights, and the resolver against a real DNS server on loopback.

import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createGroupResolver } from "../src/control-plane/discovery/resolve.js";
import { candidateNames, parseResolvConf } from "../src/control-plane/discovery/resolv-conf.js";
import {
  INITIAL,
  nextState,
  serverWeights,
  type GroupState,
} from "../src/control-plane/discovery/group-state.js";
import { parseDnsGroup, type DnsGroupSpec } from "../src/control-plane/servers.js";
import { startDnsServer, type DnsServer } from "./dns-server.js";

describe("resolv.conf search rules", () => {
  it("reads search, domain and ndots, the last line of each winning", () => {
    const pod = parseResolvConf(
      "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 timeout:2 # comment\n",
    );
    expect(pod).toEqual({
      search: ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"],
      ndots: 5,
    });
    expect(parseResolvConf("domain a.example\nsearch b.example.\n")).toEqual({
      search: ["b.example"],
      ndots: 1,
    });
    expect(parseResolvConf("")).toEqual({ search: [], ndots: 1 });
  });

  it("tries search domains first for short names, the name first for long ones, only the name when it ends in a dot", () => {
    const pod = { search: ["default.svc.cluster.local", "svc.cluster.local"], ndots: 5 };
    expect(candidateNames("_http._tcp.web", pod)).toEqual([
      "_http._tcp.web.default.svc.cluster.local",
      "_http._tcp.web.svc.cluster.local",
      "_http._tcp.web",
    ]);
    const docker = { search: ["corp.example"], ndots: 0 };
    expect(candidateNames("web", docker)).toEqual(["web", "web.corp.example"]);
    expect(candidateNames("web.example.com.", pod)).toEqual(["web.example.com"]);
  });
});

describe("a DNS group's state", () => {
  const a = { address: "10.0.0.1", port: 80, weight: 1 };
  const b = { address: "10.0.0.2", port: 80, weight: 1 };
  const ok = (...endpoints: (typeof a)[]) => ({ kind: "ok" as const, endpoints, name: "web" });
  const error = { kind: "error" as const, detail: "web: ETIMEOUT" };
  const empty = { kind: "empty" as const, detail: "web: ENOTFOUND" };
  const HOLD = 30_000;
  const run = (steps: [number, Parameters<typeof nextState>[1]][]) =>
    steps.reduce<GroupState[]>(
      (states, [at, answer]) => [...states, nextState(states.at(-1) ?? INITIAL, answer, at, HOLD)],
      [],
    );

  it("publishes what DNS names, sorted whatever the order of the answer", () => {
    const [first] = run([[1000, ok(b, a)]]);
    expect(first).toEqual({ status: "ok", endpoints: [a, b], since: 1000, detail: "" });
  });

  it("keeps the last good set, stale, for as long as DNS fails, however long", () => {
    const states = run([
      [1000, ok(a, b)],
      [2000, error],
      [500_000, error],
      [600_000, ok(a)],
    ]);
    expect(states[1]).toMatchObject({ status: "stale", endpoints: [a, b], since: 2000 });
    expect(states[2]).toMatchObject({ status: "stale", endpoints: [a, b], since: 2000 });
    expect(states[3]).toMatchObject({ status: "ok", endpoints: [a], since: 600_000 });
  });

  it("keeps servers of a name with no records for the hold time, then publishes none", () => {
    const states = run([
      [1000, ok(a, b)],
      [2000, empty],
      [2000 + HOLD - 1, empty],
      [2000 + HOLD, empty],
    ]);
    expect(states[1]).toMatchObject({ status: "empty", endpoints: [a, b], since: 2000 });
    expect(states[2]!.endpoints).toEqual([a, b]);
    expect(states[3]).toMatchObject({ status: "empty", endpoints: [], since: 2000 });
  });

  it("a failure during the hold keeps the servers (never emptied by a failing DNS)", () => {
    const states = run([
      [1000, ok(a)],
      [2000, empty],
      [3000, error],
      [2000 + HOLD + 10, error],
    ]);
    expect(states[3]).toMatchObject({ status: "stale", endpoints: [a] });
  });

  it("counts the hold from the first answer with no records: a failure between two does not restart it", () => {
    const states = run([
      [1000, ok(a)],
      [2000, empty],
      [8000, error],
      [16_000, empty],
      [2000 + HOLD - 1, empty],
      [2000 + HOLD, empty],
    ]);
    expect(states[3]).toMatchObject({ status: "empty", endpoints: [a], since: 16_000 });
    expect(states[4]!.endpoints).toEqual([a]);
    expect(states[5]).toMatchObject({ status: "empty", endpoints: [] });
    // A good answer ends it: the next name with no records starts a new hold.
    const again = run([
      [1000, ok(a)],
      [2000, empty],
      [3000, ok(a)],
      [4000, empty],
      [2000 + HOLD, empty],
    ]);
    expect(again[4]!.endpoints).toEqual([a]);
  });

  it("publishes a partial answer (one family failed) as it is, stale; one server per address and port", () => {
    const v6 = { address: "fd00::1", port: 80, weight: 1 };
    const partial = (...endpoints: (typeof a)[]) => ({
      kind: "partial" as const,
      endpoints,
      name: "web",
      detail: "AAAA of web: ETIMEOUT",
    });
    const states = run([
      [1000, ok(a, v6)],
      [2000, partial(a, b, v6)],
      [3000, partial(b, v6)],
      [4000, ok(b)],
    ]);
    expect(states[1]).toMatchObject({ status: "stale", endpoints: [a, b, v6], since: 2000 });
    expect(states[2]).toMatchObject({ status: "stale", endpoints: [b, v6], since: 2000 });
    expect(states[3]).toMatchObject({ status: "ok", endpoints: [b] });
    // Two SRV records naming one address and port: one server, their weights added.
    const twice = run([[1000, ok(a, { ...b, weight: 10 }, { ...b, weight: 30 })]]);
    expect(twice[0]!.endpoints).toEqual([a, { ...b, weight: 40 }]);
  });

  it("has no servers until the name first resolves", () => {
    const states = run([
      [1000, error],
      [2000, empty],
      [3000, ok(a)],
    ]);
    expect(states[0]).toMatchObject({ status: "unresolved", endpoints: [] });
    expect(states[1]).toMatchObject({ status: "unresolved", endpoints: [] });
    expect(states[2]).toMatchObject({ status: "ok", endpoints: [a] });
  });
});

describe("SRV weights as server weights", () => {
  it("divides by the greatest common divisor, keeps 0 as no keys, reads all-0 as equal", () => {
    expect(serverWeights([33, 33, 33], 256)).toEqual([1, 1, 1]);
    expect(serverWeights([10, 20, 30], 256)).toEqual([1, 2, 3]);
    expect(serverWeights([0, 5, 10], 256)).toEqual([0, 1, 2]);
    expect(serverWeights([0, 0], 256)).toEqual([1, 1]);
    expect(serverWeights([1, 65535], 256)).toEqual([1, 256]);
  });
});

describe("the resolver, against a DNS server on loopback", () => {
  let server: DnsServer;
  beforeAll(async () => {
    server = await startDnsServer();
  });
  afterAll(() => server.close());

  const resolver = (search: string[] = [], ndots = 1) =>
    createGroupResolver({ servers: [server.address], timeoutMs: 300, rules: { search, ndots } });
  const group = (url: string) => parseDnsGroup(undefined, url) as DnsGroupSpec;

  it("finds every A and AAAA address of a name, on the group's port", async () => {
    server.zone.set("web.test", { a: ["10.1.0.1", "10.1.0.2"], aaaa: ["fd00::7"] });
    const answer = await resolver().resolve(group("dns://web.test:5000"));
    expect(answer.kind).toBe("ok");
    if (answer.kind !== "ok") return;
    expect(answer.endpoints.map((e) => `${e.address}:${e.port}`).sort()).toEqual([
      "10.1.0.1:5000",
      "10.1.0.2:5000",
      "fd00::7:5000",
    ]);
  });

  it("follows SRV records of the first priority to their targets, ports and weights", async () => {
    server.zone.set("_http._tcp.api.test", {
      srv: [
        { priority: 0, weight: 10, port: 7001, target: "a.api.test" },
        { priority: 0, weight: 20, port: 7002, target: "b.api.test" },
        { priority: 5, weight: 10, port: 7003, target: "backup.api.test" },
      ],
    });
    server.zone.set("a.api.test", { a: ["10.2.0.1"] });
    server.zone.set("b.api.test", { a: ["10.2.0.2"] });
    server.zone.set("backup.api.test", { a: ["10.2.0.9"] });
    const answer = await resolver().resolve(group("dns+srv://_http._tcp.api.test"));
    expect(answer.kind === "ok" && answer.endpoints.sort((x, y) => x.port - y.port)).toEqual([
      { address: "10.2.0.1", port: 7001, weight: 10 },
      { address: "10.2.0.2", port: 7002, weight: 20 },
    ]);
  });

  it("applies search domains, as a pod's resolv.conf asks", async () => {
    server.zone.set("_http._tcp.web.ns1.svc.test", {
      srv: [{ priority: 0, weight: 1, port: 8080, target: "pod1.ns1.svc.test" }],
    });
    server.zone.set("pod1.ns1.svc.test", { a: ["10.3.0.1"] });
    const answer = await resolver(["ns1.svc.test", "svc.test"], 5).resolve(
      group("dns+srv://_http._tcp.web"),
    );
    expect(answer).toMatchObject({ kind: "ok", name: "_http._tcp.web.ns1.svc.test" });
  });

  it("tells a name with no records (empty) from DNS that cannot answer (error)", async () => {
    server.zone.set("gone.test", { fails: "nxdomain" });
    server.zone.set("broken.test", { fails: "servfail" });
    server.zone.set("refusing.test", { fails: "refused" });
    server.zone.set("silent.test", { fails: "timeout" });
    server.zone.set("nodata.test", { aaaa: [] });
    const r = resolver();
    expect((await r.resolve(group("dns://gone.test:1"))).kind).toBe("empty");
    expect((await r.resolve(group("dns://nodata.test:1"))).kind).toBe("empty");
    expect((await r.resolve(group("dns://broken.test:1"))).kind).toBe("error");
    expect((await r.resolve(group("dns://refusing.test:1"))).kind).toBe("error");
    const started = performance.now();
    expect((await r.resolve(group("dns://silent.test:1"))).kind).toBe("error");
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it("takes an address as it is, without asking DNS, whatever the search domains", async () => {
    const before = server.queries.length;
    const r = resolver(["a.test"], 5);
    expect(
      await r.resolve(parseDnsGroup("v6", "dns://[fd00::9]:81") as DnsGroupSpec),
    ).toMatchObject({
      kind: "ok",
      endpoints: [{ address: "fd00::9", port: 81, weight: 1 }],
    });
    expect(await r.resolve(group("dns://10.9.0.1:82"))).toMatchObject({
      kind: "ok",
      endpoints: [{ address: "10.9.0.1", port: 82, weight: 1 }],
    });
    expect(server.queries.length).toBe(before);
  });

  it("fills a family whose query fails in from that name's last answer, target by target", async () => {
    const r = resolver();
    const addressesOf = (answer: Awaited<ReturnType<typeof r.resolve>>) =>
      "endpoints" in answer ? answer.endpoints.map((e) => `${e.address}:${e.port}`).sort() : [];
    server.zone.set("half.test", { a: ["10.4.0.1"], aaaa: ["fd00::41"] });
    expect((await r.resolve(group("dns://half.test:80"))).kind).toBe("ok");
    // AAAA fails, A now names two: the new one comes, the IPv6 one is its last answer.
    server.zone.set("half.test", { a: ["10.4.0.1", "10.4.0.2"], aaaaFails: "servfail" });
    const half = await r.resolve(group("dns://half.test:80"));
    expect(half).toMatchObject({ kind: "partial", detail: "AAAA of half.test: ESERVFAIL" });
    expect(addressesOf(half)).toEqual(["10.4.0.1:80", "10.4.0.2:80", "fd00::41:80"]);
    // Never answered before: the family that answered alone.
    server.zone.set("halfsilent.test", { a: ["10.4.0.3"], aaaaFails: "timeout" });
    expect(addressesOf(await r.resolve(group("dns://halfsilent.test:80")))).toEqual([
      "10.4.0.3:80",
    ]);
    // SRV targets failing in different families each keep their own last answers.
    server.zone.set("_http._tcp.mixed.test", {
      srv: [
        { priority: 0, weight: 1, port: 7011, target: "t1.mixed.test" },
        { priority: 0, weight: 1, port: 7012, target: "t2.mixed.test" },
      ],
    });
    server.zone.set("t1.mixed.test", { a: ["10.5.0.1"], aaaa: ["fd00::51"] });
    server.zone.set("t2.mixed.test", { a: ["10.5.0.2"], aaaa: ["fd00::52"] });
    const all = ["10.5.0.1:7011", "10.5.0.2:7012", "fd00::51:7011", "fd00::52:7012"];
    const srv = group("dns+srv://_http._tcp.mixed.test");
    expect(addressesOf(await r.resolve(srv))).toEqual(all);
    server.zone.set("t1.mixed.test", { a: ["10.5.0.1"], aaaaFails: "servfail" });
    server.zone.set("t2.mixed.test", { aaaa: ["fd00::52"], aFails: "servfail" });
    for (let i = 0; i < 3; i++) expect(addressesOf(await r.resolve(srv))).toEqual(all);
    // A target no longer named takes its addresses with it, whatever fails elsewhere.
    server.zone.set("_http._tcp.mixed.test", {
      srv: [{ priority: 0, weight: 1, port: 7011, target: "t1.mixed.test" }],
    });
    expect(addressesOf(await r.resolve(srv))).toEqual(["10.5.0.1:7011", "fd00::51:7011"]);
    // Both failing is DNS saying nothing.
    server.zone.set("half.test", { fails: "servfail" });
    expect((await r.resolve(group("dns://half.test:80"))).kind).toBe("error");
  });

  it("asks a name written with a final dot only as written", async () => {
    server.zone.set("solo.test", { a: ["10.6.0.1"] });
    const answer = await resolver(["x.test"], 5).resolve(group("dns://solo.test.:80"));
    expect(answer).toMatchObject({ kind: "ok", endpoints: [{ address: "10.6.0.1", port: 80 }] });
    expect(server.queries.filter((q) => q.includes("solo.test.x.test"))).toEqual([]);
  });

  it("reads a failure under one search domain as an error, even when the next says NXDOMAIN", async () => {
    server.zone.set("web.a.test", { fails: "servfail" });
    const answer = await resolver(["a.test", "b.test"], 5).resolve(group("dns://web:80"));
    expect(answer.kind).toBe("error");
  });
});

// CLIENT_RATE: a token bucket per client address. The bucket alone (time
// passed in), then through a proxy: a burst, its refill, other clients
// untouched, the client a trusted proxy names, upgrades, the 429's
// Retry-After and its count in the metrics.

import { request } from "node:http";
import { describe, expect, it } from "@jest/globals";
import { describeRate, parseRate, RateLimiter } from "../src/data-plane/client-rate.js";
import { loadConfig } from "../src/config.js";
import { clientAddresses, configProblems, get, useTopology } from "./harness.js";
import { converse } from "./raw-client.js";

describe("RateLimiter", () => {
  it("lets a burst through at once, then one request per 1/rate seconds", () => {
    const limiter = new RateLimiter({ perSecond: 10, burst: 3 });
    expect([0, 0, 0].map(() => limiter.take("a", 1000))).toEqual([0, 0, 0]);
    expect(limiter.take("a", 1000)).toBeCloseTo(0.1);
    expect(limiter.take("b", 1000)).toBe(0);
    // 50 ms: half a token; 100 ms: one.
    expect(limiter.take("a", 1050)).toBeCloseTo(0.05);
    expect(limiter.take("a", 1100)).toBe(0);
    expect(limiter.take("a", 1100)).toBeGreaterThan(0);
    // A long quiet spell refills to the burst, never beyond.
    for (let i = 0; i < 3; i++) expect(limiter.take("a", 60_000)).toBe(0);
    expect(limiter.take("a", 60_000)).toBeGreaterThan(0);
  });

  it("keeps at most maxClients, dropping full buckets first and never refusing a dropped client", () => {
    const limiter = new RateLimiter({ perSecond: 1, burst: 1 }, 100);
    for (let i = 0; i < 100; i++) limiter.take(`busy${i}`, 0);
    // Full again after a second: all may go to make room.
    expect(limiter.take("new", 5_000)).toBe(0);
    expect(limiter.size).toBeLessThanOrEqual(100);
    // None full: the oldest goes, one at a time.
    const tight = new RateLimiter({ perSecond: 1, burst: 1 }, 10);
    for (let i = 0; i < 10_000; i++) tight.take(`c${i}`, 0);
    expect(tight.size).toBe(10);
    expect(tight.take("c0", 0)).toBe(0);
    // The one seen longest ago goes first: a client seen again stays.
    const lru = new RateLimiter({ perSecond: 1, burst: 1 }, 3);
    for (const client of ["a", "b", "c"]) lru.take(client, 0);
    expect(lru.take("a", 0)).toBeGreaterThan(0);
    lru.take("d", 0); // b goes
    expect(lru.take("a", 0)).toBeGreaterThan(0);
    expect(lru.take("b", 0)).toBe(0);
  });

  it("says a rate as it was given", () => {
    expect(describeRate(100)).toBe("100 a second");
    expect(describeRate(20 / 60)).toBe("20 a minute");
    expect(describeRate(0.5)).toBe("30 a minute");
    expect(describeRate(1.5)).toBe("1.5 a second");
  });

  it("reads rates a second or a minute", () => {
    expect(parseRate("100/s")).toBe(100);
    expect(parseRate("600/m")).toBe(10);
    expect(parseRate(" 30 / min ")).toBe(0.5);
    expect(parseRate("25")).toBe(25);
    for (const bad of ["fast", "0/s", "-1/s", "10/h", "/s", ""])
      expect(parseRate(bad)).toBeUndefined();
  });
});

describe("CLIENT_RATE settings", () => {
  const problems = configProblems;

  it("is off by default; a burst of one second's worth unless CLIENT_RATE_BURST says", () => {
    expect(loadConfig({}).clientRate).toBeUndefined();
    expect(loadConfig({ CLIENT_RATE: "0" }).clientRate).toBeUndefined();
    expect(loadConfig({ CLIENT_RATE: "100/s" }).clientRate).toEqual({ perSecond: 100, burst: 100 });
    expect(loadConfig({ CLIENT_RATE: "60/m" }).clientRate).toEqual({ perSecond: 1, burst: 1 });
    expect(loadConfig({ CLIENT_RATE: "5/s", CLIENT_RATE_BURST: "20" }).clientRate).toEqual({
      perSecond: 5,
      burst: 20,
    });
  });

  it("refuses what it cannot read, naming the setting", () => {
    expect(problems({ CLIENT_RATE: "lots" })).toEqual([
      'CLIENT_RATE="lots": expected requests a second or a minute per client, as 100/s or 600/m (at most 1000000/s), or empty (no limit)',
    ]);
    expect(problems({ CLIENT_RATE: "10/s", CLIENT_RATE_BURST: "0" })).toEqual([
      'CLIENT_RATE_BURST="0": expected an integer from 1 to 1000000',
    ]);
    expect(problems({ CLIENT_RATE_BURST: "5" })).toEqual([
      "CLIENT_RATE: required when CLIENT_RATE_BURST is set (the rate the burst refills at)",
    ]);
  });
});

// Clients 127.0.220.x and a trusted proxy at 127.0.221.1.
const CLIENTS = clientAddresses(8, (220 << 8) - 255);
const topology = useTopology({
  env: { CLIENT_RATE: "2/s", CLIENT_RATE_BURST: "3", TRUSTED_PROXIES: "127.0.221.0/24" },
});

function getWithHeaders(
  port: number,
  from: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, localAddress: from, headers, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Sends the burst's three requests from `from`, each served: its bucket is then empty. */
async function spendBurst(from: string): Promise<void> {
  for (let i = 0; i < 3; i++) expect((await get(topology.running.port, { from })).status).toBe(200);
}

describe("CLIENT_RATE through the proxy", () => {
  it("answers 429 with Retry-After past the burst, serves again once the bucket refills, and leaves other clients alone", async () => {
    const port = topology.running.port;
    const [alice, bob] = CLIENTS;
    const burst = await Promise.all([1, 2, 3].map(() => get(port, { from: alice })));
    expect(burst.map((r) => r.status)).toEqual([200, 200, 200]);
    const refused = await getWithHeaders(port, alice!);
    expect(refused.status).toBe(429);
    expect(refused.headers["retry-after"]).toBe("1");
    expect(refused.headers["x-backend"]).toBeUndefined();
    expect(refused.body).toBe(
      `429 Too Many Requests: ${alice} sent more than 3 at once or 2 a second (CLIENT_RATE)\n`,
    );
    expect((await get(port, { from: bob })).status).toBe(200);
    // One token every 500 ms.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await get(port, { from: alice })).status).toBe(200);

    const text = await (
      await fetch(`http://127.0.0.1:${topology.running.adminPort}/metrics`)
    ).text();
    expect(text).toMatch(/^stickyring_requests_total\{backend="none",code="429"\} [1-9]/m);
  });

  it("counts the client a trusted proxy names, not the proxy", async () => {
    const port = topology.running.port;
    const via = "127.0.221.1";
    const statuses = [];
    for (const client of ["203.0.113.1", "203.0.113.2", "203.0.113.3"])
      for (let i = 0; i < 3; i++)
        statuses.push(
          (await get(port, { from: via, headers: { "x-forwarded-for": client } })).status,
        );
    expect(statuses.every((s) => s === 200)).toBe(true);
    const fourth = await get(port, { from: via, headers: { "x-forwarded-for": "203.0.113.3" } });
    expect(fourth.status).toBe(429);
  });

  it("refuses a WebSocket upgrade past the rate with the same 429", async () => {
    const carol = CLIENTS[2]!;
    await spendBurst(carol);
    const upgrade = await converse(
      topology.running.port,
      "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      { from: carol },
    );
    await upgrade.closed;
    expect(upgrade.text()).toMatch(/^HTTP\/1\.1 429 Too Many Requests\r\n/);
    expect(upgrade.text()).toMatch(/\r\nretry-after: [12]\r\n/);
  });

  it("closes the connection after a 429 whose body is still coming, rather than wait for it", async () => {
    const dave = CLIENTS[3]!;
    await spendBurst(dave);
    const upload = await converse(
      topology.running.port,
      "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\nfirst bytes",
      { from: dave },
    );
    await upload.closed;
    expect(upload.text()).toMatch(/^HTTP\/1\.1 429 Too Many Requests\r\n/);
    expect(upload.text()).toMatch(/\r\nconnection: close\r\n/i);
  });
});

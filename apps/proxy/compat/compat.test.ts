// Proof of the compatible placements: the same clients through real HAProxy
// 2.6 / nginx 1.22 and through stickyring in `haproxy` / `nginx` mode must
// reach the same backend, 100% of the time.

import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  clientAddresses,
  get,
  mapLimit,
  startBackend,
  startProxy,
  type Backend,
  type RunningProxy,
} from "../test/harness.js";
import { freePort } from "@stickyring/runtime";
import {
  startHaproxy,
  startHaproxyTcpFront,
  startNginx,
  type Reference,
  type Upstream,
} from "./references.js";

const CLIENTS = clientAddresses(2000);
const PATHS = Array.from({ length: 2000 }, (_, i) => `/catalog/${i % 37}/item-${i}.html`);

let backends: Backend[];
beforeAll(async () => {
  backends = await Promise.all([1, 2, 3, 4, 5].map(startBackend));
});
afterAll(async () => {
  await Promise.all(backends.map((b) => b.kill()));
});

const upstreams = (weights: number[]): Upstream[] =>
  weights.map((weight, i) => ({ id: backends[i]!.id, port: backends[i]!.port, weight }));

/** Where each request went, by the greeting of the backend that answered. */
async function placements(
  port: number,
  requests: { from?: string; path?: string }[],
): Promise<string[]> {
  return mapLimit(requests, 64, async (r) => {
    const reply = await get(port, r);
    expect(reply.status).toBe(200);
    return reply.body;
  });
}

/** GET /whoami from `from` with `cookie`: who answered, the Set-Cookie, and the Cookie it saw. */
function whoami(port: number, from: string, cookie: string | undefined) {
  return new Promise<{ app: string; setCookie: string | null; seen: string | null }>(
    (resolve, reject) => {
      const headers = cookie === undefined ? {} : { cookie };
      const req = request(
        { host: "127.0.0.1", port, path: "/whoami", localAddress: from, agent: false, headers },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => (body += d));
          res.on("end", () => {
            const parsed = JSON.parse(body) as { app: string; cookie: string | null };
            const setCookie = res.headers["set-cookie"];
            resolve({
              app: parsed.app,
              setCookie: setCookie === undefined ? null : setCookie.join(" | "),
              seen: parsed.cookie,
            });
          });
        },
      );
      req.on("error", reject);
      req.end();
    },
  );
}

/** Agreement of two placements, as a fraction, and the first disagreements for the message. */
function agreement(a: string[], b: string[], labels: string[]) {
  const differ = a
    .map((x, i) => (x === b[i] ? undefined : `${labels[i]}: ${x} vs ${b[i]}`))
    .filter(Boolean);
  return { agreed: (a.length - differ.length) / a.length, firstDifferences: differ.slice(0, 5) };
}

/** Both proxies send every request to the same backend. */
async function expectSamePlacement(
  theirPort: number,
  ourPort: number,
  requests: { from?: string; path?: string }[],
  labels: string[],
) {
  const result = agreement(
    await placements(theirPort, requests),
    await placements(ourPort, requests),
    labels,
  );
  expect(result).toEqual({ agreed: 1, firstDifferences: [] });
}

async function stickyringFor(list: Upstream[], env: Record<string, string>): Promise<RunningProxy> {
  const chosen = list.map((u) => backends.find((b) => b.id === u.id)!);
  return startProxy(chosen, { WEIGHTS: list.map((u) => `${u.id}=${u.weight}`).join(","), ...env });
}

describe.each([
  ["3 equal servers", [1, 1, 1]],
  ["5 servers weighted 1, 2, 3, 1, 5", [1, 2, 3, 1, 5]],
])("HashType haproxy against HAProxy 2.6, %s", (_, weights) => {
  let reference: Reference;
  let ours: RunningProxy;
  const list = () => upstreams(weights);

  afterAll(async () => {
    await reference?.stop();
    await ours?.stop();
  });

  it("balance source: every client address reaches the same backend", async () => {
    reference = await startHaproxy(await freePort(), "source", list());
    ours = await stickyringFor(list(), { HASH_TYPE: "haproxy" });
    const requests = CLIENTS.map((from) => ({ from }));
    await expectSamePlacement(reference.port, ours.port, requests, CLIENTS);
  });

  it("after app2 is disabled in HAProxy's runtime API and removed from stickyring", async () => {
    expect(await reference.command("disable server be/app2")).toBe("\n");
    const removed = await fetch(`http://127.0.0.1:${ours.adminPort}/api/servers/app2`, {
      method: "DELETE",
    });
    expect(removed.status).toBe(200);
    const requests = CLIENTS.map((from) => ({ from }));
    const theirs = await placements(reference.port, requests);
    expect(theirs).not.toContain("Hello from App 2");
    const result = agreement(theirs, await placements(ours.port, requests), CLIENTS);
    expect(result).toEqual({ agreed: 1, firstDifferences: [] });
    await reference.stop();
    await ours.stop();
  });

  it("balance uri: every path reaches the same backend, from any client", async () => {
    reference = await startHaproxy(await freePort(), "uri", list());
    ours = await stickyringFor(list(), { HASH_TYPE: "haproxy", BALANCE: "uri" });
    const requests = PATHS.map((path, i) => ({ path: `${path}?visit=${i}`, from: CLIENTS[i] }));
    await expectSamePlacement(reference.port, ours.port, requests, PATHS);
  });
});

describe.each([
  ["3 equal servers", [1, 1, 1]],
  ["5 servers weighted 1, 2, 3, 1, 5", [1, 2, 3, 1, 5]],
])("HashType nginx against nginx 1.22, %s", (_, weights) => {
  const started: { stop(): Promise<void> }[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
  });

  it("hash $remote_addr consistent: every client address reaches the same backend", async () => {
    const reference = await startNginx(await freePort(), "$remote_addr", upstreams(weights));
    const ours = await stickyringFor(upstreams(weights), { HASH_TYPE: "nginx" });
    started.push(reference, ours);
    const requests = CLIENTS.map((from) => ({ from }));
    await expectSamePlacement(reference.port, ours.port, requests, CLIENTS);
  });

  it("with app2 marked down in nginx and removed from stickyring", async () => {
    const reference = await startNginx(await freePort(), "$remote_addr", upstreams(weights), [
      "app2",
    ]);
    const ours = await stickyringFor(
      upstreams(weights).filter((u) => u.id !== "app2"),
      { HASH_TYPE: "nginx" },
    );
    started.push(reference, ours);
    const requests = CLIENTS.map((from) => ({ from }));
    const theirs = await placements(reference.port, requests);
    expect(theirs).not.toContain("Hello from App 2");
    const result = agreement(theirs, await placements(ours.port, requests), CLIENTS);
    expect(result).toEqual({ agreed: 1, firstDifferences: [] });
  });

  it("hash $request_uri consistent: every URI reaches the same backend", async () => {
    const reference = await startNginx(await freePort(), "$request_uri", upstreams(weights));
    const ours = await stickyringFor(upstreams(weights), {
      HASH_TYPE: "nginx",
      BALANCE: "uri whole",
    });
    started.push(reference, ours);
    const requests = PATHS.map((path, i) => ({ path: `${path}?visit=${i}` }));
    await expectSamePlacement(reference.port, ours.port, requests, PATHS);
  });
});

describe.each([["send-proxy" as const], ["send-proxy-v2" as const]])(
  "ACCEPT_PROXY=on behind real HAProxy 2.6 in mode tcp with %s",
  (send) => {
    const started: { stop(): Promise<void> }[] = [];
    afterAll(async () => {
      await Promise.all(started.map((s) => s.stop()));
    });

    it("every client reaches the backend it reaches when it connects itself", async () => {
      const list = upstreams([1, 1, 1]);
      const direct = await stickyringFor(list, {});
      const behind = await stickyringFor(list, { ACCEPT_PROXY: "on" });
      started.push(direct, behind);
      const front = await startHaproxyTcpFront(await freePort(), behind.port, send);
      started.push(front);
      // Through HAProxy every connection reaches stickyring from 127.0.0.1:
      // only the header tells the clients apart.
      const requests = CLIENTS.slice(0, 500).map((from) => ({ from }));
      await expectSamePlacement(front.port, direct.port, requests, CLIENTS.slice(0, 500));
    });
  },
);

describe("SLOWSTART against HAProxy 2.6's slowstart", () => {
  it("brings a server out of maintenance back over the same time, its clients returning alike", async () => {
    const list = upstreams([10, 10, 10]).slice(0, 3);
    const reference = await startHaproxy(
      await freePort(),
      "source",
      list,
      undefined,
      "slowstart 6s",
    );
    const ours = await stickyringFor(list, { HASH_TYPE: "haproxy", SLOWSTART: "6s" });
    try {
      const requests = CLIENTS.slice(0, 600).map((from) => ({ from }));
      const baseline = await placements(ours.port, requests);
      expect(await placements(reference.port, requests)).toEqual(baseline);
      const home = baseline.flatMap((app, i) => (app === "Hello from App 2" ? [i] : []));
      expect(home.length).toBeGreaterThan(120);
      /** The part of app2's clients that reach it now, through each proxy: only they are
       * asked, so that a sample takes tens of milliseconds, well inside one step. */
      const homeRequests = home.map((i) => requests[i]!);
      const back = async () => {
        const [theirs, mine] = await Promise.all([
          placements(reference.port, homeRequests),
          placements(ours.port, homeRequests),
        ]);
        const share = (list: string[]) =>
          list.filter((app) => app === "Hello from App 2").length / home.length;
        return { haproxy: share(theirs), stickyring: share(mine), theirs, mine };
      };
      const admin = (action: string) =>
        fetch(`http://127.0.0.1:${ours.adminPort}/api/servers/app2/${action}`, { method: "POST" });
      await reference.command("set server be/app2 state maint");
      await admin("disable");
      expect(await back()).toMatchObject({ haproxy: 0, stickyring: 0 });
      const started = performance.now();
      await Promise.all([reference.command("set server be/app2 state ready"), admin("enable")]);
      const samples: { at: number; haproxy: number; stickyring: number }[] = [];
      // Both proxies step a second apart from the change (slowstart/20 is under a second), so
      // each sample is taken half-way between two steps: one on a step would compare a proxy
      // that has just stepped with one about to.
      for (const at of [500, 1500, 2500, 4500, 7500]) {
        await new Promise((r) => setTimeout(r, Math.max(0, at - (performance.now() - started))));
        const { haproxy, stickyring, theirs, mine } = await back();
        samples.push({ at, haproxy, stickyring });
        // The ramp is HAProxy's level for level (sixteenths of the weight, the same points of
        // the tree): half-way between two steps, every one of app2's clients is where it is
        // through HAProxy.
        expect(mine).toEqual(theirs);
        // Only app2's clients move (back to it): every other client stays where it was.
        (await placements(ours.port, requests)).forEach((app, i) => {
          if (baseline[i] !== "Hello from App 2") expect(app).toBe(baseline[i]);
        });
      }
      const [first, early, middle, late, end] = samples;
      // Both ramps are under way and not done. Measured values: docs/configuration.md (SLOWSTART).
      expect(first!.haproxy).toBeGreaterThan(0); // 1/16 of the weight at once
      expect(first!.haproxy).toBeLessThan(early!.haproxy);
      expect(early!.haproxy).toBeLessThan(middle!.haproxy);
      expect(middle!.haproxy).toBeLessThan(late!.haproxy);
      expect(late!.haproxy).toBeLessThan(1);
      expect(end).toEqual({ at: 7500, haproxy: 1, stickyring: 1 });
    } finally {
      await reference.stop();
      await ours.stop();
    }
  }, 30_000);
});

describe("COOKIE against HAProxy 2.6's cookie insert indirect", () => {
  const started: { stop(): Promise<void> }[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
  });

  /** Backend, Set-Cookie and the Cookie the backend saw, for each request. */
  const answers = (port: number, requests: { from: string; cookie?: string }[]) =>
    mapLimit(requests, 32, async ({ from, cookie }) =>
      JSON.stringify(await whoami(port, from, cookie)),
    );

  it("sets the same cookie, honours it the same way, and hides it from servers alike", async () => {
    const list = upstreams([1, 1, 1]);
    const reference = await startHaproxy(await freePort(), "source", list, "SRV");
    const ours = await stickyringFor(list, { HASH_TYPE: "haproxy", COOKIE: "SRV" });
    started.push(reference, ours);
    const clients = CLIENTS.slice(0, 300);
    const requests = clients.flatMap((from, i) => [
      { from },
      { from, cookie: `SRV=app${(i % 3) + 1}` },
      { from, cookie: `a=1; SRV=app${((i + 1) % 3) + 1}; b=2` },
      { from, cookie: "SRV=nope" },
    ]);
    const labels = requests.map((r) => `${r.from} ${r.cookie ?? "(none)"}`);
    const result = agreement(
      await answers(reference.port, requests),
      await answers(ours.port, requests),
      labels,
    );
    expect(result).toEqual({ agreed: 1, firstDifferences: [] });
  });
});

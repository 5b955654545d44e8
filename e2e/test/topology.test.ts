// The whole topology in real containers: three backends, two proxy replicas
// and a URI-hashing proxy on a network this test creates, and client
// containers that each send from their own address.

import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createHashRing, sourceKey, uriKey } from "@stickyring/hashing";
import {
  GenericContainer,
  Network,
  Wait,
  type StartedNetwork,
  type StartedTestContainer,
} from "testcontainers";
import { requestFrom, startClient } from "./clients.js";
import { ownersOf, sweep, waitForPlacement, type Client } from "./observe.js";
import { image, type Service } from "./docker.js";

const CLIENTS = 10;
const REQUESTS_PER_REPLICA = 20;
const BACKENDS = ["app1", "app2", "app3"] as const;
const backendList = (order: readonly string[]) =>
  order.map((id) => `${id}=http://${id}:${5000 + Number(id.slice(3))}`).join(",");
const ring = createHashRing({ servers: BACKENDS.map((id) => ({ id })) });

let network: StartedNetwork;
const backends = new Map<string, StartedTestContainer>();
const proxies: StartedTestContainer[] = [];
let uriProxy: StartedTestContainer;
const clients: Client[] = [];
const REPLICAS = ["http://proxy-a:8080/", "http://proxy-b:8080/"];
const ANSWERS = REPLICAS.length * REQUESTS_PER_REPLICA;

/** Backend appN, reachable on the network as appN:500N. */
function startBackend(id: string): Promise<StartedTestContainer> {
  return new GenericContainer(image(id as Service))
    .withNetwork(network)
    .withNetworkAliases(id)
    .withEnvironment({ PORT: String(5000 + Number(id.slice(3))) })
    .withWaitStrategy(Wait.forHealthCheck())
    .start();
}

function startProxy(alias: string, env: Record<string, string>): Promise<StartedTestContainer> {
  return new GenericContainer(image("proxy"))
    .withNetwork(network)
    .withNetworkAliases(alias)
    .withEnvironment({ HEALTH_INTER: "1s", HEALTH_FALL: "2", TIMEOUT_CONNECT: "1s", ...env })
    .withExposedPorts(8080)
    .withWaitStrategy(Wait.forHealthCheck())
    .start();
}

beforeAll(async () => {
  network = await new Network().start();
  await Promise.all(BACKENDS.map(async (id) => backends.set(id, await startBackend(id))));
  // Two replicas, given the servers in opposite orders: they must agree.
  proxies.push(
    ...(await Promise.all([
      startProxy("proxy-a", { BACKENDS: backendList(BACKENDS) }),
      startProxy("proxy-b", { BACKENDS: backendList([...BACKENDS].reverse()) }),
    ])),
  );
  uriProxy = await startProxy("proxy-uri", { BACKENDS: backendList(BACKENDS), BALANCE: "uri" });
  for (let i = 0; i < CLIENTS; i++) {
    clients.push(await startClient(network));
  }
});

afterAll(async () => {
  const containers = [
    ...clients.map((c) => c.container),
    uriProxy,
    ...proxies,
    ...backends.values(),
  ].filter(Boolean);
  await Promise.all(containers.map((c) => c.stop({ timeout: 2_000 }).catch(() => undefined)));
  await network?.stop().catch(() => undefined);
});

describe("stickiness per client address, in containers", () => {
  let before: Map<string, string>;

  it("sends every client to one backend, the same through both replicas, the one @stickyring/hashing predicts", async () => {
    expect(new Set(clients.map((c) => c.address)).size).toBe(CLIENTS);
    before = ownersOf(await sweep(clients, REPLICAS, REQUESTS_PER_REPLICA), ANSWERS);
    for (const [address, owner] of before) expect(owner).toBe(ring.pick(sourceKey(address)));
    expect(new Set(before.values()).size).toBeGreaterThanOrEqual(2);
  });

  it("moves exactly the stopped backend's clients, and no GET fails after ejection", async () => {
    // Stop the backend with the most clients, so that some must move.
    const counts = new Map<string, number>();
    for (const owner of before.values()) counts.set(owner, (counts.get(owner) ?? 0) + 1);
    const victim = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
    await backends.get(victim)!.stop({ timeout: 5_000 });
    await waitForPlacement(
      proxies,
      BACKENDS.filter((id) => id !== victim),
    );

    const after = ownersOf(await sweep(clients, REPLICAS, REQUESTS_PER_REPLICA), ANSWERS);
    const survivors = createHashRing({
      servers: BACKENDS.filter((id) => id !== victim).map((id) => ({ id })),
    });
    for (const [address, owner] of before) {
      const now = after.get(address)!;
      if (owner === victim) expect(now).not.toBe(victim);
      else expect(now).toBe(owner);
      expect(now).toBe(survivors.pick(sourceKey(address)));
    }
    expect([...before.values()].filter((o) => o === victim).length).toBeGreaterThan(0);

    // Started again (same name, maybe a new address): its clients come back.
    backends.set(victim, await startBackend(victim));
    await waitForPlacement(proxies, [...BACKENDS]);
    const back = ownersOf(await sweep(clients, REPLICAS, REQUESTS_PER_REPLICA), ANSWERS);
    expect(back).toEqual(before);
  });

  it("serves the dashboard and its scripts from the image's admin listener", async () => {
    const script =
      "Promise.all(['/','/main.js','/style.css'].map(p=>fetch('http://127.0.0.1:8404'+p).then(r=>r.status+' '+r.headers.get('content-type')))).then(a=>console.log(JSON.stringify(a)))";
    const result = await proxies[0]!.exec(["node", "-e", script]);
    const [page, main, style] = JSON.parse(result.stdout.trim()) as string[];
    expect(page).toMatch(/^200 text\/html/);
    expect(main).toMatch(/^200 (text|application)\/javascript/);
    expect(style).toMatch(/^200 text\/css/);
  });

  it("with BALANCE=uri sends each path to one backend, whatever client asks", async () => {
    const paths = Array.from({ length: 12 }, (_, i) => `/catalog/item-${i}?from=client`);
    const urls = paths.map((p) => `http://proxy-uri:8080${p}`);
    const answers = await Promise.all(clients.map((c) => requestFrom(c.container, urls, 2)));
    for (const path of paths) {
      const owners = new Set(
        answers
          .flat()
          .filter((a) => a.url.endsWith(path))
          .map((a) => a.backend),
      );
      expect({ path, owners: [...owners] }).toEqual({ path, owners: [ring.pick(uriKey(path))] });
    }
  });
});

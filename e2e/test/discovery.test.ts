// DNS discovery in real containers: backends that share one network alias,
// found through Docker's own DNS (127.0.0.11) by two proxy replicas, and
// client containers that each send from their own address. Backends join
// and leave as in `docker compose --scale`.

import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createHashRing, sourceKey } from "@stickyring/hashing";
import {
  GenericContainer,
  Network,
  Wait,
  type StartedNetwork,
  type StartedTestContainer,
} from "testcontainers";
import { startClient } from "./clients.js";
import { image } from "./docker.js";
import {
  ownersOf,
  placement,
  placementChangeAt,
  startedAt,
  stopAndTime,
  sweep,
  waitForPlacement,
  type Client,
} from "./observe.js";

const CLIENTS = 8;
const REQUESTS_PER_REPLICA = 20;
const DNS_REFRESH_MS = 1000;
const HEALTH_INTER_MS = 1000;
const REPLICAS = ["http://proxy-a:8080/", "http://proxy-b:8080/"];
const ANSWERS = REPLICAS.length * REQUESTS_PER_REPLICA;

let network: StartedNetwork;
/** Backends by the id the proxies give them: web@<address>:5000. */
const web = new Map<string, StartedTestContainer>();
const proxies: StartedTestContainer[] = [];
const clients: Client[] = [];

const idOf = (container: StartedTestContainer) =>
  `web@${container.getIpAddress(network.getName())}:5000`;

/** A backend that answers with its own container name, behind the alias `web`. */
async function startWeb(): Promise<string> {
  const container = await new GenericContainer(image("app1"))
    .withNetwork(network)
    .withNetworkAliases("web")
    .withEnvironment({ PORT: "5000", BACKEND_NAME: "@hostname" })
    .withWaitStrategy(Wait.forHealthCheck())
    .start();
  web.set(idOf(container), container);
  return idOf(container);
}

function startProxy(alias: string): Promise<StartedTestContainer> {
  return new GenericContainer(image("proxy"))
    .withNetwork(network)
    .withNetworkAliases(alias)
    .withEnvironment({
      BACKENDS: "dns://web:5000",
      DNS_REFRESH: `${DNS_REFRESH_MS}ms`,
      HEALTH_INTER: `${HEALTH_INTER_MS}ms`,
      HEALTH_FALL: "2",
      TIMEOUT_CONNECT: "1s",
      MONITOR_URI: "/stickyring/healthz",
    })
    .withWaitStrategy(Wait.forHealthCheck())
    .start();
}

/** Where the ring over these ids sends each client. */
function predicted(ids: string[]): Map<string, string> {
  const ring = createHashRing({ servers: ids.map((id) => ({ id })) });
  return new Map(clients.map((c) => [c.address, ring.pick(sourceKey(c.address))!]));
}

const observe = async () => ownersOf(await sweep(clients, REPLICAS, REQUESTS_PER_REPLICA), ANSWERS);

beforeAll(async () => {
  network = await new Network().start();
  for (let i = 0; i < 3; i++) await startWeb();
  proxies.push(...(await Promise.all([startProxy("proxy-a"), startProxy("proxy-b")])));
  for (let i = 0; i < CLIENTS; i++) {
    clients.push(await startClient(network));
  }
});

afterAll(async () => {
  const containers = [...clients.map((c) => c.container), ...proxies, ...web.values()];
  await Promise.all(containers.map((c) => c.stop({ timeout: 2_000 }).catch(() => undefined)));
  await network?.stop().catch(() => undefined);
});

describe("backends found by Docker's DNS, two proxy replicas", () => {
  let before: Map<string, string>;

  it("puts every address of the alias in both placements, whatever order Docker's DNS answers in", async () => {
    await waitForPlacement(proxies, [...web.keys()]);
    // Docker's resolver rotates its answers: the order differs from lookup to lookup.
    const script =
      "(async()=>{const d=require('node:dns').promises;const o=[];for(let i=0;i<12;i++)o.push((await d.resolve4('web')).join());console.log(JSON.stringify(o))})()";
    const orders = JSON.parse(
      (await clients[0]!.container.exec(["node", "-e", script])).stdout.trim(),
    ) as string[];
    expect(new Set(orders).size).toBeGreaterThan(1);
    for (const proxy of proxies)
      expect((await placement(proxy)).sort()).toEqual([...web.keys()].sort());
  });

  it("sends every client to one backend, the same through both replicas, the one the ring over the discovered ids predicts", async () => {
    before = await observe();
    const expected = predicted([...web.keys()]);
    for (const [address, owner] of before)
      expect(`${address} ${owner}`).toBe(`${address} ${expected.get(address)}`);
    expect(new Set(before.values()).size).toBeGreaterThanOrEqual(2);
  });

  it("takes a new backend with the alias within DNS_REFRESH and a health check; only clients moving onto it move", async () => {
    const began = Date.now();
    const added = await startWeb();
    const took = await waitForPlacement(proxies, [...web.keys()]);
    // The goal: in every replica's placement within DNS_REFRESH + 1 s of
    // Docker's DNS naming it (the container's start), read from the
    // proxies' own log lines; it cannot take clients before it answers.
    // Docker's DNS may name it a moment before the process starts: 0 then.
    const started = await startedAt(web.get(added)!);
    const joined = await Promise.all(proxies.map((p) => placementChangeAt(p, added, true, began)));
    const joinTimes = joined.map((t) => t! - started);
    const joinMs = Math.max(0, ...joinTimes);
    expect(joinMs).toBeLessThanOrEqual(DNS_REFRESH_MS + 1000);
    // And from the container being up (its own health check passed) to both placements holding it.
    expect(took).toBeLessThan(DNS_REFRESH_MS + HEALTH_INTER_MS + 1000);
    const after = await observe();
    let moved = 0;
    for (const [address, owner] of before) {
      const now = after.get(address)!;
      if (now !== owner) {
        expect(`${address} -> ${now}`).toBe(`${address} -> ${added}`);
        moved++;
      }
    }
    expect(after).toEqual(predicted([...web.keys()]));
    console.log(
      `new backend: in both placements ${joinMs} ms after its container started (each replica: ${joinTimes.join(", ")} ms), ${took} ms after it was up (${Date.now() - began} ms after start); ${moved} of ${CLIENTS} clients moved onto it`,
    );
    before = after;
  });

  it("lets a stopped backend go: only its clients move, both replicas agree, and no GET fails after ejection", async () => {
    const counts = new Map<string, number>();
    for (const owner of before.values()) counts.set(owner, (counts.get(owner) ?? 0) + 1);
    const victim = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
    const stopping = Date.now();
    const stoppedAt = await stopAndTime(web.get(victim)!);
    web.delete(victim);
    await waitForPlacement(proxies, [...web.keys()]);
    // Out of every replica's placement within DNS_REFRESH + 1 s of stopping
    // (Docker's DNS forgets it then; a failed check or connection may be first).
    const left = await Promise.all(
      proxies.map((p) => placementChangeAt(p, victim, false, stopping)),
    );
    const leaveMs = Math.max(...left.map((t) => t! - stoppedAt));
    expect(leaveMs).toBeLessThanOrEqual(DNS_REFRESH_MS + 1000);
    console.log(`stopped backend: out of both placements ${leaveMs} ms after it stopped`);
    const after = await observe();
    for (const [address, owner] of before) {
      const now = after.get(address)!;
      if (owner === victim) expect(now).not.toBe(victim);
      else expect(now).toBe(owner);
    }
    expect(after).toEqual(predicted([...web.keys()]));
  });

  it("answers the monitor URI on the proxy port itself", async () => {
    const script =
      "fetch('http://proxy-a:8080/stickyring/healthz').then(async r=>console.log(r.status, r.headers.get('x-backend'), await r.text()))";
    const result = await clients[0]!.container.exec(["node", "-e", script]);
    expect(result.stdout.trim()).toBe("200 null ok");
  });
});

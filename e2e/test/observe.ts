// What the proxies in containers do, seen from outside: which servers a
// replica's placement holds (its admin API, loopback-only, read inside the
// container), and which backend each client container reaches.

import { expect } from "@jest/globals";
import type { StartedTestContainer } from "testcontainers";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { requestFrom, type Observation } from "./clients.js";

const run = promisify(execFile);

export interface Client {
  container: StartedTestContainer;
  address: string;
}

/** The ids a proxy has in its placement. */
export async function placement(proxy: StartedTestContainer): Promise<string[]> {
  const script =
    "fetch('http://127.0.0.1:8404/api/servers').then(r=>r.json()).then(j=>console.log(JSON.stringify(j.servers.filter(s=>s.inPlacement).map(s=>s.id))))";
  const result = await proxy.exec(["node", "-e", script]);
  return JSON.parse(result.stdout.trim()) as string[];
}

/** Waits until every proxy's placement holds exactly `expected`; resolves with the time it took. */
export async function waitForPlacement(
  proxies: StartedTestContainer[],
  expected: readonly string[],
  timeoutMs = 30_000,
): Promise<number> {
  const started = Date.now();
  const want = JSON.stringify([...expected].sort());
  for (;;) {
    const seen = await Promise.all(proxies.map(placement));
    if (seen.every((ids) => JSON.stringify([...ids].sort()) === want)) return Date.now() - started;
    if (Date.now() - started > timeoutMs)
      throw new Error(`placement never became ${want}: ${JSON.stringify(seen)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** When Docker says a container started or stopped (ms since the epoch, the host's clock). */
async function dockerTime(id: string, which: "StartedAt" | "FinishedAt"): Promise<number> {
  const { stdout } = await run("docker", ["inspect", "-f", `{{.State.${which}}}`, id]);
  return Date.parse(stdout.trim());
}

export const startedAt = (container: StartedTestContainer) =>
  dockerTime(container.getId(), "StartedAt");

/** Stops and removes a container; resolves with when it stopped. */
export async function stopAndTime(container: StartedTestContainer): Promise<number> {
  await container.stop({ timeout: 5_000, remove: false });
  const stopped = await dockerTime(container.getId(), "FinishedAt");
  await run("docker", ["rm", "-f", container.getId()]);
  return stopped;
}

/**
 * When a proxy's placement first held (`present`) or first lacked `id` at
 * or after `after`, from its own "placement rebuilt" log lines (pino's
 * time: the host's clock, which containers share).
 */
export async function placementChangeAt(
  proxy: StartedTestContainer,
  id: string,
  present: boolean,
  after: number,
): Promise<number | undefined> {
  const { stdout } = await run("docker", ["logs", proxy.getId()], { maxBuffer: 64 << 20 });
  for (const line of stdout.split("\n")) {
    if (!line.includes('"placement rebuilt"')) continue;
    const entry = JSON.parse(line) as { time: number; servers: string[] };
    if (entry.time >= after && entry.servers.includes(id) === present) return entry.time;
  }
  return undefined;
}

/** Every client sends `rounds` GETs to each URL; each client's answers by its address. */
export async function sweep(
  clients: Client[],
  urls: string[],
  rounds: number,
): Promise<Map<string, Observation[]>> {
  const results = await Promise.all(clients.map((c) => requestFrom(c.container, urls, rounds)));
  return new Map(clients.map((c, i) => [c.address, results[i]!]));
}

/**
 * The one backend each client reached, after checking that it reached only
 * one, through every URL, with no failed request.
 */
export function ownersOf(
  observed: Map<string, Observation[]>,
  answers: number,
): Map<string, string> {
  const owners = new Map<string, string>();
  for (const [address, seen] of observed) {
    expect(seen).toHaveLength(answers);
    expect(seen.filter((a) => a.status !== 200)).toEqual([]);
    const backends = new Set(seen.map((a) => a.backend));
    expect({ address, backends: [...backends] }).toEqual({ address, backends: [seen[0]!.backend] });
    owners.set(address, seen[0]!.backend!);
  }
  return owners;
}

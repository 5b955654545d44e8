// Stickiness while measuring: a few clients, each from its own loopback
// address, keep asking the proxy under load and note which backend answered.
// Each keeps one connection open, as wrk's clients do: a new connection per
// sample (160 a second) took 12-25% of a Node proxy's throughput on this
// 2-core machine, measuring the sampler more than the proxy. Stickiness
// across new connections is the test suites' and e2e's to prove.

import { Agent } from "node:http";
import { get } from "@stickyring/loopback";

export interface StickinessSample {
  clients: number;
  samples: number;
  /** Clients that were answered by more than one backend. */
  violations: number;
  failures: number;
}

/** The body of a 200 answer (it names the backend), else undefined. */
function once(port: number, from: string, agent: Agent): Promise<string | undefined> {
  return get(port, { from, agent, timeoutMs: 5000 }).then(
    (reply) => (reply.status === 200 ? reply.body : undefined),
    () => undefined,
  );
}

/** Samples until `stop()` is called; returns what it saw. */
export function sampleStickiness(port: number, clients = 8, everyMs = 50) {
  const seen = Array.from({ length: clients }, () => new Set<string>());
  let samples = 0;
  let failures = 0;
  let running = true;
  const agents = seen.map(() => new Agent({ keepAlive: true, maxSockets: 1 }));
  const loops = seen.map(async (backends, i) => {
    const from = `127.77.0.${i + 1}`;
    while (running) {
      const body = await once(port, from, agents[i]!);
      samples++;
      if (body === undefined) failures++;
      else backends.add(body);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  });
  return async (): Promise<StickinessSample> => {
    running = false;
    await Promise.all(loops);
    for (const agent of agents) agent.destroy();
    return { clients, samples, violations: seen.filter((s) => s.size > 1).length, failures };
  };
}

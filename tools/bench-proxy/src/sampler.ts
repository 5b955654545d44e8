// Stickiness while measuring: a few clients, each from its own loopback
// address, keep asking the proxy under load and note which backend answered.

import { request } from "node:http";

export interface StickinessSample {
  clients: number;
  samples: number;
  /** Clients that were answered by more than one backend. */
  violations: number;
  failures: number;
}

function once(port: number, localAddress: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/", localAddress, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve(res.statusCode === 200 ? body : undefined));
      },
    );
    req.setTimeout(5000, () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end();
  });
}

/** Samples until `stop()` is called; returns what it saw. */
export function sampleStickiness(port: number, clients = 8, everyMs = 50) {
  const seen = Array.from({ length: clients }, () => new Set<string>());
  let samples = 0;
  let failures = 0;
  let running = true;
  const loops = seen.map(async (backends, i) => {
    const from = `127.77.0.${i + 1}`;
    while (running) {
      const body = await once(port, from);
      samples++;
      if (body === undefined) failures++;
      else backends.add(body);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  });
  return async (): Promise<StickinessSample> => {
    running = false;
    await Promise.all(loops);
    return { clients, samples, violations: seen.filter((s) => s.size > 1).length, failures };
  };
}

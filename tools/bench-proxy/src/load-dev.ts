// Development runner for the high-load section: HAProxy and stickyring at LOAD_CONNECTIONS.
import { cleanup, startBackends, startHaproxy, startStickyring, peakRssMb } from "./processes.js";
import { highLoad } from "./high-load.js";

const connections = Number(process.env.LOAD_CONNECTIONS ?? 1000);
const seconds = Number(process.env.LOAD_SECONDS ?? 8);
const rounds = Number(process.env.LOAD_ROUNDS ?? 2);
const backends = [19101, 19102, 19103];
const env = Object.fromEntries(
  (process.env.PROXY_ENV ?? "")
    .split(" ")
    .filter(Boolean)
    .map((kv) => kv.split("=")),
) as Record<string, string>;
const b = await startBackends(backends);
const h = await startHaproxy(19200, backends);
const s = await startStickyring(19201, 19301, backends, 0, undefined, env);
try {
  for (let r = 1; r <= rounds; r++)
    for (const c of [h, s]) {
      const res = await highLoad(c, backends, connections, seconds);
      console.log(
        `${r} ${c.name}: ${Math.round(res.requestsPerSecond)} req/s p50 ${res.p50Ms} p99 ${res.p99Ms} max ${res.maxMs} timeouts ${res.timeouts} errors ${res.errors} upstream ${res.upstreamPeak} inflight ${res.inFlightAtPeak} cpu ${res.cpuUsPerRequest.toFixed(1)} rss ${Math.round(peakRssMb(c.pid))}`,
      );
    }
} finally {
  await s.stop();
  await h.stop();
  await b.stop();
  cleanup();
}

// `pnpm bench:floor`: stickyring beside what Node costs without it (bare.ts:
// Node's HTTP server alone, a bare undici forwarder, a bare net-socket
// forwarder), in alternating rounds, so the CPU per request splits into
// Node's share and stickyring's own. Writes results/floor.md.

import { fileURLToPath } from "node:url";
import { alternate, writeRoundsReport } from "./measure.js";
import {
  cleanup,
  ensureTools,
  launchLine,
  PROXY_START,
  startBackends,
  startProcess,
  startStickyring,
  type Started,
} from "./processes.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

const BARE = [
  ["bare node:http, answers itself", "hello"],
  ["bare forwarder on undici", "undici"],
  ["bare forwarder on net sockets", "raw"],
] as const;

async function main() {
  ensureTools();
  const backends = [19121, 19122, 19123];
  const started: Started[] = [await startBackends(backends)];
  try {
    const script = fileURLToPath(new URL("./bare.js", import.meta.url));
    const candidates: Started[] = [await startStickyring(19220, 19320, backends)];
    for (const [i, [name, mode]] of BARE.entries()) {
      const port = 19221 + i;
      candidates.push(
        await startProcess(
          name,
          port,
          process.execPath,
          [...PROXY_START.flags, script, mode, String(port), ...backends.map(String)],
          PROXY_START.env,
        ),
      );
    }
    started.push(...candidates);
    const runs = await alternate(candidates, CONNECTIONS, ROUNDS, SECONDS);
    writeRoundsReport({
      file: "floor.md",
      command: "pnpm bench:floor",
      about: `stickyring (default configuration) beside bare Node servers (tools/bench-proxy/src/bare.ts: no ring, forwarding headers, metrics, timeouts or retries; the net-socket one reads Content-Length bodies only), all run as ${launchLine()};`,
      firstColumn: "server",
      candidates,
      runs,
      connections: CONNECTIONS,
      rounds: ROUNDS,
      seconds: SECONDS,
    });
  } finally {
    for (const s of started.reverse()) await s.stop();
    cleanup();
  }
}

await main();

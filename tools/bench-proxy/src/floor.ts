// `pnpm bench:floor`: stickyring beside what Node costs without it (bare.ts:
// Node's HTTP server alone, a bare undici forwarder, a bare net-socket
// forwarder), in alternating rounds, so the CPU per request splits into
// Node's share and stickyring's own. Writes results/floor.md.

import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { alternate, roundsTable } from "./measure.js";
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
    const report = [
      `Command: \`pnpm bench:floor\` (${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, Node ${process.version}).`,
      `stickyring (default configuration) beside bare Node servers (tools/bench-proxy/src/bare.ts: no ring, forwarding headers, metrics, timeouts or retries; the net-socket one reads Content-Length bodies only), all run as ${launchLine()};`,
      `wrk -t1 -c${CONNECTIONS}, ${ROUNDS} alternating rounds of ${SECONDS} s after an uncounted warm-up, to 3 nginx backends on loopback.`,
      "",
      ...roundsTable("server", candidates, runs),
      "",
    ].join("\n");
    writeFileSync(new URL("../results/floor.md", import.meta.url), report);
    console.log(report);
  } finally {
    for (const s of started.reverse()) await s.stop();
    cleanup();
  }
}

await main();

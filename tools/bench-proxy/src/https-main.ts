// `pnpm bench:https`: the HTTPS rows of bench:proxy alone (https.ts), with
// their own nginx backends. Writes results/https-bench.md.

import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { runHttps, startTlsCandidates } from "./https.js";
import { commit } from "./provenance.js";
import {
  PORT_BASE,
  cleanup,
  ensureTools,
  launchLine,
  startBackends,
  type Started,
} from "./processes.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

ensureTools();
const backends = [PORT_BASE + 121, PORT_BASE + 122, PORT_BASE + 123];
const started: Started[] = [await startBackends(backends)];
try {
  const candidates = await startTlsCandidates(backends);
  started.push(...candidates);
  const table = await runHttps(candidates, ROUNDS, SECONDS);
  const settings = ["BENCH_ROUNDS", "BENCH_SECONDS", "BENCH_PORT_BASE"]
    .filter((name) => process.env[name] !== undefined)
    .map((name) => `${name}=${process.env[name]} `)
    .join("");
  const report = [
    `Command: \`${settings}pnpm bench:https\` (${new Date().toISOString().slice(0, 10)}, ${commit()}, ${cpus().length} cores, Node ${process.version}, ${execFileSync("haproxy", ["-v"], { encoding: "utf8" }).split("\n")[0]}).`,
    `${ROUNDS} alternating rounds of ${SECONDS} s per load and proxy after an uncounted warm-up; medians shown.`,
    "HAProxy 2.6: `nbthread 1`, `bind ... ssl crt <pem> alpn h2,http/1.1`, Mozilla intermediate TLS 1.2 suites, `balance source`, `hash-type consistent`.",
    `stickyring: one process, TLS_PORT with TLS_CERT (the same PEM), defaults otherwise, run as ${launchLine()}.`,
    "Both: ECDSA P-256 certificate; clients negotiate TLS 1.3 (wrk, h2load); 3 nginx backends on loopback; the machine's 2 cores also run the load generator and nginx.",
    "",
    table,
  ].join("\n");
  writeFileSync(new URL("../results/https-bench.md", import.meta.url), report);
  console.log(report);
} finally {
  for (const s of started.reverse()) await s.stop();
  cleanup();
}

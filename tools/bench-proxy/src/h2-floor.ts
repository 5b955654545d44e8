// `pnpm bench:h2floor`: how much of stickyring's HTTP/2 cost is node:http2's.
// The HTTP/2 load of bench:https (h2load, 8 connections x 16 streams) over
// HAProxy 2.6, stickyring's TLS port, and two bare node:http2 servers
// (bare.ts): one answering each stream itself, one forwarding each to the
// backends on kept-alive sockets with nothing else (no ring, headers,
// limits, timeouts, metrics). The bare forwarder is the ceiling of any proxy
// built on node:http2 that forwards as proxies do, whatever it does above it
// (BENCH_H2FLOOR_ROWS=...,h2pipe adds one that pipelines to the backends, an
// experiment). Also stickyring's multi-core mode (WORKERS = the cores): not a like-for-like row (HAProxy
// runs one thread), but what an operator with spare cores gets. Writes
// results/h2-floor.md.

import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { certificate, LOADS, runHttps, startTlsCandidates, startTlsStickyring } from "./https.js";
import { commit } from "./provenance.js";
import {
  PORT_BASE,
  PROXY_START,
  cleanup,
  ensureTools,
  launchLine,
  startBackends,
  startProcess,
  type Started,
} from "./processes.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const BARE = [
  ["bare node:http2, answers itself", "h2hello"],
  ["bare node:http2 forwarder, net sockets to backends", "h2net"],
  ["bare node:http2 forwarder, pipelining to backends (experiment)", "h2pipe"],
] as const;
// Which rows beside HAProxy and stickyring (default all but the pipelining
// experiment): fewer idle node processes beside HAProxy's rounds, whose
// figures they have been seen to lower.
const DEFAULT_ROWS = "workers,h2hello,h2net";
const ROWS = (process.env.BENCH_H2FLOOR_ROWS ?? DEFAULT_ROWS).split(",");

ensureTools();
const script = fileURLToPath(new URL("./bare.js", import.meta.url));
const backends = [PORT_BASE + 121, PORT_BASE + 122, PORT_BASE + 123];
const started: Started[] = [await startBackends(backends)];
try {
  const pem = certificate();
  const candidates = await startTlsCandidates(backends, pem);
  started.push(...candidates);
  if (ROWS.includes("workers")) {
    const workers = await startTlsStickyring(PORT_BASE + 233, backends, pem, cpus().length);
    started.push(workers);
    candidates.push(workers);
  }
  for (const [i, [name, mode]] of BARE.entries()) {
    if (!ROWS.includes(mode)) continue;
    const port = PORT_BASE + 240 + i;
    const bare = await startProcess(
      name,
      port,
      process.execPath,
      [...PROXY_START.flags, script, mode, String(port), ...backends.map(String)],
      { ...PROXY_START.env, BARE_TLS_PEM: pem },
    );
    started.push(bare);
    candidates.push(bare);
  }
  const h2 = LOADS.filter((load) => load.name.startsWith("HTTP/2"));
  const table = await runHttps(candidates, ROUNDS, SECONDS, h2);
  const report = [
    `Command: \`${ROWS.join(",") !== DEFAULT_ROWS ? `BENCH_H2FLOOR_ROWS=${ROWS.join(",")} ` : ""}pnpm bench:h2floor\` (${new Date().toISOString().slice(0, 10)}, ${commit()}, ${cpus().length} cores, Node ${process.version}, ${execFileSync("haproxy", ["-v"], { encoding: "utf8" }).split("\n")[0]}).`,
    `${ROUNDS} alternating rounds of ${SECONDS} s after an uncounted warm-up; medians shown. HAProxy and stickyring as in bench:https;`,
    ...(ROWS.includes("workers")
      ? [
          `\`stickyring, ${cpus().length} workers\`: the same with \`WORKERS=${cpus().length}\` (a control process and one data-plane worker per core; CPU and RSS summed over all of them): HAProxy runs one thread, so this row is not like for like;`,
        ]
      : []),
    `the bare node:http2 servers (tools/bench-proxy/src/bare.ts, GET only, Content-Length answers only) run as ${launchLine()}, with the same certificate.`,
    "The bare forwarder is what any proxy on node:http2 costs at least: its requests/s bound what stickyring's TLS port can reach.",
    ...(ROWS.includes("h2pipe")
      ? [
          "The pipelining forwarder is an experiment, not a way to forward: it writes each tick's requests to a backend in one write on 4 connections per backend, to show how much of the bare forwarder's time is its socket wakeups.",
        ]
      : []),
    "",
    table,
  ].join("\n");
  writeFileSync(new URL("../results/h2-floor.md", import.meta.url), report);
  console.log(report);
} finally {
  for (const s of started.reverse()) await s.stop();
  cleanup();
}

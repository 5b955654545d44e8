// `pnpm bench:new-client`: how long a client that arrives during an
// overload waits, on HAProxy 2.6 and stickyring in one run. wrk holds
// NEW_CLIENT_CONNECTIONS (5,000) kept-alive connections, each sending its
// next request once answered, to one server that answers after 100 ms, so
// requests pile up in flight and the machine's 2 cores are saturated; a
// client opening a new connection every 400 ms meanwhile times its one
// request. The proxies take turns (HAProxy, stickyring, twice), each
// started afresh with the same backend.

import { request } from "node:http";
import { fileURLToPath } from "node:url";
import { median } from "./measure.js";
import {
  PORT_BASE,
  repo,
  startHaproxy,
  startProcess,
  startStickyring,
  type Started,
} from "./processes.js";
import { commit } from "./provenance.js";
import { cpus } from "node:os";
import { writeFileSync } from "node:fs";
import { wrk } from "./wrk.js";

const CONNECTIONS = Number(process.env.NEW_CLIENT_CONNECTIONS ?? 5000);
const SECONDS = 15;
const DELAY_MS = 100;
const BACKEND = PORT_BASE + 600;
const PROXY = PORT_BASE + 610;

/** One request on a new connection: milliseconds until its answer ended. */
function newClient(port: number): Promise<number> {
  return new Promise((resolve) => {
    const start = performance.now();
    const req = request({ port, host: "127.0.0.1", path: "/new", agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(performance.now() - start));
    });
    req.on("error", () => resolve(NaN));
    req.setTimeout(30_000, () => req.destroy());
    req.end();
  });
}

/** New clients every 400 ms for `seconds`, starting after `afterMs`. */
async function newClients(port: number, afterMs: number, seconds: number): Promise<number[]> {
  await new Promise((r) => setTimeout(r, afterMs));
  const answers: Promise<number>[] = [];
  for (const end = Date.now() + seconds * 1000; Date.now() < end;) {
    answers.push(newClient(port));
    await new Promise((r) => setTimeout(r, 400));
  }
  return Promise.all(answers);
}

const starts: [string, () => Promise<Started>][] = [
  ["HAProxy 2.6", () => startHaproxy(PROXY, [BACKEND], { maxconn: CONNECTIONS + 256 })],
  ["stickyring", () => startStickyring(PROXY, PROXY + 1, [BACKEND])],
];

const backend = await startProcess("slow backend", BACKEND, process.execPath, [
  fileURLToPath(new URL("./slow-server.js", import.meta.url)),
  String(BACKEND),
  String(DELAY_MS),
]);
const rows: string[] = [];
try {
  for (const round of [1, 2])
    for (const [name, start] of starts) {
      const proxy = await start();
      try {
        const [load, waits] = await Promise.all([
          wrk(PROXY, CONNECTIONS, SECONDS),
          newClients(PROXY, 3000, SECONDS - 5),
        ]);
        const answered = waits.filter((ms) => !Number.isNaN(ms)).sort((a, b) => a - b);
        const fmt = (ms: number | undefined) => (ms === undefined ? "-" : `${Math.round(ms)} ms`);
        rows.push(
          `| ${round} | ${name} | ${Math.round(load.requestsPerSecond)} | ${fmt(load.p50Ms)} | ${load.errors} | ${answered.length}/${waits.length} | ${fmt(median(answered))} | ${fmt(answered.at(-1))} |`,
        );
        console.error(rows.at(-1));
      } finally {
        await proxy.stop();
      }
    }
} finally {
  await backend.stop();
}
const report = [
  `Command: \`pnpm bench:new-client\` (${new Date().toISOString().slice(0, 10)}, ${commit()}, ${cpus().length} cores, Node ${process.version}).`,
  `wrk -t1, ${CONNECTIONS} connections for ${SECONDS} s to one server answering after ${DELAY_MS} ms; from the 3rd second, a client on a new connection every 400 ms (one request each).`,
  "",
  "| round | proxy | wrk requests/s | wrk p50 | wrk errors and timeouts | new clients answered | new client p50 | new client max |",
  "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows,
].join("\n");
writeFileSync(`${repo}/tools/bench-proxy/results/new-client.md`, `${report}\n`);
console.log(report);

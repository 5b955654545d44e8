// `pnpm bench:proxy`: HAProxy, stickyring and the tutorial baseline in one
// run, alternating A B C over rounds, at 4, 32 and 128 connections. Writes
// results/proxy-bench.md and results/proxy-bench.svg.

import { execFileSync } from "node:child_process";
import { cpus } from "node:os";
import { writeFileSync } from "node:fs";
import {
  cleanup,
  ensureTools,
  peakRssMb,
  PORT_BASE,
  startBackends,
  type Started,
} from "./processes.js";
import { runHttps, startTlsCandidates } from "./https.js";
import { HIGH, highSection } from "./high.js";
import { OPEN_FILES } from "./limits.js";
import { commit } from "./provenance.js";
import { MAIN_PROXIES, PROXIES, startProxies } from "./proxies.js";
import { markdown, svgChart, type Row } from "./report.js";
import { sampleStickiness, type StickinessSample } from "./sampler.js";
import { alternate, describeMeasured, measure, median, type Measured } from "./measure.js";
import { wrk } from "./wrk.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? "4,32,128").split(",").map(Number);
const results = new URL("../results/", import.meta.url);

/** The command as run, with the settings given: what a reader types to repeat it. */
function command(): string {
  const settings = Object.keys(process.env)
    .filter((name) => name.startsWith("BENCH_") || name === "PROXY_NODE_FLAGS")
    .sort()
    .map((name) => `${name}=${JSON.stringify(process.env[name])} `)
    .join("");
  return `${settings}pnpm bench:proxy`;
}

async function main() {
  ensureTools();
  const backends = [PORT_BASE + 101, PORT_BASE + 102, PORT_BASE + 103];
  const started: Started[] = [await startBackends(backends)];
  try {
    const candidates = await startProxies(
      MAIN_PROXIES,
      200,
      backends,
      Math.max(...CONNECTIONS),
      started,
    );

    // Each connection count alternates the proxies round by round (A B C D A B C D ...).
    const runs = new Map<string, Measured[]>();
    const stickiness = new Map<string, StickinessSample[]>(candidates.map((c) => [c.name, []]));
    for (const connections of CONNECTIONS) {
      const counted = await alternate(
        candidates,
        ROUNDS,
        async (c) => {
          const stop = sampleStickiness(c.port);
          const result = await measure(c, connections, SECONDS);
          stickiness.get(c.name)!.push(await stop());
          return result;
        },
        {
          warmUp: (c) => wrk(c.port, connections, 3),
          label: `${connections} connections`,
          describe: describeMeasured,
        },
      );
      for (const [name, list] of counted) runs.set(`${name}|${connections}`, list);
    }

    const rows: Row[] = [];
    for (const connections of CONNECTIONS) {
      for (const c of candidates) {
        const list = runs.get(`${c.name}|${connections}`)!;
        rows.push({
          candidate: c.name,
          connections,
          requestsPerSecond: median(list.map((r) => r.requestsPerSecond)),
          p50Ms: median(list.map((r) => r.p50Ms)),
          p99Ms: median(list.map((r) => r.p99Ms)),
          peakRssMb: peakRssMb(c.pid),
          cpuUsPerRequest: median(list.map((r) => r.cpuUsPerRequest)),
          errors: list.reduce((s, r) => s + r.errors, 0),
        });
      }
    }
    const sticky = candidates
      .map((c) => {
        const s = stickiness.get(c.name)!;
        const sum = (k: keyof StickinessSample) => s.reduce((n, x) => n + x[k], 0);
        return `| ${c.name} | ${sum("samples")} | ${Math.max(...s.map((x) => x.violations))} | ${sum("failures")} |`;
      })
      .join("\n");
    const header = [
      `Command: \`${command()}\` (${new Date().toISOString().slice(0, 10)}, ${commit()}, ${cpus().length} cores, Node ${process.version}, ${execFileSync("haproxy", ["-v"], { encoding: "utf8" }).split("\n")[0]}, open files ${OPEN_FILES}).`,
      `wrk -t1, ${ROUNDS} rounds of ${SECONDS} s per proxy and connection count, alternating the proxies, after an uncounted 3 s warm-up at each count; medians shown.`,
      "Backends: 3 nginx servers on loopback.",
      ...PROXIES.map((p) => `\`${p.name}\`: ${p.about}`),
      "The machine's 2 cores also run wrk and the nginx backends, so no proxy has a core to itself.",
      "Peak RSS: VmHWM of the proxy's processes at the end of the run. CPU per request: user + system time of the proxy's processes during a run, divided by the requests wrk completed (the stickiness sampler's few requests are not counted, so it is slightly high); it varies less than requests/s when wrk and the backends compete for the cores.",
    ].join("\n");
    const table = markdown(rows, MAIN_PROXIES[0]!.name, header);

    // The high-concurrency and HTTPS sections start proxies of their own: these leave the cores.
    for (const c of candidates.splice(0)) await c.stop();
    started.length = 1;
    const high = HIGH.enabled ? await highSection(backends, started) : "";
    const tlsCandidates = await startTlsCandidates(backends);
    started.push(...tlsCandidates);
    const https = await runHttps(tlsCandidates, ROUNDS, SECONDS);
    const httpsSection = [
      "## HTTPS and HTTP/2",
      "",
      "HAProxy 2.6 (`nbthread 1`, `bind ... ssl crt <pem> alpn h2,http/1.1`, Mozilla intermediate TLS 1.2 suites) beside stickyring's TLS port (TLS_PORT, TLS_CERT: the same ECDSA P-256 PEM), same backends, alternated as above; clients negotiate TLS 1.3.",
      "",
      https,
    ].join("\n");
    const report = `${table}\nStickiness sampled during every run (8 clients, each from its own loopback address on one kept-alive connection, a request every 50 ms):\n\n| proxy | samples | clients that reached two backends | failed samples |\n| --- | ---: | ---: | ---: |\n${sticky}\n\n${high ? `${high}\n` : ""}${httpsSection}`;
    writeFileSync(new URL("proxy-bench.md", results), report);
    writeFileSync(
      new URL("proxy-bench.svg", results),
      svgChart(rows, "Proxy throughput, requests/s (wrk -t1, loopback, one run)"),
    );
    console.log(report);
  } finally {
    for (const s of started.reverse()) await s.stop();
    cleanup();
  }
}

await main();

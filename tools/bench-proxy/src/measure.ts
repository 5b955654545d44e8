// Measured wrk runs against started processes: one, alternating rounds, and their table.

import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import {
  cleanup,
  cpuSeconds,
  ensureTools,
  peakRssMb,
  startBackends,
  type Started,
} from "./processes.js";
import { wrk, type WrkResult } from "./wrk.js";

export type Measured = WrkResult & { cpuUsPerRequest: number };

/** wrk through `target`, with the CPU time the target's processes spent per request meanwhile. */
export async function measure(
  target: Started,
  connections: number,
  seconds: number,
): Promise<Measured> {
  const cpuBefore = cpuSeconds(target.pid);
  const measured = await wrk(target.port, connections, seconds);
  if (measured.requests === 0)
    throw new Error(`${target.name} answered no request in ${seconds} s`);
  const cpuUsPerRequest = ((cpuSeconds(target.pid) - cpuBefore) * 1e6) / measured.requests;
  return { ...measured, cpuUsPerRequest };
}

export const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Measures every candidate once per round, in turn, for `rounds` rounds: drifts of the machine fall on all alike. */
export async function alternate(
  candidates: Started[],
  connections: number,
  rounds: number,
  seconds: number,
): Promise<Map<string, Measured[]>> {
  const runs = new Map<string, Measured[]>(candidates.map((c) => [c.name, []]));
  for (const c of candidates) await wrk(c.port, connections, 3); // warm-up, not counted
  for (let round = 1; round <= rounds; round++) {
    for (const c of candidates) {
      const result = await measure(c, connections, seconds);
      runs.get(c.name)!.push(result);
      console.error(
        `round ${round} ${c.name}: ${Math.round(result.requestsPerSecond)} req/s, p99 ${result.p99Ms} ms, ${result.cpuUsPerRequest.toFixed(1)} µs CPU/request`,
      );
    }
  }
  return runs;
}

/** One row per candidate: medians, and each round's figure beside them. */
export function roundsTable(
  firstColumn: string,
  candidates: Started[],
  runs: Map<string, Measured[]>,
): string[] {
  const rows = candidates.map((c) => {
    const list = runs.get(c.name)!;
    const each = (pick: (r: Measured) => number, digits: number) =>
      list.map((r) => pick(r).toFixed(digits)).join(" · ");
    const mid = (pick: (r: Measured) => number) => median(list.map(pick));
    return `| ${c.name} | ${Math.round(mid((r) => r.requestsPerSecond)).toLocaleString("en")} | ${each((r) => r.requestsPerSecond, 0)} | ${mid((r) => r.cpuUsPerRequest).toFixed(1)} µs | ${each((r) => r.cpuUsPerRequest, 1)} | ${mid((r) => r.p99Ms).toFixed(2)} ms | ${Math.round(peakRssMb(c.pid))} MB | ${list.reduce((n, r) => n + r.errors, 0)} |`;
  });
  return [
    `| ${firstColumn} | requests/s (median) | each round | CPU per request (median) | each round | p99 (median) | peak RSS | errors |`,
    "| --- | ---: | --- | ---: | --- | ---: | ---: | ---: |",
    ...rows,
  ];
}

/**
 * A side-by-side run at one connection count (BENCH_ROUNDS, BENCH_SECONDS,
 * BENCH_CONNECTIONS; 5, 5 and 32 by default): starts the nginx backends and
 * the candidates, alternates the rounds, writes results/<file> (and prints
 * it; results/<name>-c<N>.md for another connection count), and stops
 * everything it started, also when a start fails.
 */
export async function sideBySide(run: {
  file: string;
  command: string;
  /** What ran, for the report. */
  about: string;
  firstColumn: string;
  backends: number[];
  /** One starter per candidate, given the backends' ports. */
  candidates: ((backends: number[]) => Promise<Started>)[];
}): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const seconds = Number(process.env.BENCH_SECONDS ?? 5);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
  /** The settings given, for the command the report quotes. */
  const settings = ["BENCH_ROUNDS", "BENCH_SECONDS", "BENCH_CONNECTIONS", "PROXY_NODE_FLAGS"]
    .filter((name) => process.env[name] !== undefined)
    .map((name) => `${name}=${JSON.stringify(process.env[name])} `)
    .join("");
  ensureTools();
  const started: Started[] = [await startBackends(run.backends)];
  try {
    const candidates: Started[] = [];
    for (const start of run.candidates) {
      const candidate = await start(run.backends);
      started.push(candidate);
      candidates.push(candidate);
    }
    const runs = await alternate(candidates, connections, rounds, seconds);
    const text = [
      `Command: \`${settings}${run.command}\` (${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, Node ${process.version}).`,
      run.about,
      `wrk -t1 -c${connections}, ${rounds} alternating rounds of ${seconds} s after an uncounted warm-up, to 3 nginx backends on loopback.`,
      "",
      ...roundsTable(run.firstColumn, candidates, runs),
      "",
    ].join("\n");
    // Another connection count is written beside the default run, not over it.
    const file = connections === 32 ? run.file : run.file.replace(/\.md$/, `-c${connections}.md`);
    writeFileSync(new URL(`../results/${file}`, import.meta.url), text);
    console.log(text);
  } finally {
    for (const s of started.reverse()) await s.stop();
    cleanup();
  }
}

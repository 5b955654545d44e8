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

/** `load` through `target`, with the CPU time the target's processes spent per request meanwhile. */
export async function withCpu<R extends WrkResult>(
  target: Started,
  load: () => Promise<R>,
): Promise<R & { cpuUsPerRequest: number }> {
  const cpuBefore = cpuSeconds(target.pid);
  const measured = await load();
  if (measured.requests === 0) throw new Error(`${target.name} answered no request`);
  const cpuUsPerRequest = ((cpuSeconds(target.pid) - cpuBefore) * 1e6) / measured.requests;
  return { ...measured, cpuUsPerRequest };
}

/** wrk (one thread) through `target`, with the CPU time per request. */
export function measure(target: Started, connections: number, seconds: number): Promise<Measured> {
  return withCpu(target, () => wrk(target.port, connections, seconds));
}

export const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * Runs `run` on every candidate once per round, in turn (A B C A B C ...),
 * for `rounds` rounds, after one uncounted `warmUp` of each (the JIT, the
 * connection pools): drifts of the machine fall on all candidates alike.
 * Every benchmark's rounds go through here. Returns each candidate's
 * results, by name, in round order.
 */
export async function alternate<C extends { name: string }, R>(
  candidates: readonly C[],
  rounds: number,
  run: (candidate: C) => Promise<R>,
  options: {
    warmUp: (candidate: C) => Promise<unknown>;
    /** What the progress line says about a load and a result. */
    label: string;
    describe: (result: R) => string;
  },
): Promise<Map<string, R[]>> {
  const runs = new Map<string, R[]>(candidates.map((c) => [c.name, []]));
  for (const c of candidates) await options.warmUp(c);
  for (let round = 1; round <= rounds; round++) {
    for (const c of candidates) {
      const result = await run(c);
      runs.get(c.name)!.push(result);
      console.error(`${options.label}, round ${round}, ${c.name}: ${options.describe(result)}`);
    }
  }
  return runs;
}

/** The progress line of a measured run. */
export const describeMeasured = (r: Measured) =>
  `${Math.round(r.requestsPerSecond)} req/s, p99 ${r.p99Ms.toFixed(2)} ms, ${r.cpuUsPerRequest.toFixed(1)} µs CPU/request`;

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
    const runs = await alternate(candidates, rounds, (c) => measure(c, connections, seconds), {
      warmUp: (c) => wrk(c.port, connections, 3),
      label: `${connections} connections`,
      describe: describeMeasured,
    });
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

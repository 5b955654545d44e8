// Measured wrk runs against started processes: one, alternating rounds, and their table.

import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { cpuSeconds, peakRssMb, type Started } from "./processes.js";
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

/** Writes results/<file> (and prints it): the command, what ran, how, and the rounds table. */
export function writeRoundsReport(report: {
  file: string;
  command: string;
  about: string;
  firstColumn: string;
  candidates: Started[];
  runs: Map<string, Measured[]>;
  connections: number;
  rounds: number;
  seconds: number;
}): void {
  const text = [
    `Command: \`${report.command}\` (${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, Node ${process.version}).`,
    report.about,
    `wrk -t1 -c${report.connections}, ${report.rounds} alternating rounds of ${report.seconds} s after an uncounted warm-up, to 3 nginx backends on loopback.`,
    "",
    ...roundsTable(report.firstColumn, report.candidates, report.runs),
    "",
  ].join("\n");
  writeFileSync(new URL(`../results/${report.file}`, import.meta.url), text);
  console.log(text);
}

// One measured wrk run against a started process, and the median of several.

import { cpuSeconds, type Started } from "./processes.js";
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
  const cpuUsPerRequest = ((cpuSeconds(target.pid) - cpuBefore) * 1e6) / measured.requests;
  return { ...measured, cpuUsPerRequest };
}

export const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

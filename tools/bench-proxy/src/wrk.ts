// One wrk run and what it printed.

import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface WrkResult {
  /** Requests completed in the run. */
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : n;
}

export function parseWrk(output: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const total = /(\d+) requests in /.exec(output);
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)\b/.exec(output);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)\b/.exec(output);
  if (!rps || !total || !p50 || !p99) throw new Error(`cannot read wrk's output:\n${output}`);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    output,
  );
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const errors =
    (socketErrors ? socketErrors.slice(1).reduce((s, n) => s + Number(n), 0) : 0) +
    (non2xx ? Number(non2xx[1]) : 0);
  return {
    requests: Number(total[1]),
    requestsPerSecond: Number(rps[1]),
    p50Ms: toMs(p50[1]!, p50[2]!),
    p99Ms: toMs(p99[1]!, p99[2]!),
    errors,
  };
}

/**
 * wrk with one thread, as in HAProxy's own one-thread comparison. `url`
 * (https://...) replaces the plain port's; `headers` are sent with every request.
 */
export async function wrk(
  port: number,
  connections: number,
  seconds: number,
  options: { url?: string; headers?: string[] } = {},
): Promise<WrkResult> {
  const headers = (options.headers ?? []).flatMap((h) => ["-H", h]);
  const url = options.url ?? `http://127.0.0.1:${port}/`;
  const { stdout } = await run(
    "wrk",
    ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", ...headers, url],
    { maxBuffer: 1 << 20 },
  );
  return parseWrk(stdout);
}

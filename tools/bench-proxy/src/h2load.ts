// One h2load run (nghttp2's HTTP/2 load generator) and what it measured.
// h2load prints no percentiles, so each request's time is read from its
// per-request log.

import { execFile } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { promisify } from "node:util";
import type { WrkResult } from "./wrk.js";

const run = promisify(execFile);

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

/** `connections` HTTP/2 connections with `streams` requests in flight on each, for `seconds`. */
export async function h2load(
  url: string,
  connections: number,
  streams: number,
  seconds: number,
  logFile: string,
): Promise<WrkResult> {
  const { stdout } = await run(
    "h2load",
    ["-t1", `-c${connections}`, `-m${streams}`, `-D${seconds}`, `--log-file=${logFile}`, url],
    { maxBuffer: 1 << 20 },
  );
  const finished = /finished in ([\d.]+)s, ([\d.]+) req\/s/.exec(stdout);
  const counts =
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      stdout,
    );
  if (!finished || !counts || !stdout.includes("Application protocol: h2"))
    throw new Error(`cannot read h2load's output (or it did not speak h2):\n${stdout}`);
  const lines = readFileSync(logFile, "utf8").trim().split("\n");
  rmSync(logFile, { force: true });
  // start (µs since the epoch), status, duration (µs)
  const times = Float64Array.from(lines, (line) => Number(line.split("\t")[2]) / 1000).sort();
  return {
    requests: Number(counts[4]),
    requestsPerSecond: Number(finished[2]),
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    errors: Number(counts[5]) + Number(counts[6]) + Number(counts[7]),
  };
}

// Many connections at once: wrk with two threads and 1,000 or more
// connections, the latency tail and the requests wrk gave up on (past 2 s),
// and what the proxy holds meanwhile (its connections to the servers, its
// requests in flight). The part of `pnpm bench:proxy` for issue #19.

import { execFile } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { promisify } from "node:util";
import { cpuSeconds, type Started } from "./processes.js";
import { parseWrk, type WrkResult } from "./wrk.js";

const run = promisify(execFile);

export interface LoadResult extends WrkResult {
  maxMs: number;
  /** Requests wrk gave up on after 2 s (its timeout). */
  timeouts: number;
  /** The most connections to the servers the proxy held at once (sampled every 100 ms). */
  upstreamPeak: number;
  /** Requests in flight in the proxy when it held them (stickyring only; undefined otherwise). */
  inFlightAtPeak: number | undefined;
  cpuUsPerRequest: number;
}

/** The latency wrk reports as its maximum, in ms. */
function maxLatencyMs(output: string): number {
  const match = /Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)\b/.exec(output);
  if (!match) return NaN;
  const n = Number(match[1]);
  return match[2] === "us" ? n / 1000 : match[2] === "s" ? n * 1000 : n;
}

/** Socket inodes of a process and its children. */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  const pids = [pid, ...children(pid)];
  for (const p of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${p}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${p}/fd/${fd}`);
        const match = /^socket:\[(\d+)\]$/.exec(target);
        if (match) inodes.add(match[1]!);
      } catch {
        // closed meanwhile
      }
    }
  }
  return inodes;
}

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Established TCP connections of `pid` whose remote port is one of `ports`. */
export function connectionsTo(pid: number, ports: readonly number[]): number {
  const inodes = socketInodes(pid);
  const wanted = new Set(ports.map((p) => p.toString(16).toUpperCase().padStart(4, "0")));
  let count = 0;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const remotePort = fields[2]!.split(":")[1];
      // 01: ESTABLISHED
      if (fields[3] === "01" && wanted.has(remotePort!) && inodes.has(fields[9]!)) count++;
    }
  }
  return count;
}

/** The sum of in-flight requests the admin API reports, or undefined without one. */
async function inFlight(adminPort: number | undefined): Promise<number | undefined> {
  if (adminPort === undefined) return undefined;
  try {
    const answer = (await (
      await fetch(`http://127.0.0.1:${adminPort}/api/servers`, { signal: AbortSignal.timeout(500) })
    ).json()) as { servers: { inFlight: number }[] };
    return answer.servers.reduce((sum, s) => sum + s.inFlight, 0);
  } catch {
    return undefined;
  }
}

/** wrk with two threads and `connections` connections through `target`, with what the proxy held. */
export async function highLoad(
  target: Started & { adminPort?: number },
  backendPorts: readonly number[],
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  let upstreamPeak = 0;
  let inFlightAtPeak: number | undefined;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const upstream = connectionsTo(target.pid, backendPorts);
      if (upstream > upstreamPeak) {
        upstreamPeak = upstream;
        inFlightAtPeak = await inFlight(target.adminPort);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const cpuBefore = cpuSeconds(target.pid);
  const { stdout } = await run(
    "wrk",
    [
      "-t2",
      `-c${connections}`,
      `-d${seconds}s`,
      "--timeout",
      "2s",
      "--latency",
      `http://127.0.0.1:${target.port}/`,
    ],
    { maxBuffer: 1 << 20 },
  );
  sampling = false;
  await sampler;
  const result = parseWrk(stdout);
  const timeouts = /timeout (\d+)/.exec(stdout);
  return {
    ...result,
    maxMs: maxLatencyMs(stdout),
    timeouts: timeouts ? Number(timeouts[1]) : 0,
    upstreamPeak,
    inFlightAtPeak,
    cpuUsPerRequest: ((cpuSeconds(target.pid) - cpuBefore) * 1e6) / Math.max(1, result.requests),
  };
}

// One run with many connections at once: wrk with two threads and 1,000 or
// more connections, the latency tail and the requests wrk gave up on (past
// 2 s), and what the proxy holds meanwhile (its connections to the servers,
// its requests in flight). high.ts runs it in rounds for `pnpm bench:proxy`.

import { execFile } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { promisify } from "node:util";
import { withOpenFiles } from "./limits.js";
import { childPids, type Started } from "./processes.js";
import { parseWrk, type WrkResult } from "./wrk.js";

const run = promisify(execFile);

export interface LoadResult extends WrkResult {
  maxMs: number;
  /** Requests wrk gave up on after 2 s (its timeout). */
  timeouts: number;
  /** The most connections to the servers the proxy held at once (sampled every SAMPLE_EVERY_MS). */
  upstreamPeak: number;
  /**
   * Requests in flight in the proxy, from stickyring's admin API (undefined
   * for others, or when it never answered): when the upstream peak was seen
   * (read just after it), and the most seen at any sample.
   */
  inFlightAtPeak: number | undefined;
  inFlightPeak: number | undefined;
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
  const pids = [pid, ...childPids(pid)];
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

/**
 * The sum of in-flight requests the admin API reports, or undefined without
 * one. It shares the proxy's event loop, which is busy at 5,000 connections:
 * a second to answer.
 */
async function inFlight(adminPort: number | undefined): Promise<number | undefined> {
  if (adminPort === undefined) return undefined;
  try {
    const answer = (await (
      await fetch(`http://127.0.0.1:${adminPort}/api/servers`, {
        signal: AbortSignal.timeout(1000),
      })
    ).json()) as { servers: { inFlight: number }[] };
    return answer.servers.reduce((sum, s) => sum + s.inFlight, 0);
  } catch {
    return undefined;
  }
}

/** How often the proxy's connections are counted: reading /proc/net/tcp with 10,000 sockets costs the bench's own core a few ms. */
const SAMPLE_EVERY_MS = 250;

/**
 * wrk with two threads and `connections` connections through `target`
 * (the open-file limit raised for it), with what the proxy held meanwhile.
 */
export async function highLoad(
  target: Started & { adminPort?: number },
  backendPorts: readonly number[],
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  let upstreamPeak = 0;
  let inFlightAtPeak: number | undefined;
  let inFlightPeak: number | undefined;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const upstream = connectionsTo(target.pid, backendPorts);
      const requests = await inFlight(target.adminPort);
      if (requests !== undefined) inFlightPeak = Math.max(inFlightPeak ?? 0, requests);
      if (upstream > upstreamPeak) {
        upstreamPeak = upstream;
        inFlightAtPeak = requests;
      }
      await new Promise((r) => setTimeout(r, SAMPLE_EVERY_MS));
    }
  })();
  const [command, args] = withOpenFiles("wrk", [
    "-t2",
    `-c${connections}`,
    `-d${seconds}s`,
    "--timeout",
    "2s",
    "--latency",
    `http://127.0.0.1:${target.port}/`,
  ]);
  const { stdout } = await run(command, args, { maxBuffer: 1 << 20 }).finally(() => {
    sampling = false;
  });
  await sampler;
  const timeouts = /timeout (\d+)/.exec(stdout);
  return {
    ...parseWrk(stdout),
    maxMs: maxLatencyMs(stdout),
    timeouts: timeouts ? Number(timeouts[1]) : 0,
    upstreamPeak,
    inFlightAtPeak,
    inFlightPeak,
  };
}

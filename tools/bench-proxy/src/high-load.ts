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

export interface ServerPeak {
  server: string;
  requests: number;
  connections: number;
}

export interface LoadResult extends WrkResult {
  maxMs: number;
  /** Requests wrk gave up on after 2 s (its timeout). */
  timeouts: number;
  /** The most connections to the servers the proxy held at once, counted by the kernel (sampled every SAMPLE_EVERY_MS). */
  upstreamPeak: number;
  /**
   * stickyring's own peaks per server since it started, read from its
   * metrics after the round (undefined for others): the most requests in
   * flight (holding a slot) and the most connections open at once. Exact,
   * where a sample would miss a burst shorter than its period.
   */
  serverPeaks: ServerPeak[] | undefined;
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

/** stickyring's stickyring_server_{requests,connections}_max gauges, or undefined without an admin port. */
async function serverPeaks(adminPort: number | undefined): Promise<ServerPeak[] | undefined> {
  if (adminPort === undefined) return undefined;
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const peaks = new Map<string, ServerPeak>();
  for (const match of text.matchAll(
    /^stickyring_server_(requests|connections)_max\{backend="([^"]+)"\} (\d+)$/gm,
  )) {
    const server = match[2]!;
    const peak = peaks.get(server) ?? { server, requests: 0, connections: 0 };
    peak[match[1] as "requests" | "connections"] = Number(match[3]);
    peaks.set(server, peak);
  }
  if (peaks.size === 0) throw new Error(`no stickyring_server_*_max metrics on port ${adminPort}`);
  return [...peaks.values()];
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
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      upstreamPeak = Math.max(upstreamPeak, connectionsTo(target.pid, backendPorts));
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
    serverPeaks: await serverPeaks(target.adminPort),
  };
}

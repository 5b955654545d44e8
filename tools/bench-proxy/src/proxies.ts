// The proxies `pnpm bench:proxy` compares: one entry per row of its tables.
// Adding a row is adding an entry; the first entry is the reference the
// others are divided by.

import { cpus } from "node:os";
import {
  launchLine,
  PORT_BASE,
  startBaseline,
  startHaproxy,
  startStickyring,
  type Started,
} from "./processes.js";

export interface Where {
  port: number;
  adminPort: number;
  backends: number[];
  /** The most client connections the run will open (HAProxy's maxconn). */
  maxConnections: number;
}

export interface Proxy {
  name: string;
  /** What runs, for the report's header (a sentence). */
  about: string;
  /** Also in the high-concurrency section (1,000 and 5,000 connections), or only there. */
  high: boolean | "only";
  start(where: Where): Promise<Started & { adminPort?: number }>;
}

/** stickyring as `pnpm start` runs it, with further settings (environment variables). */
const stickyring =
  (workers = 0, settings: Record<string, string> = {}) =>
  ({ port, adminPort, backends }: Where) =>
    startStickyring(port, adminPort, backends, workers, undefined, settings);

const cores = cpus().length;

export const PROXIES: Proxy[] = [
  {
    name: "HAProxy 2.6",
    about: "`balance source`, `hash-type consistent`, `nbthread 1`.",
    high: true,
    // maxconn: room for the run and a little more (4,096 at least, as before); startHaproxy keeps it within the open-file limit.
    start: ({ port, backends, maxConnections }) =>
      startHaproxy(port, backends, { maxconn: Math.max(4096, maxConnections + 256) }),
  },
  {
    name: "stickyring",
    about: `one process, default configuration (access log off, as HAProxy here has no \`log\` line), run as \`pnpm start\` and the image run it (${launchLine()}).`,
    high: true,
    start: stickyring(),
  },
  {
    name: "stickyring, MAXCONN=1000",
    about:
      "stickyring with `MAXCONN=1000` (high concurrency only): at most 1,000 requests in flight per server, the rest queued in the proxy, as Envoy's default circuit breakers (1,024) and HAProxy operators' server `maxconn` bound them. The default is no limit, which long polls and server-sent events need.",
    high: "only",
    start: stickyring(0, { MAXCONN: "1000" }),
  },
  {
    name: "stickyring (express engine)",
    about:
      "stickyring with `HTTP_ENGINE=express`: the engine on Node's public APIs (node:http, Express), the fallback when the fast engine's parser binding is missing.",
    high: false,
    start: stickyring(0, { HTTP_ENGINE: "express" }),
  },
  {
    name: "tutorial baseline",
    about:
      "Express and http-proxy-middleware with a router hashing the client address, as tutorials write it (tools/bench-proxy/src/baseline.ts).",
    high: false,
    start: ({ port, backends }) => startBaseline(port, backends),
  },
  {
    name: `stickyring, ${cores} workers`,
    about: `stickyring with \`WORKERS=${cores}\` (the multi-core mode: a control process and one data-plane worker per core; RSS is the sum of all ${cores + 1} processes).`,
    high: false,
    start: stickyring(cores),
  },
];

/**
 * Starts `proxies` in turn, the i-th on PORT_BASE + `offset` + i (admin API
 * 100 above), each named as its entry. Pushes each onto `started` as soon
 * as it runs, so the caller stops them also when a later one fails.
 */
export async function startProxies(
  proxies: readonly Proxy[],
  offset: number,
  backends: number[],
  maxConnections: number,
  started: Started[],
): Promise<(Started & { adminPort?: number })[]> {
  const running: (Started & { adminPort?: number })[] = [];
  for (const [i, proxy] of proxies.entries()) {
    const port = PORT_BASE + offset + i;
    const one = await proxy.start({ port, adminPort: port + 100, backends, maxConnections });
    const named = { ...one, name: proxy.name };
    started.push(named);
    running.push(named);
  }
  return running;
}

/** The proxies of the main table (4 to 128 connections). */
export const MAIN_PROXIES = PROXIES.filter((p) => p.high !== "only");

// Issue #19's goals for the high-concurrency section, each a figure of one
// run's summary (ratios against HAProxy within the same run, never across
// runs: the machine drifts too much between them).

import type { LoadResult } from "./high-load.js";

/** One proxy's rounds at one connection count, summed up. */
export interface HighSummary {
  proxy: string;
  /** The connection count asked for, and the one run (lower when the open-file limit capped it). */
  requested: number;
  connections: number;
  rounds: (LoadResult & { cpuUsPerRequest: number })[];
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** The highest latency of any round. */
  maxMs: number;
  /** Over all rounds. */
  timeouts: number;
  errors: number;
  /** The most connections to the servers in any round, counted by the kernel. */
  upstreamPeak: number;
  /**
   * stickyring's own peaks over the whole run (its metrics, read after the
   * last round), summed over the servers: requests in flight and
   * connections. Undefined for proxies without them.
   */
  inFlightPeak: number | undefined;
  connectionsPeak: number | undefined;
  /**
   * The worst server's most connections open at once per most requests in
   * flight to it (NaN without the proxy's peaks). Peak against peak: a
   * kept-alive pool rightly keeps what the busiest moment needed.
   */
  upstreamPerInFlight: number;
  cpuUsPerRequest: number;
  peakRssMb: number;
}

export interface Goal {
  /** The connection count (as asked for) it applies to. */
  connections: number;
  text: string;
  value(summary: HighSummary, reference: HighSummary): number;
  met(value: number): boolean;
  show(value: number): string;
}

const count = (n: number) => n.toLocaleString("en");
const times = (n: number) => `${n.toFixed(2)} x`;

export const HIGH_GOALS: Goal[] = [
  {
    connections: 1000,
    text: "0 requests past 2 s (wrk timeouts)",
    value: (s) => s.timeouts,
    met: (v) => v === 0,
    show: count,
  },
  {
    connections: 1000,
    text: "p99 <= 3 x HAProxy's",
    value: (s, ref) => s.p99Ms / ref.p99Ms,
    met: (v) => v <= 3,
    show: times,
  },
  {
    connections: 1000,
    text: "requests/s >= 0.5 x HAProxy's",
    value: (s, ref) => s.requestsPerSecond / ref.requestsPerSecond,
    met: (v) => v >= 0.5,
    show: times,
  },
  {
    connections: 1000,
    text: "upstream connections open at once <= 1.1 x requests in flight (the proxy's peaks per server, worst server)",
    value: (s) => s.upstreamPerInFlight,
    met: (v) => v <= 1.1,
    show: (v) => (Number.isNaN(v) ? "not measured" : times(v)),
  },
  {
    connections: 5000,
    text: "0 errors (connect, read, write, timeout, non-2xx)",
    value: (s) => s.errors,
    met: (v) => v === 0,
    show: count,
  },
  {
    connections: 5000,
    text: "0 requests past 2 s (wrk timeouts)",
    value: (s) => s.timeouts,
    met: (v) => v === 0,
    show: count,
  },
  {
    connections: 5000,
    text: "peak RSS <= 200 MB",
    value: (s) => s.peakRssMb,
    met: (v) => v <= 200,
    show: (v) => `${v.toFixed(0)} MB`,
  },
];

// `pnpm bench:proxy`'s high-concurrency section (issue #19): HAProxy and
// stickyring (the PROXIES marked `high`) at 1,000 and 5,000 connections,
// alternating round by round, with issue #19's goals judged beside the
// figures. Each connection count gets freshly started proxies, so each
// count's peak RSS is its own.

import { median, alternate, withCpu } from "./measure.js";
import { highLoad, type LoadResult, type ServerPeak } from "./high-load.js";
import { HIGH_GOALS, type HighSummary } from "./high-goals.js";
import { connectionsAllowed, OPEN_FILES } from "./limits.js";
import { peakRssMb, type Started } from "./processes.js";
import { PROXIES, startProxies } from "./proxies.js";

export const HIGH = {
  enabled: process.env.BENCH_HIGH !== "0",
  connections: (process.env.BENCH_HIGH_CONNECTIONS ?? "1000,5000").split(",").map(Number),
  seconds: Number(process.env.BENCH_HIGH_SECONDS ?? 10),
  rounds: Number(process.env.BENCH_HIGH_ROUNDS ?? 3),
};

/** The section's ports: PORT_BASE + 250 and on (admin APIs 100 above). */
const PORT_OFFSET = 250;

type Round = LoadResult & { cpuUsPerRequest: number };

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits });

function summarize(
  proxy: string,
  requested: number,
  connections: number,
  rounds: Round[],
  peakRss: number,
): HighSummary {
  const mid = (pick: (r: Round) => number) => median(rounds.map(pick));
  // The proxy's peaks count from its start: the last round's cover the run.
  const peaks = rounds.at(-1)!.serverPeaks;
  const sum = (pick: (p: ServerPeak) => number) =>
    peaks === undefined ? undefined : peaks.reduce((n, p) => n + pick(p), 0);
  // Servers no request reached (source hashing of one client address sends
  // wrk's every connection to one) have nothing to divide.
  const used = peaks?.filter((p) => p.requests > 0) ?? [];
  const perInFlight =
    used.length === 0 ? NaN : Math.max(...used.map((p) => p.connections / p.requests));
  return {
    proxy,
    requested,
    connections,
    rounds,
    requestsPerSecond: mid((r) => r.requestsPerSecond),
    p50Ms: mid((r) => r.p50Ms),
    p99Ms: mid((r) => r.p99Ms),
    maxMs: Math.max(...rounds.map((r) => r.maxMs)),
    timeouts: rounds.reduce((n, r) => n + r.timeouts, 0),
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    upstreamPeak: Math.max(...rounds.map((r) => r.upstreamPeak)),
    inFlightPeak: sum((p) => p.requests),
    connectionsPeak: sum((p) => p.connections),
    upstreamPerInFlight: perInFlight,
    cpuUsPerRequest: mid((r) => r.cpuUsPerRequest),
    peakRssMb: peakRss,
  };
}

/** Runs the section against the running `backends`; returns its markdown (heading included). */
export async function highSection(backends: number[], started: Started[]): Promise<string> {
  const allowed = connectionsAllowed();
  const summaries: HighSummary[] = [];
  for (const requested of HIGH.connections) {
    const connections = Math.min(requested, allowed);
    if (connections < requested)
      console.error(
        `${requested} connections capped to ${connections}: the open-file limit is ${OPEN_FILES}`,
      );
    const proxies = await startProxies(
      PROXIES.filter((p) => p.high),
      PORT_OFFSET,
      backends,
      connections,
      started,
    );
    const runs = await alternate(
      proxies,
      HIGH.rounds,
      (c) => withCpu(c, () => highLoad(c, backends, connections, HIGH.seconds)),
      {
        warmUp: (c) => highLoad(c, backends, connections, 3),
        label: `${connections} connections`,
        describe: (r) =>
          `${Math.round(r.requestsPerSecond)} req/s, p99 ${r.p99Ms.toFixed(1)} ms, max ${r.maxMs.toFixed(0)} ms, ${r.timeouts} past 2 s, ${r.errors} errors, ${r.upstreamPeak} upstream${r.serverPeaks ? ` (the proxy's peaks so far: ${r.serverPeaks.map((p) => `${p.server} ${p.connections} connections / ${p.requests} in flight`).join(", ")})` : ""}`,
      },
    );
    for (const c of proxies) {
      summaries.push(
        summarize(c.name, requested, connections, runs.get(c.name)!, peakRssMb(c.pid)),
      );
      await c.stop();
      started.splice(started.indexOf(c), 1);
    }
  }
  return report(summaries, allowed);
}

function report(summaries: HighSummary[], allowed: number): string {
  const reference = PROXIES[0]!.name;
  const referenceAt = (s: HighSummary) =>
    summaries.find((r) => r.requested === s.requested && r.proxy === reference)!;
  const capped = [
    ...new Map(
      summaries.filter((s) => s.connections < s.requested).map((s) => [s.requested, s]),
    ).values(),
  ];
  const show = (n: number | undefined) => (n === undefined ? "-" : fmt(n));
  const rows = summaries.map((s) => {
    const ref = referenceAt(s);
    const each = s.rounds.map((r) => fmt(r.requestsPerSecond)).join(" · ");
    return `| ${fmt(s.connections)} | ${s.proxy} | ${fmt(s.requestsPerSecond)} | ${fmt(s.requestsPerSecond / ref.requestsPerSecond, 2)} x | ${each} | ${fmt(s.p50Ms, 1)} ms | ${fmt(s.p99Ms, 1)} ms | ${fmt(s.p99Ms / ref.p99Ms, 2)} x | ${fmt(s.maxMs)} ms | ${fmt(s.timeouts)} | ${fmt(s.errors)} | ${fmt(s.upstreamPeak)} | ${show(s.connectionsPeak)} | ${show(s.inFlightPeak)} | ${fmt(s.peakRssMb)} MB | ${fmt(s.cpuUsPerRequest, 1)} µs |`;
  });
  const verdicts = HIGH_GOALS.flatMap((goal) =>
    summaries
      .filter((s) => s.requested === goal.connections && s.proxy !== reference)
      .map((s) => {
        const value = goal.value(s, referenceAt(s));
        const at =
          s.connections < s.requested
            ? `${fmt(s.requested)} (capped to ${fmt(s.connections)})`
            : fmt(s.connections);
        return `| ${at} | ${s.proxy} | ${goal.text} | ${goal.show(value)} | ${goal.met(value) ? "**pass**" : "**FAIL**"} |`;
      }),
  );
  return [
    "## High concurrency",
    "",
    `wrk -t2 with a 2 s timeout, ${HIGH.rounds} alternating rounds of ${HIGH.seconds} s per proxy and connection count after an uncounted 3 s warm-up, proxies started afresh for each count (peak RSS is that count's); medians of the rounds, \`each round\` beside them.`,
    `Open files: every child (wrk, nginx, the proxies) runs with a soft limit of ${fmt(OPEN_FILES)} (the hard limit); a proxy needs a client and an upstream socket per connection, so at most ${fmt(allowed)} connections${capped.length > 0 ? `: **capped** ${capped.map((s) => `${fmt(s.requested)} to ${fmt(s.connections)}`).join(", ")}` : " (no count capped)"}. HAProxy: \`maxconn\` the count + 256 or 4,096, whichever is more, but at most ${fmt(allowed)}, global and frontend; a capped count's goals are judged at the count run.`,
    "Past 2 s: requests that took longer than wrk's 2 s timeout (or never completed), also counted in errors. Max: the slowest request within 2 s (wrk counts a slower one as a timeout and records no latency for it). Upstream at peak: the most established connections from the proxy to the 3 backends in any round, counted by the kernel (sampled every 250 ms). Most connections and most in flight: stickyring's own peaks (its `stickyring_server_connections_max` and `stickyring_server_requests_max`, exact, read after the last round), summed over the servers; HAProxy: - (its stats socket is not enabled here). The goal divides each server's connection peak by its in-flight peak.",
    "",
    "| connections | proxy | requests/s (median) | vs HAProxy | each round | p50 | p99 | p99 vs HAProxy | max | past 2 s | errors | upstream at peak | most connections | most in flight | peak RSS | CPU per request |",
    "| ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
    "Issue #19's goals, judged on this run (ratios against HAProxy in the same run):",
    "",
    "| connections | proxy | goal | measured | verdict |",
    "| ---: | --- | --- | ---: | --- |",
    ...verdicts,
    "",
  ].join("\n");
}

// `pnpm soak`: 200,000 requests at 128 connections through the proxy, each
// connection a client with its own loopback address, while two backends are
// killed (SIGKILL) and restarted. Reports failures, stickiness and the
// proxy's memory; writes results/soak.md. SOAK_CONNECTIONS=1000 and
// SOAK_SECONDS=N (`pnpm soak:1000`) run 1,000 clients for N seconds instead,
// writing results/soak-c1000-<N>s.md, with a verdict on whether RSS stayed flat.

import { readFileSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { cpus } from "node:os";
import { clientAddresses, get } from "@stickyring/loopback";
import { createHashRing, sourceKey } from "@stickyring/hashing";
import { connectionsAllowed, OPEN_FILES } from "./limits.js";
import { commit } from "./provenance.js";
import { cleanup, PORT_BASE, PROXY_START, repo, startProcess, type Started } from "./processes.js";

const DEFAULT_TOTAL = 200_000;
const DEFAULT_CONNECTIONS = 128;
const TOTAL = Number(process.env.SOAK_REQUESTS ?? DEFAULT_TOTAL);
const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS ?? DEFAULT_CONNECTIONS);
/** Set: a run bounded in time (SOAK_SECONDS), which SOAK_REQUESTS does not bound. */
const SECONDS =
  process.env.SOAK_SECONDS === undefined ? undefined : Number(process.env.SOAK_SECONDS);
/** The command and the results file, so another run sits beside the default one. */
const { COMMAND, RESULTS } = (() => {
  const connections = CONNECTIONS === DEFAULT_CONNECTIONS ? "" : `SOAK_CONNECTIONS=${CONNECTIONS} `;
  const c = CONNECTIONS === DEFAULT_CONNECTIONS ? "" : `-c${CONNECTIONS}`;
  if (SECONDS !== undefined)
    return {
      COMMAND: `${connections}SOAK_SECONDS=${SECONDS} pnpm soak`,
      RESULTS: `soak${c}-${SECONDS}s.md`,
    };
  if (TOTAL === DEFAULT_TOTAL && c === "") return { COMMAND: "pnpm soak", RESULTS: "soak.md" };
  return {
    COMMAND: `${connections}${TOTAL === DEFAULT_TOTAL ? "" : `SOAK_REQUESTS=${TOTAL} `}pnpm soak`,
    RESULTS: `soak${c}${TOTAL === DEFAULT_TOTAL ? "" : `-${TOTAL}`}.md`,
  };
})();
/** RSS is flat when, after the warm-up (this share of the run), the last third's highest is within FLAT of the first third's. */
const WARM_UP = 0.1;
const FLAT = 0.1;
const backendPorts = [PORT_BASE + 501, PORT_BASE + 502, PORT_BASE + 503];
const proxyPort = PORT_BASE + 510;
const adminPort = PORT_BASE + 511;

function startBackend(n: number): Promise<Started> {
  return startProcess(
    `app${n}`,
    backendPorts[n - 1]!,
    process.execPath,
    [`${repo}/apps/app${n}/dist/main.js`],
    {
      PORT: String(backendPorts[n - 1]),
      LOG_LEVEL: "warn",
    },
  );
}

function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
  } catch {
    return NaN;
  }
}

/** One request over the client's own keep-alive connection; a network error is status 0. */
function once(agent: Agent, from: string): Promise<{ status: number; backend: string }> {
  return get(proxyPort, { from, agent }).then(
    (reply) => ({ status: reply.status, backend: String(reply.backend) }),
    () => ({ status: 0, backend: "-" }),
  );
}

/** Waits until the proxy's admin API has `id` in its placement (30 s at most). */
async function inPlacement(id: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const answer = (await (await fetch(`http://127.0.0.1:${adminPort}/api/servers`)).json()) as {
      servers: { id: string; inPlacement: boolean }[];
    };
    if (answer.servers.some((s) => s.id === id && s.inPlacement)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${id} did not come back into the placement within 30 s`);
}

/** Runs the soak; true when nothing failed, no client strayed and RSS stayed flat. */
async function main(): Promise<boolean> {
  // The proxy holds a client and an upstream socket per connection (limits.ts).
  if (CONNECTIONS > connectionsAllowed())
    throw new Error(
      `SOAK_CONNECTIONS=${CONNECTIONS} needs about ${2 * CONNECTIONS} open files in the proxy; the hard limit is ${OPEN_FILES} (at most ${connectionsAllowed()} connections)`,
    );
  const backends: Started[] = [];
  let proxy: Started | undefined;
  try {
    backends.push(...(await Promise.all([1, 2, 3].map(startBackend))));
    proxy = await startProcess(
      "proxy",
      proxyPort,
      process.execPath,
      [...PROXY_START.flags, `${repo}/apps/proxy/dist/main.js`],
      {
        ...PROXY_START.env,
        PORT: String(proxyPort),
        ADMIN_PORT: String(adminPort),
        LOG_LEVEL: "warn",
        BACKENDS: backendPorts.map((p, i) => `app${i + 1}=http://127.0.0.1:${p}`).join(","),
      },
    );
    const proxyPid = proxy.pid;
    const ring = createHashRing({ servers: ["app1", "app2", "app3"].map((id) => ({ id })) });
    const clients = clientAddresses(CONNECTIONS);
    const seen = clients.map(() => new Map<string, number>());
    /** RSS samples, `at` the share of the run done then (0 to 1). */
    const rss: { at: number; mb: number }[] = [];
    let done = 0;
    let failed = 0;
    const events: string[] = [];
    const started = performance.now();
    const elapsed = () => (performance.now() - started) / 1000;
    /** The share of the run done: of its time when bounded in time, else of its requests. */
    const progress = () => (SECONDS !== undefined ? elapsed() / SECONDS : done / TOTAL);
    const when = () =>
      `${done.toLocaleString("en")} requests${SECONDS !== undefined ? ` (${elapsed().toFixed(1)} s)` : ""}`;

    const sampler = setInterval(() => rss.push({ at: progress(), mb: rssMb(proxyPid) }), 500);
    const kill = (n: number) => async () => {
      await backends[n - 1]!.stop("SIGKILL");
      events.push(`app${n} killed at ${when()}`);
    };
    // A restarted backend must be back in the placement before the plan goes
    // on: otherwise the next kill would find some clients' fallback still down,
    // which tests the timing of this script rather than the proxy.
    const restart = (n: number) => async () => {
      backends[n - 1] = await startBackend(n);
      events.push(`app${n} restarted at ${when()}`);
      await inPlacement(`app${n}`);
      events.push(`app${n} back in the placement at ${when()}`);
    };
    // Kill app2 at 20%, restart it at 35%; kill app3 at 55%, restart it at 70%.
    const plan = [
      { at: 0.2, act: kill(2) },
      { at: 0.35, act: restart(2) },
      { at: 0.55, act: kill(3) },
      { at: 0.7, act: restart(3) },
    ];
    let next = 0;
    const more = () => (SECONDS !== undefined ? progress() < 1 : next < TOTAL);
    const driver = (async () => {
      for (const step of plan) {
        while (progress() < step.at) await new Promise((r) => setTimeout(r, 20));
        await step.act();
      }
    })();
    await Promise.all(
      clients.map(async (from, i) => {
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        while (more()) {
          next++;
          const outcome = await once(agent, from);
          done++;
          if (outcome.status !== 200) failed++;
          else seen[i]!.set(outcome.backend, (seen[i]!.get(outcome.backend) ?? 0) + 1);
        }
        agent.destroy();
      }),
    );
    await driver;
    clearInterval(sampler);
    const seconds = elapsed();

    // A client may reach its owner, and its next server while the owner is down; nothing else.
    let strays = 0;
    clients.forEach((from, i) => {
      const allowed = new Set(ring.pickN(sourceKey(from), 2));
      const owner = ring.pick(sourceKey(from))!;
      for (const backend of seen[i]!.keys()) {
        if (backend !== owner && !(allowed.has(backend) && (owner === "app2" || owner === "app3")))
          strays++;
      }
    });
    const between = (from: number, to: number) =>
      rss.filter((s) => s.at >= from && s.at < to).map((s) => s.mb);
    const mean = (values: number[]) =>
      values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
    const highest = (values: number[]) => (values.length === 0 ? NaN : Math.max(...values));
    const firstQ = mean(between(0, 0.25));
    const lastQ = mean(between(0.75, Infinity));
    // The whole curve, so a ramp from idle can be told from growth that goes on.
    const tenths = Array.from({ length: 10 }, (_, t) =>
      highest(between(t / 10, t === 9 ? Infinity : (t + 1) / 10)).toFixed(0),
    );
    // Flat: after the warm-up, the last third's highest against the first third's.
    const third = (1 - WARM_UP) / 3;
    const early = highest(between(WARM_UP, WARM_UP + third));
    const late = highest(between(1 - third, Infinity));
    const growth = (late - early) / early;
    const flat = growth <= FLAT;
    const at = (share: number) =>
      rss.reduce((a, b) => (Math.abs(b.at - share) < Math.abs(a.at - share) ? b : a)).mb;
    const report = [
      `Command: \`${COMMAND}\` (${new Date().toISOString().slice(0, 10)}, ${commit()}, ${cpus().length} cores, Node ${process.version}): ${SECONDS !== undefined ? `${SECONDS} s` : `${TOTAL.toLocaleString("en")} requests`}, ${CONNECTIONS.toLocaleString("en")} keep-alive connections, each a client with its own loopback address; app2 then app3 killed with SIGKILL and restarted during the run (at 20%/35% and 55%/70% of it).`,
      "",
      "| measure | value |",
      "| --- | --- |",
      `| requests | ${done.toLocaleString("en")} in ${seconds.toFixed(1)} s (${Math.round(done / seconds).toLocaleString("en")} /s) |`,
      `| failed (non-200 or no answer) | ${failed} |`,
      `| clients that reached a backend other than their own or, while it was down, their next one | ${strays} |`,
      `| proxy RSS, mean of first quarter / last quarter | ${firstQ.toFixed(1)} MB / ${lastQ.toFixed(1)} MB (${(((lastQ - firstQ) / firstQ) * 100).toFixed(1)}%) |`,
      `| proxy RSS, highest in each tenth of the ${SECONDS !== undefined ? "run" : "requests"} (MB) | ${tenths.join(" · ")} |`,
      `| proxy RSS at the start / middle / end | ${at(0).toFixed(1)} / ${at(0.5).toFixed(1)} / ${at(1).toFixed(1)} MB |`,
      `| RSS flat: after a ${WARM_UP * 100}% warm-up, the last third's highest within ${FLAT * 100}% of the first third's | ${early.toFixed(1)} -> ${late.toFixed(1)} MB (${growth >= 0 ? "+" : ""}${(growth * 100).toFixed(1)}%): **${flat ? "flat" : "NOT flat"}** |`,
      `| proxy still running | ${rssMb(proxyPid) > 0 ? "yes" : "no"} |`,
      `| events | ${events.join("; ")} |`,
      "",
    ].join("\n");
    writeFileSync(new URL(`../results/${RESULTS}`, import.meta.url), report);
    console.log(report);
    return failed === 0 && strays === 0 && flat;
  } finally {
    for (const s of [proxy, ...backends]) await s?.stop();
    cleanup();
  }
}

process.exit((await main()) ? 0 : 1);

// `pnpm soak`: 200,000 requests at 128 connections through the proxy, each
// connection a client with its own loopback address, while two backends are
// killed (SIGKILL) and restarted. Reports failures, stickiness and the
// proxy's memory; writes results/soak.md.

import { readFileSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { get } from "@stickyring/loopback";
import { createHashRing, sourceKey } from "@stickyring/hashing";
import { cleanup, PROXY_START, repo, startProcess, type Started } from "./processes.js";

const DEFAULT_TOTAL = 200_000;
const TOTAL = Number(process.env.SOAK_REQUESTS ?? DEFAULT_TOTAL);
/** The command and the results file, so a longer run sits beside the default one. */
const COMMAND = TOTAL === DEFAULT_TOTAL ? "pnpm soak" : `SOAK_REQUESTS=${TOTAL} pnpm soak`;
const RESULTS = TOTAL === DEFAULT_TOTAL ? "soak.md" : `soak-${TOTAL}.md`;
const CONNECTIONS = 128;
const backendPorts = [19501, 19502, 19503];
const proxyPort = 19510;
const adminPort = 19511;

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

async function main() {
  const backends = await Promise.all([1, 2, 3].map(startBackend));
  const proxy = await startProcess(
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
  const ring = createHashRing({ servers: ["app1", "app2", "app3"].map((id) => ({ id })) });
  const clients = Array.from(
    { length: CONNECTIONS },
    (_, i) => `127.88.${i >> 8}.${(i & 255) + 1}`,
  );
  const seen = clients.map(() => new Map<string, number>());
  const rss: { at: number; mb: number }[] = [];
  let done = 0;
  let failed = 0;
  const events: string[] = [];

  const sampler = setInterval(() => rss.push({ at: done, mb: rssMb(proxy.pid) }), 500);
  const kill = (n: number) => async () => {
    await backends[n - 1]!.stop();
    events.push(`app${n} killed at ${done}`);
  };
  // A restarted backend must be back in the placement before the plan goes
  // on: otherwise the next kill would find some clients' fallback still down,
  // which tests the timing of this script rather than the proxy.
  const restart = (n: number) => async () => {
    backends[n - 1] = await startBackend(n);
    events.push(`app${n} restarted at ${done}`);
    await inPlacement(`app${n}`);
    events.push(`app${n} back in the placement at ${done}`);
  };
  // Kill app2 at 20%, restart it at 35%; kill app3 at 55%, restart it at 70%.
  const plan = [
    { at: 0.2, act: kill(2) },
    { at: 0.35, act: restart(2) },
    { at: 0.55, act: kill(3) },
    { at: 0.7, act: restart(3) },
  ];
  const started = performance.now();
  let next = 0;
  const driver = (async () => {
    for (const step of plan) {
      while (done < step.at * TOTAL) await new Promise((r) => setTimeout(r, 20));
      await step.act();
    }
  })();
  await Promise.all(
    clients.map(async (from, i) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      while (next < TOTAL) {
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
  const seconds = (performance.now() - started) / 1000;

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
  const quarter = (q: number) => {
    const values = rss
      .filter((s) => s.at >= (q * TOTAL) / 4 && s.at < ((q + 1) * TOTAL) / 4)
      .map((s) => s.mb);
    return values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
  };
  const firstQ = quarter(0);
  const lastQ = quarter(3);
  // The whole curve, so a ramp from idle can be told from growth that goes on.
  const tenths = Array.from({ length: 10 }, (_, t) => {
    const values = rss.filter((s) => s.at >= (t * TOTAL) / 10 && s.at < ((t + 1) * TOTAL) / 10);
    return values.length === 0 ? "-" : Math.max(...values.map((s) => s.mb)).toFixed(0);
  });
  const report = [
    `Command: \`${COMMAND}\` (${new Date().toISOString().slice(0, 10)}, Node ${process.version}): ${TOTAL.toLocaleString("en")} requests, ${CONNECTIONS} keep-alive connections, each a client with its own loopback address; backends killed with SIGKILL and restarted during the run.`,
    "",
    "| measure | value |",
    "| --- | --- |",
    `| requests | ${done.toLocaleString("en")} in ${seconds.toFixed(1)} s (${Math.round(done / seconds).toLocaleString("en")} /s) |`,
    `| failed (non-200 or no answer) | ${failed} |`,
    `| clients that reached a backend other than their own or, while it was down, their next one | ${strays} |`,
    `| proxy RSS, mean of first quarter / last quarter | ${firstQ.toFixed(1)} MB / ${lastQ.toFixed(1)} MB (${(((lastQ - firstQ) / firstQ) * 100).toFixed(1)}%) |`,
    `| proxy RSS, highest in each tenth of the requests (MB) | ${tenths.join(" · ")} |`,
    `| proxy still running | ${rssMb(proxy.pid) > 0 ? "yes" : "no"} |`,
    `| events | ${events.join("; ")} |`,
    "",
  ].join("\n");
  writeFileSync(new URL(`../results/${RESULTS}`, import.meta.url), report);
  console.log(report);
  for (const s of [proxy, ...backends]) await s.stop();
  cleanup();
  process.exit(failed === 0 && strays === 0 ? 0 : 1);
}

await main();

// `pnpm demo [-- --clients 2000 --rounds 3 --fail app2]` against a running
// proxy (`pnpm dev` or compose): prints clients per backend and stickiness
// violations; with --fail, takes a server out through the admin API, shows
// who moved, and puts it back.

import { parseArgs } from "node:util";
import { clientAddresses, get, mapLimit } from "@stickyring/loopback";

function usage(message: string): never {
  console.error(`demo: ${message}`);
  console.error(
    "usage: pnpm demo -- [--proxy URL] [--admin URL] [--token T] [--clients N] [--rounds N] [--fail SERVER]",
  );
  process.exit(2);
}

function readOptions() {
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2).filter((a, i) => !(i === 0 && a === "--")),
      options: {
        proxy: { type: "string", default: "http://127.0.0.1:8080/" },
        admin: { type: "string", default: "http://127.0.0.1:8404" },
        token: { type: "string" },
        clients: { type: "string", default: "2000" },
        rounds: { type: "string", default: "3" },
        fail: { type: "string" },
      },
    });
    const clients = Number(values.clients);
    const rounds = Number(values.rounds);
    if (!Number.isInteger(clients) || clients < 1 || clients > 60_000)
      usage("--clients must be an integer from 1 to 60000");
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100)
      usage("--rounds must be an integer from 1 to 100");
    return { ...values, clients, rounds, proxy: new URL(values.proxy) };
  } catch (error) {
    return usage((error as Error).message);
  }
}

const options = readOptions();
const clients = clientAddresses(options.clients);

/** Every client sends `rounds` requests; returns the set of backends each reached, and failures. */
async function play(label: string) {
  const seen: Set<string>[] = Array.from({ length: options.clients }, () => new Set());
  let failures = 0;
  const started = performance.now();
  for (let round = 0; round < options.rounds; round++) {
    await mapLimit(clients, 128, async (from, i) => {
      // A network error counts as a failed request, like a non-200 answer.
      const answer = await get(Number(options.proxy.port || 80), {
        from,
        host: options.proxy.hostname,
        path: options.proxy.pathname + options.proxy.search,
        headers: { "user-agent": "stickyring-demo" },
      }).catch(() => undefined);
      if (answer?.status !== 200) failures++;
      else seen[i]!.add(answer.backend ?? "-");
    });
  }
  const seconds = (performance.now() - started) / 1000;
  const perBackend = new Map<string, number>();
  let violations = 0;
  for (const backends of seen) {
    if (backends.size > 1) violations++;
    for (const b of backends) perBackend.set(b, (perBackend.get(b) ?? 0) + 1);
  }
  console.log(
    `\n${label}: ${options.clients} clients x ${options.rounds} rounds in ${seconds.toFixed(1)} s`,
  );
  console.log("| backend | clients | share |\n| --- | ---: | ---: |");
  for (const [backend, count] of [...perBackend].sort()) {
    console.log(`| ${backend} | ${count} | ${((100 * count) / options.clients).toFixed(1)}% |`);
  }
  console.log(`stickiness violations (a client that reached two backends): ${violations}`);
  console.log(`failed requests: ${failures}`);
  return { owners: seen.map((s) => [...s][0] ?? "-"), violations, failures };
}

async function admin(path: string, method = "GET") {
  const res = await fetch(options.admin + path, {
    method,
    headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
  });
  if (!res.ok) throw new Error(`admin ${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

function moves(before: string[], after: string[]) {
  const moved = new Map<string, number>();
  before.forEach((b, i) => {
    if (after[i] !== b)
      moved.set(`${b} -> ${after[i]}`, (moved.get(`${b} -> ${after[i]}`) ?? 0) + 1);
  });
  return moved;
}

try {
  const before = await play("sticky routing");
  let bad = before.violations > 0 || before.failures > 0;
  if (options.fail) {
    const server = options.fail;
    await admin(`/api/servers/${encodeURIComponent(server)}/disable`, "POST");
    const during = await play(`${server} taken out (admin API: disable)`);
    const moved = moves(before.owners, during.owners);
    console.log("\nwho moved:");
    for (const [move, count] of moved) console.log(`  ${move}: ${count} clients`);
    const strays = [...moved.keys()].filter((m) => !m.startsWith(`${server} ->`));
    console.log(
      `clients that moved although their backend stayed: ${strays.length === 0 ? 0 : strays.join(", ")}`,
    );
    await admin(`/api/servers/${encodeURIComponent(server)}/enable`, "POST");
    const after = await play(`${server} back`);
    const notBack = after.owners.filter((o, i) => o !== before.owners[i]).length;
    console.log(`clients not back on their original backend: ${notBack}`);
    bad ||= strays.length > 0 || notBack > 0 || during.failures > 0 || during.violations > 0;
  }
  process.exit(bad ? 1 : 0);
} catch (error) {
  console.error(`demo: ${(error as Error).message}`);
  console.error(
    "is the proxy running? start it with `pnpm dev` or `docker compose -f infra/compose.yml up`",
  );
  process.exit(1);
}

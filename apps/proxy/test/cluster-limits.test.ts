// MAXCONN in the multi-core mode: each worker holds its share of a server's
// limit (rounded up), so the server never sees more than the limit from all
// workers together. The built proxy with WORKERS=2, as a user runs it.

import type { ChildProcess } from "node:child_process";
import { createServer } from "node:http";
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { freePort, listen } from "@stickyring/runtime";
import { shareOfLimit } from "../src/data-plane/placement.js";
import { clientAddresses, get, spawnProxy, waitFor } from "./harness.js";

const counts = { now: 0, peak: 0, served: 0 };
const backend = createServer((req, res) => {
  if (req.url === "/healthz") return void res.end("ok");
  counts.now++;
  counts.peak = Math.max(counts.peak, counts.now);
  setTimeout(() => {
    counts.now--;
    counts.served++;
    res.end("held");
  }, 40);
});
let child: ChildProcess;
let port: number;
let adminPort: number;

beforeAll(async () => {
  const backendPort = await listen(backend, 0, "127.0.0.1");
  [port, adminPort] = [await freePort(), await freePort()];
  child = await spawnProxy({
    WORKERS: "2",
    PORT: String(port),
    ADMIN_PORT: String(adminPort),
    HOST: "127.0.0.1",
    BACKENDS: `app1=http://127.0.0.1:${backendPort}`,
    MAXCONN: "3",
    CLIENT_MAXCONN: "3001",
    TIMEOUT_QUEUE: "20s",
  });
  await waitFor(
    async () =>
      (await fetch(`http://127.0.0.1:${adminPort}/api/servers`).catch(() => undefined))?.ok ===
      true,
  );
});

afterAll(async () => {
  child?.kill("SIGKILL");
  backend.closeAllConnections();
  await new Promise((r) => backend.close(r));
});

it("keeps a server under its maxconn across workers: 150 clients at once, MAXCONN=3, WORKERS=2", async () => {
  const replies = await Promise.all(
    clientAddresses(150).map((from) => get(port, { from, timeoutMs: 20_000 })),
  );
  expect(replies.filter((r) => r.status === 200)).toHaveLength(150);
  expect(counts.served).toBe(150);
  expect(counts.peak).toBeLessThanOrEqual(3);
  const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  // Two workers holding two slots and one: the limit summed over them.
  expect(metrics).toMatch(/^stickyring_server_maxconn\{backend="app1"\} 3$/m);
  expect(metrics).toMatch(/^stickyring_client_connections_limit 3001$/m);
  const view = (await (await fetch(`http://127.0.0.1:${adminPort}/api/servers`)).json()) as {
    servers: { maxconn: number }[];
  };
  expect(view.servers[0]!.maxconn).toBe(3);
}, 30_000);

it("splits a limit over the workers so that the parts add up to it", () => {
  const parts = (limit: number, workers: number) =>
    Array.from({ length: workers }, (_, i) => shareOfLimit(limit, i, workers));
  expect(parts(3, 2)).toEqual([2, 1]);
  expect(parts(10, 4)).toEqual([3, 3, 2, 2]);
  expect(parts(0, 3)).toEqual([0, 0, 0]); // no limit stays no limit
  // Below the number of workers each still has one slot (documented).
  expect(parts(1, 2)).toEqual([1, 1]);
  for (const [limit, workers] of [
    [7, 3],
    [100, 8],
    [5, 5],
    [9, 2],
  ] as const)
    expect(parts(limit, workers).reduce((a, b) => a + b)).toBe(limit);
});

// MAXCONN in the multi-core mode: each worker holds its share of a server's
// limit (rounded up), so the server never sees more than the limit from all
// workers together. The built proxy with WORKERS=2, as a user runs it.

import type { ChildProcess } from "node:child_process";
import { createServer } from "node:http";
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { freePort, listen } from "@stickyring/runtime";
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
    MAXCONN: "4",
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

it("keeps a server under its maxconn across workers: 150 clients at once, MAXCONN=4, WORKERS=2", async () => {
  const replies = await Promise.all(
    clientAddresses(150).map((from) => get(port, { from, timeoutMs: 20_000 })),
  );
  expect(replies.filter((r) => r.status === 200)).toHaveLength(150);
  expect(counts.served).toBe(150);
  expect(counts.peak).toBeLessThanOrEqual(4);
  const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  // Two workers of two slots each: the limit summed over them.
  expect(metrics).toMatch(/^stickyring_server_maxconn\{backend="app1"\} 4$/m);
  const view = (await (await fetch(`http://127.0.0.1:${adminPort}/api/servers`)).json()) as {
    servers: { maxconn: number }[];
  };
  expect(view.servers[0]!.maxconn).toBe(4);
}, 30_000);

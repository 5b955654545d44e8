// The access log: off by default (as HAProxy without `log`, and Envoy),
// one JSON line per request with ACCESS_LOG=on.

import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { freePort } from "@stickyring/runtime";
import {
  clientAddresses,
  get,
  spawnProxy,
  startBackend,
  waitFor,
  type Backend,
} from "./harness.js";

let backend: Backend;
const children: ChildProcess[] = [];
beforeAll(async () => {
  backend = await startBackend(1);
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await backend.kill();
});

/** Starts the built proxy, sends three requests from known addresses, returns the JSON lines it printed. */
async function linesFor(env: Record<string, string>): Promise<Record<string, unknown>[]> {
  const port = await freePort();
  const child = await spawnProxy(
    {
      ...env,
      PORT: String(port),
      ADMIN_PORT: String(await freePort()),
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      BACKENDS: `app1=http://127.0.0.1:${backend.port}`,
    },
    "pipe",
  );
  children.push(child);
  let text = "";
  child.stdout!.on("data", (d: Buffer) => (text += d));
  for (const from of clientAddresses(3)) expect((await get(port, { from })).status).toBe(200);
  // Lines are flushed within 100 ms; the start-up lines are there at once.
  const parse = () =>
    text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  await waitFor(
    () =>
      parse().filter((l) => l.msg === "request").length >= (env.ACCESS_LOG === "on" ? 3 : 0) &&
      parse().some((l) => l.msg === "proxy listening"),
  );
  await new Promise((r) => setTimeout(r, 300));
  return parse();
}

describe("access log", () => {
  it("is off by default: start-up lines only", async () => {
    const lines = await linesFor({});
    expect(lines.some((l) => l.msg === "proxy listening")).toBe(true);
    expect(lines.filter((l) => l.msg === "request")).toEqual([]);
  });

  it("with ACCESS_LOG=on writes one line per request: client, backend, status, time", async () => {
    const lines = (await linesFor({ ACCESS_LOG: "on" })).filter((l) => l.msg === "request");
    expect(lines.map((l) => l.client)).toEqual(clientAddresses(3));
    for (const line of lines) {
      expect(line).toMatchObject({
        level: 30,
        backend: "app1",
        method: "GET",
        url: "/",
        status: 200,
        retries: 0,
      });
      expect(typeof line.ms).toBe("number");
    }
  });
});

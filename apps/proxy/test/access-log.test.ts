// The access log: off by default (as HAProxy without `log`, and Envoy),
// one JSON line per request with ACCESS_LOG=on.

import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { freePort, waitForPort } from "@stickyring/runtime";
import {
  clientAddresses,
  get,
  spawnProxy,
  startBackend,
  waitFor,
  type Backend,
} from "./harness.js";
import { h2Request, h2Session, httpsGet } from "./tls-client.js";
import { createPki } from "./tls-pki.js";

let backend: Backend;
const children: ChildProcess[] = [];
beforeAll(async () => {
  backend = await startBackend(1);
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await backend.kill();
});

/**
 * Starts the built proxy, sends three requests from known addresses (or
 * `send`'s), returns the JSON lines it printed.
 */
async function linesFor(
  env: Record<string, string>,
  send: (port: number) => Promise<void> = async (port) => {
    for (const from of clientAddresses(3)) expect((await get(port, { from })).status).toBe(200);
  },
): Promise<Record<string, unknown>[]> {
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
  await send(port);
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
        proto: "HTTP/1.1",
        status: 200,
        retries: 0,
      });
      expect(typeof line.ms).toBe("number");
      expect(line).not.toHaveProperty("tls");
    }
  });

  it("says the protocol and TLS version of requests on the TLS port, HTTP/1.1 and HTTP/2", async () => {
    const pki = createPki();
    const leaf = pki.leaf("localhost", ["localhost"]);
    const tlsPort = await freePort();
    try {
      const lines = await linesFor(
        // The TLS port is the fast engine's (as startProxy runs it on either engine's run).
        {
          ACCESS_LOG: "on",
          TLS_PORT: String(tlsPort),
          TLS_CERT: leaf.combinedFile,
          HTTP_ENGINE: "fast",
        },
        async (port) => {
          await waitForPort(tlsPort);
          expect((await get(port, { path: "/plain" })).status).toBe(200);
          expect((await httpsGet(tlsPort, { ca: pki.ca, path: "/https" })).status).toBe(200);
          const session = await h2Session(tlsPort, { ca: pki.ca });
          expect((await h2Request(session, { ":path": "/h2" })).status).toBe(200);
          session.close();
        },
      );
      const byUrl = new Map(lines.filter((l) => l.msg === "request").map((l) => [l.url, l]));
      expect(byUrl.get("/plain")).toMatchObject({ proto: "HTTP/1.1" });
      expect(byUrl.get("/plain")).not.toHaveProperty("tls");
      expect(byUrl.get("/https")).toMatchObject({ proto: "HTTP/1.1", tls: "TLSv1.3" });
      expect(byUrl.get("/h2")).toMatchObject({ proto: "HTTP/2.0", tls: "TLSv1.3" });
    } finally {
      pki.remove();
    }
  });
});

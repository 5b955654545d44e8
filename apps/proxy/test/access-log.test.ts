// The access log: off by default (as HAProxy without `log`, and Envoy),
// one JSON line per request with ACCESS_LOG=on.

import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { freePort, waitForPort } from "@stickyring/runtime";
import WebSocket from "ws";
import {
  clientAddresses,
  get,
  spawnProxy,
  statusLineOf,
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
  /** Lines of this message expected (3 "request" lines with ACCESS_LOG=on, else none). */
  expected: { msg: string; count: number } = {
    msg: "request",
    count: env.ACCESS_LOG === "on" ? 3 : 0,
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
      parse().filter((l) => l.msg === expected.msg).length >= expected.count &&
      parse().some((l) => l.msg === "proxy listening"),
  );
  await new Promise((r) => setTimeout(r, 300));
  return parse();
}

/** linesFor with the TLS port on too (the fast engine's), and a certificate for localhost made for it. */
async function linesWithTls(
  send: (ports: { port: number; tlsPort: number; ca: string }) => Promise<void>,
  expected?: { msg: string; count: number },
): Promise<Record<string, unknown>[]> {
  const pki = createPki();
  const leaf = pki.leaf("localhost", ["localhost"]);
  const tlsPort = await freePort();
  try {
    return await linesFor(
      {
        ACCESS_LOG: "on",
        TLS_PORT: String(tlsPort),
        TLS_CERT: leaf.combinedFile,
        HTTP_ENGINE: "fast",
      },
      async (port) => {
        await waitForPort(tlsPort);
        await send({ port, tlsPort, ca: pki.ca });
      },
      expected,
    );
  } finally {
    pki.remove();
  }
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

  it("logs the requests refused while read, as HAProxy's <BADREQ>: status, why, client", async () => {
    const refusals: [string, number][] = [
      ["GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\n\r\n", 400],
      ["GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505],
      ["GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417],
    ];
    const lines = await linesFor(
      { ACCESS_LOG: "on" },
      async (port) => {
        for (const [payload, status] of refusals)
          expect(await statusLineOf(port, payload)).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
      },
      { msg: "refused", count: refusals.length },
    );
    const refused = lines.filter((l) => l.msg === "refused");
    expect(refused.map((l) => l.status)).toEqual(refusals.map(([, status]) => status));
    for (const line of refused) {
      expect(line).toMatchObject({ level: 30, client: "127.0.0.1" });
      expect(line).not.toHaveProperty("tls");
      expect(typeof line.reason).toBe("string");
    }
    // Both engines name llhttp's error for bytes it cannot read, and the same rule otherwise.
    expect(refused[0]!.reason).toMatch(/^HPE_INVALID_HEADER_TOKEN: /);
    expect(refused[1]).toMatchObject({ proto: "HTTP/1.1" });
    expect(refused[3]).toMatchObject({ proto: "HTTP/1.1" });
    expect(refused[1]!.reason).toBe("no Host");
    expect(refused[2]!.reason).toBe("HTTP/2.0 is not served");
  });

  it("answers and logs 408 for a head not complete within the client timeout, as HAProxy does", async () => {
    const lines = await linesFor(
      { ACCESS_LOG: "on", TIMEOUT_CLIENT: "1000" },
      async (port) => {
        const silent = statusLineOf(port, "");
        expect(await statusLineOf(port, "GET / HTTP/1.1\r\nHost: a\r\n")).toBe(
          "HTTP/1.1 408 Request Timeout",
        );
        // A connection that sent nothing too (HAProxy without `option http-ignore-probes`).
        expect(await silent).toBe("HTTP/1.1 408 Request Timeout");
      },
      { msg: "refused", count: 2 },
    );
    expect(lines.filter((l) => l.msg === "refused")).toEqual([
      expect.objectContaining({ status: 408, client: "127.0.0.1" }),
      expect.objectContaining({ status: 408, client: "127.0.0.1" }),
    ]);
  });

  it("logs HTTP/2 streams refused before routing, with the protocol and TLS version", async () => {
    const lines = await linesWithTls(
      async ({ tlsPort, ca }) => {
        const session = await h2Session(tlsPort, { ca });
        // CONNECT carries no :path (RFC 9113 8.5): not h2Request's kind of request.
        const stream = session.request({ ":method": "CONNECT", ":authority": "example.com:443" });
        const status = await new Promise((resolve, reject) => {
          stream.on("response", (headers) => resolve(headers[":status"]));
          stream.on("error", reject);
        });
        expect(status).toBe(501);
        session.close();
      },
      { msg: "refused", count: 1 },
    );
    expect(lines.filter((l) => l.msg === "refused")).toEqual([
      expect.objectContaining({
        status: 501,
        reason: "CONNECT",
        proto: "HTTP/2.0",
        tls: "TLSv1.3",
        client: "127.0.0.1",
      }),
    ]);
  });

  it("logs a WebSocket when its tunnel ends, over HTTP/1.1 and HTTP/2: the server's 101, the tunnel's life", async () => {
    const lines = await linesWithTls(
      async ({ port, tlsPort, ca }) => {
        // HTTP/1.1's upgrade on the plain port, closed once greeted.
        await new Promise<void>((resolve, reject) => {
          const socket = new WebSocket(`ws://127.0.0.1:${port}/ws1`);
          socket.once("message", () => socket.close());
          socket.once("close", () => resolve());
          socket.once("error", reject);
        });
        // RFC 8441's extended CONNECT on the TLS port, reset once greeted.
        const session = await h2Session(tlsPort, { ca });
        await new Promise<void>((resolve, reject) => {
          const open = () => {
            const stream = session.request({
              ":method": "CONNECT",
              ":protocol": "websocket",
              ":scheme": "https",
              ":path": "/ws2",
              ":authority": `localhost:${tlsPort}`,
              "sec-websocket-version": "13",
            });
            stream.once("data", () => stream.close());
            stream.once("close", () => resolve());
            stream.once("error", reject);
          };
          if (session.remoteSettings.enableConnectProtocol) open();
          else session.once("remoteSettings", open);
        });
        session.close();
      },
      { msg: "request", count: 2 },
    );
    const byUrl = new Map(lines.filter((l) => l.msg === "request").map((l) => [l.url, l]));
    for (const [url, proto, tls] of [
      ["/ws1", "HTTP/1.1", undefined],
      ["/ws2", "HTTP/2.0", "TLSv1.3"],
    ] as const) {
      expect(byUrl.get(url)).toMatchObject({
        method: "GET",
        upgrade: "websocket",
        status: 101,
        backend: "app1",
        proto,
        client: "127.0.0.1",
      });
      expect(byUrl.get(url)!.tls).toBe(tls);
      expect(typeof byUrl.get(url)!.ms).toBe("number");
    }
  });

  it("says the protocol and TLS version of requests on the TLS port, HTTP/1.1 and HTTP/2", async () => {
    const lines = await linesWithTls(async ({ port, tlsPort, ca }) => {
      expect((await get(port, { path: "/plain" })).status).toBe(200);
      expect((await httpsGet(tlsPort, { ca, path: "/https" })).status).toBe(200);
      const session = await h2Session(tlsPort, { ca });
      expect((await h2Request(session, { ":path": "/h2" })).status).toBe(200);
      session.close();
    });
    const byUrl = new Map(lines.filter((l) => l.msg === "request").map((l) => [l.url, l]));
    expect(byUrl.get("/plain")).toMatchObject({ proto: "HTTP/1.1" });
    expect(byUrl.get("/plain")).not.toHaveProperty("tls");
    expect(byUrl.get("/https")).toMatchObject({ proto: "HTTP/1.1", tls: "TLSv1.3" });
    expect(byUrl.get("/h2")).toMatchObject({ proto: "HTTP/2.0", tls: "TLSv1.3" });
  });
});

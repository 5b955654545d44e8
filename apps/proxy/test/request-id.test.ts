// REQUEST_ID_HEADER: every routed request gets an id the server, the client
// (errors the proxy writes included) and the access log all see; a client's
// own is replaced, a trusted proxy's kept.

import { createServer, request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import { freePort, listen } from "@stickyring/runtime";
import { loadConfig } from "../src/config.js";
import { createStickyProxy, type StickyProxy } from "../src/proxy.js";
import {
  ENGINE,
  clientAddresses,
  configProblems,
  startBackend,
  waitFor,
  type Backend,
} from "./harness.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** Clients 127.0.222.x; the trusted proxy 127.0.223.1. */
const CLIENTS = clientAddresses(4, (222 << 8) - 255);
const PROXY_IN_FRONT = "127.0.223.1";

let backend: Backend;
let proxy: StickyProxy;
let port: number;
const lines: Record<string, unknown>[] = [];

async function start(backends: string, extra: Record<string, string> = {}) {
  const config = loadConfig({
    PORT: "0",
    ADMIN_PORT: "0",
    HOST: "127.0.0.1",
    BACKENDS: backends,
    REQUEST_ID_HEADER: "X-Request-ID",
    ACCESS_LOG: "on",
    TRUSTED_PROXIES: "127.0.223.0/24",
    HEALTH_INTER: "60s",
    HTTP_ENGINE: ENGINE,
    ...extra,
  });
  const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const started = createStickyProxy(config, logger);
  return { proxy: started, port: (await started.start()).port };
}

beforeAll(async () => {
  backend = await startBackend(1);
  ({ proxy, port } = await start(`app1=http://127.0.0.1:${backend.port}`));
});
afterAll(async () => {
  await proxy.stop(2000);
  await backend.kill();
});

function fetchFrom(
  to: number,
  from: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; id: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: to, path: "/whoami", localAddress: from, headers, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode!, id: res.headers["x-request-id"] as string, body }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("REQUEST_ID_HEADER", () => {
  it("gives each request a new UUID that the server and the client both see, and the access log line", async () => {
    const replies = [];
    for (let i = 0; i < 50; i++) replies.push(await fetchFrom(port, CLIENTS[i % 2]!));
    const ids = replies.map((r) => r.id);
    for (const reply of replies) {
      expect(reply.id).toMatch(UUID);
      expect(JSON.parse(reply.body).requestId).toBe(reply.id);
    }
    expect(new Set(ids).size).toBe(50);
    await waitFor(() => lines.filter((l) => l.msg === "request").length >= 50);
    const logged = lines.filter((l) => l.msg === "request").map((l) => l.id);
    expect(logged.slice(0, 50)).toEqual(ids);
  });

  it("replaces an id a client sends; keeps a trusted proxy's, when well formed", async () => {
    const client = await fetchFrom(port, CLIENTS[2]!, { "x-request-id": "chosen-by-me" });
    expect(client.id).toMatch(UUID);
    expect(JSON.parse(client.body).requestId).toBe(client.id);

    const front = { "x-forwarded-for": "203.0.113.9" };
    const kept = await fetchFrom(port, PROXY_IN_FRONT, { ...front, "x-request-id": "edge-42" });
    expect(kept.id).toBe("edge-42");
    expect(JSON.parse(kept.body).requestId).toBe("edge-42");
    const odd = await fetchFrom(port, PROXY_IN_FRONT, { ...front, "x-request-id": "a b" });
    expect(odd.id).toMatch(UUID);
  });

  it("is in the proxy's own error answers too", async () => {
    const dead = await freePort();
    const other = await start(`app1=http://127.0.0.1:${dead}`);
    try {
      const reply = await fetchFrom(other.port, CLIENTS[3]!);
      expect(reply.status).toBe(502);
      expect(reply.id).toMatch(UUID);
      expect(reply.body).toMatch(/^502 Bad Gateway: app1 could not be reached/);
    } finally {
      await other.proxy.stop(2000);
    }
  });

  it("answers with the proxy's id alone when the server sends its own", async () => {
    const server = createServer((_req, res) => {
      res.setHeader("X-Request-ID", "the-server-s-own");
      res.end("ok");
    });
    const serverPort = await listen(server, 0, "127.0.0.1");
    const own = await start(`app1=http://127.0.0.1:${serverPort}`);
    try {
      const answer = await new Promise<string[]>((resolve, reject) => {
        request(
          { host: "127.0.0.1", port: own.port, localAddress: CLIENTS[1], agent: false },
          (res) => {
            res.resume();
            resolve(
              res.rawHeaders.filter(
                (_, i) => i % 2 === 1 && /^x-request-id$/i.test(res.rawHeaders[i - 1]!),
              ),
            );
          },
        )
          .on("error", reject)
          .end();
      });
      expect(answer).toHaveLength(1);
      expect(answer[0]).toMatch(UUID);
    } finally {
      await own.proxy.stop(2000);
      server.close();
    }
  });

  it("is off by default; a name HTTP or the proxy already uses is refused", () => {
    expect(loadConfig({}).requestIdHeader).toBeUndefined();
    expect(loadConfig({ REQUEST_ID_HEADER: "X-Trace" }).requestIdHeader).toBe("x-trace");
    const problems = (value: string) => configProblems({ REQUEST_ID_HEADER: value });
    expect(problems("Location")).toEqual([
      'REQUEST_ID_HEADER="Location": expected a header name beginning with X- (letters, digits and -), or Request-ID or Correlation-ID: e.g. X-Request-ID, X-Correlation-ID',
    ]);
    expect(problems("X-SSL-Client-Verify")).toEqual([
      'REQUEST_ID_HEADER="X-SSL-Client-Verify": the proxy sets this header itself; choose another, e.g. X-Request-ID',
    ]);
    expect(problems("x request id")[0]).toMatch(/^REQUEST_ID_HEADER="x request id": expected/);
    expect(loadConfig({ REQUEST_ID_HEADER: "Correlation-ID" }).requestIdHeader).toBe(
      "correlation-id",
    );
    expect(
      configProblems({ REQUEST_ID_HEADER: "X-Request-ID", BALANCE: "hdr(X-Request-ID)" }),
    ).toEqual([
      "BALANCE=hdr(x-request-id): REQUEST_ID_HEADER replaces that header with a new id per request, so nothing would stick; hash another header, or choose another REQUEST_ID_HEADER",
    ]);
  });
});

// The express engine is the reference the fast engine is held to: the same
// requests through a proxy on each, in front of the same servers that echo
// what they received, must reach the same server with the same headers and
// body, and come back with the same answer. What an engine adds or drops of
// its own is listed below, by name, and nothing else may differ.

import { createHash } from "node:crypto";
import {
  Agent,
  createServer,
  request,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
} from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { listen } from "@stickyring/runtime";
import { clientAddress } from "@stickyring/loopback";
import { startProxy, type Backend, type RunningProxy } from "./harness.js";
import { converse } from "./raw-client.js";

/**
 * Header lines one engine puts on the wire and the other does not. Only
 * these are left out of the comparison; everything else must be equal.
 */
const ENGINE_OWN = {
  /**
   * What the server receives. node:http's client on a keep-alive Agent says
   * `Connection: keep-alive` (the fast engine sends HTTP/1.1's default and
   * no Connection line); a POST without a body goes with Content-Length: 0
   * from node:http, with no framing line from the fast engine (both mean an
   * empty body).
   */
  toServer: ["connection", "content-length:0"],
  /**
   * What the client receives. node:http's server adds `Connection:
   * keep-alive` and `Keep-Alive: timeout=5` to kept-alive answers. Date
   * varies between two calls (the servers' own Date is relayed by both).
   */
  toClient: ["connection", "keep-alive", "date"],
};

const LARGE = Buffer.alloc(3 * 1024 * 1024 + 7, 0);
for (let i = 0; i < LARGE.length; i++) LARGE[i] = (i * 31 + (i >> 11)) & 255;

interface Received {
  server: string;
  method: string;
  url: string;
  rawHeaders: string[];
  trailers: string[];
  bodyLength: number;
  bodySha: string;
}

/** A server that answers what it received, in ways chosen by the path. */
function echoServer(id: string): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const received: Received = {
        server: id,
        method: req.method!,
        url: req.url!,
        rawHeaders: req.rawHeaders,
        trailers: req.rawTrailers,
        bodyLength: body.length,
        bodySha: createHash("sha256").update(body).digest("hex"),
      };
      const json = JSON.stringify(received);
      const path = req.url!.split("?")[0];
      if (path === "/healthz") return res.end("ok");
      if (path === "/no-content") {
        res.writeHead(204, { "x-received": `${id} ${received.method} ${received.bodyLength}` });
        return res.end();
      }
      if (path === "/not-modified") {
        res.writeHead(304, { etag: '"v1"', "cache-control": "max-age=60" });
        return res.end();
      }
      if (path === "/cookies") {
        res.writeHead(200, [
          "Set-Cookie",
          "a=1; Path=/",
          "set-cookie",
          "b=2; HttpOnly",
          "Set-Cookie",
          "c=3, d=4; Expires=Wed, 21 Oct 2037 07:28:00 GMT",
          "Content-Type",
          "application/json",
          "Content-Length",
          String(Buffer.byteLength(json)),
        ]);
        return res.end(json);
      }
      if (path === "/chunked") {
        // No length: chunked, with trailers.
        res.writeHead(200, { "content-type": "application/json", trailer: "x-digest" });
        res.write(json.slice(0, 10));
        res.write(json.slice(10));
        res.addTrailers([["X-Digest", "sha-256=abc"]]);
        return res.end();
      }
      if (path === "/large") {
        res.writeHead(200, { "content-length": String(LARGE.length), "x-received": "large" });
        return res.end(LARGE);
      }
      res.writeHead(200, [
        "Content-Type",
        "application/json",
        "X-Odd_Name.1~",
        "  spaced  value ",
        "X-Repeated",
        "one",
        "X-Repeated",
        "two",
        "Content-Length",
        String(Buffer.byteLength(json)),
      ]);
      res.end(json);
    });
  });
}

interface Case {
  name: string;
  method: string;
  path: string;
  /** Raw [name, value, ...]; Host is always example.test. */
  headers?: string[];
  body?: Buffer | Buffer[];
  /** Sent chunked (no Content-Length), with these trailers. */
  trailers?: [string, string][];
}

const CASES: Case[] = [
  { name: "GET", method: "GET", path: "/echo?q=1&r=%20x" },
  { name: "HEAD", method: "HEAD", path: "/echo" },
  {
    name: "POST with Content-Length",
    method: "POST",
    path: "/echo",
    headers: ["Content-Type", "text/plain"],
    body: Buffer.from("hello, server"),
  },
  {
    name: "POST chunked with trailers",
    method: "POST",
    path: "/echo",
    headers: ["Trailer", "X-Checksum"],
    body: [Buffer.from("first,"), Buffer.from("second,"), Buffer.from("third")],
    trailers: [["X-Checksum", "42"]],
  },
  {
    name: "POST with an empty chunked body",
    method: "POST",
    path: "/echo",
    body: [],
    trailers: [],
  },
  {
    name: "odd but valid headers",
    method: "GET",
    path: "/echo",
    headers: [
      "X-Odd_Name.1~!#$%&'*+^`|",
      "value\twith a tab",
      "x-empty",
      "",
      "X-Latin1",
      "caf\u00e9",
      "X-Long",
      "v".repeat(6000),
      "accept",
      "*/*",
    ],
  },
  {
    name: "repeated headers",
    method: "GET",
    path: "/echo",
    headers: [
      "X-Multi",
      "a",
      "x-multi",
      "b",
      "Cookie",
      "k1=v1",
      "Cookie",
      "k2=v2",
      "Accept",
      "text/html",
      "Accept",
      "application/json",
    ],
  },
  { name: "a Set-Cookie list", method: "GET", path: "/cookies" },
  {
    name: "a chunked answer with trailers",
    method: "GET",
    path: "/chunked",
    headers: ["TE", "trailers"],
  },
  { name: "204", method: "DELETE", path: "/no-content" },
  {
    name: "304",
    method: "GET",
    path: "/not-modified",
    headers: ["If-None-Match", '"v1"'],
  },
  { name: "a large request body", method: "PUT", path: "/echo", body: LARGE },
  { name: "a large answer", method: "GET", path: "/large" },
];

interface Answer {
  status: number;
  headers: string[];
  trailers: string[];
  body: Buffer;
  reused: boolean;
}

function send(port: number, agent: Agent, c: Case): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = ["Host", "example.test", ...(c.headers ?? [])];
    const chunked = c.trailers !== undefined;
    const body = c.body === undefined ? [] : Array.isArray(c.body) ? c.body : [c.body];
    if (chunked) headers.push("Transfer-Encoding", "chunked");
    else if (c.body !== undefined)
      headers.push("Content-Length", String(body.reduce((n, b) => n + b.length, 0)));
    const req = request({
      host: "127.0.0.1",
      port,
      method: c.method,
      path: c.path,
      agent,
      headers: headers as unknown as OutgoingHttpHeaders,
      setHost: false,
    });
    req.on("error", reject);
    req.on("response", (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () =>
        resolve({
          status: res.statusCode!,
          headers: res.rawHeaders,
          trailers: res.rawTrailers,
          body: Buffer.concat(chunks),
          reused: req.reusedSocket,
        }),
      );
    });
    for (const piece of body) req.write(piece);
    if (c.trailers) req.addTrailers(c.trailers);
    req.end();
  });
}

/** `list` as lowercase "name:value" lines, without those named in `own`. */
function lines(list: readonly string[], own: readonly string[]): string[] {
  const result: string[] = [];
  for (let i = 0; i < list.length; i += 2) {
    const line = `${list[i]!.toLowerCase()}:${list[i + 1]}`;
    if (own.includes(list[i]!.toLowerCase()) || own.includes(line)) continue;
    result.push(line);
  }
  return result;
}

/**
 * What the client saw and what the server received, engine-own lines left
 * out. An echo's body is what the server received, compared line by line;
 * its length is left out, as it counts the lines left out.
 */
function comparable(answer: Answer) {
  // HEAD's answer is an echo's head without its body.
  const echo = answer.headers.includes("application/json");
  const received =
    echo && answer.body.length > 0 ? (JSON.parse(answer.body.toString()) as Received) : undefined;
  const own = echo ? [...ENGINE_OWN.toClient, "content-length"] : ENGINE_OWN.toClient;
  return {
    status: answer.status,
    headers: lines(answer.headers, own),
    trailers: lines(answer.trailers, []),
    body: echo ? undefined : createHash("sha256").update(answer.body).digest("hex"),
    bodyLength: echo ? undefined : answer.body.length,
    received: received && {
      ...received,
      rawHeaders: lines(received.rawHeaders, ENGINE_OWN.toServer),
    },
  };
}

describe("the fast and the express engine, side by side", () => {
  const servers: Server[] = [];
  const backends: Backend[] = [];
  let fast: RunningProxy;
  let express: RunningProxy;

  beforeAll(async () => {
    for (let n = 1; n <= 3; n++) {
      const server = echoServer(`app${n}`);
      servers.push(server);
      backends.push({ id: `app${n}`, port: await listen(server, 0, "127.0.0.1") } as Backend);
    }
    fast = await startProxy(backends, { HTTP_ENGINE: "fast" });
    express = await startProxy(backends, { HTTP_ENGINE: "express" });
  });

  afterAll(async () => {
    await Promise.all([fast?.stop(), express?.stop()]);
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it.each(CASES.map((c, i) => [c.name, c, i] as const))(
    "%s: same server, same headers and body both ways, on a kept-alive connection",
    async (_name, c, i) => {
      // A client address of its own for each case: the cases land on different servers.
      const from = clientAddress(4000 + i * 7);
      const results = [];
      for (const proxy of [fast, express]) {
        const agent = new Agent({ keepAlive: true, maxSockets: 1, localAddress: from });
        try {
          const first = await send(proxy.port, agent, c);
          const second = await send(proxy.port, agent, c);
          // The second request went on the connection the first used.
          expect(second.reused).toBe(true);
          expect(comparable(second)).toEqual(comparable(first));
          results.push(first);
        } finally {
          agent.destroy();
        }
      }
      const onFast = comparable(results[0]!);
      const onExpress = comparable(results[1]!);
      expect(onExpress).toEqual(onFast);
      // The comparison saw what it should: a server, and for echoes what it received.
      const backend = lines(results[0]!.headers, []).find((l) => l.startsWith("x-backend:"));
      expect(backend).toMatch(/^x-backend:app[123]$/);
      if (c.path === "/echo" && c.method !== "HEAD") {
        expect(onFast.received?.server).toBe(backend!.slice("x-backend:".length));
        const sent = c.body === undefined ? [] : Array.isArray(c.body) ? c.body : [c.body];
        expect(onFast.received?.bodySha).toBe(
          createHash("sha256").update(Buffer.concat(sent)).digest("hex"),
        );
      }
    },
  );

  it("lists only lines the engines really differ in", async () => {
    // A POST with no body at all (no length, not chunked): only a raw client sends one.
    const raw = async (proxy: RunningProxy) => {
      const talk = await converse(proxy.port, "POST /echo HTTP/1.1\r\nHost: example.test\r\n\r\n", {
        from: clientAddress(4999),
      });
      const text = await talk.until(/\r\n\r\n\{.*\}$/s);
      talk.socket.destroy();
      const [head, body] = text.split("\r\n\r\n");
      const client = head!
        .split("\r\n")
        .slice(1)
        .map((line) => line.replace(": ", ":").toLowerCase());
      const { rawHeaders } = JSON.parse(body!) as Received;
      return { client, server: lines(rawHeaders, []) };
    };
    const onFast = await raw(fast);
    const onExpress = await raw(express);
    expect(onFast.server).not.toContain("connection:keep-alive");
    expect(onExpress.server).toContain("connection:keep-alive");
    expect(onFast.server).not.toContain("content-length:0");
    expect(onExpress.server).toContain("content-length:0");
    expect(onExpress.client).toContain("keep-alive:timeout=5");
    expect(onFast.client.some((l) => l.startsWith("keep-alive:"))).toBe(false);
    const same = (list: string[], own: string[]) =>
      list.filter((l) => !own.some((o) => l === o || l.startsWith(`${o}:`)));
    expect(same(onExpress.server, ENGINE_OWN.toServer)).toEqual(
      same(onFast.server, ENGINE_OWN.toServer),
    );
  });
});

// HTTP/2 on the TLS port: streams routed like any request (every stream of a
// connection to that client's server), forwarded over HTTP/1.1, the h2
// message rules enforced, and abuse (rapid reset, CONTINUATION flood,
// oversized header lists, too many streams) ending only the abuser.

import { execFile } from "node:child_process";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { constants, type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import { createServer as createNetServer, type Server as NetServer } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createHashRing, sourceKey } from "@stickyring/hashing";
import { listen } from "@stickyring/runtime";
import {
  clientAddresses,
  mapLimit,
  startBackend,
  startProxy,
  waitFor,
  type Backend,
  type RunningProxy,
} from "./harness.js";
import { h2Request, h2Session } from "./tls-client.js";
import {
  FLAG,
  FRAME,
  errorCode,
  frame,
  headerBlock,
  rawH2,
  request,
  type RawH2,
} from "./h2-raw.js";
import { createPki, type Leaf, type Pki } from "./tls-pki.js";

const run = promisify(execFile);
const ids = ["app1", "app2", "app3"];
const ring = createHashRing({ servers: ids.map((id) => ({ id })) });
const CLIENTS = clientAddresses(200, (24 << 16) + 2048 - 256);
const PROTOCOL_ERROR = 0x1;
/** nghttp2 ends a connection over its limits with this code (rapid reset, CONTINUATION flood). */
const INTERNAL_ERROR = 0x2;
const REFUSED_STREAM = 0x7;

/**
 * The abuser's connection ends: GOAWAY, or the close alone when the server
 * closed with the flood still unread (the kernel then resets the
 * connection, and the GOAWAY in flight may be lost to the client).
 */
async function endsConnection(client: RawH2, code: number): Promise<void> {
  const goaway = await client.until((f) => f.type === FRAME.GOAWAY, 10_000).catch(() => undefined);
  if (goaway !== undefined) expect(errorCode(goaway)).toBe(code);
  await client.closed;
}

let pki: Pki;
let leaf: Leaf;
let backends: Backend[];
let running: RunningProxy;
let tlsPort: number;

beforeAll(async () => {
  pki = createPki();
  leaf = pki.leaf("localhost", ["localhost"]);
  backends = await Promise.all([1, 2, 3].map((n) => startBackend(n)));
  running = await startProxy(backends, {
    TLS_PORT: "0",
    TLS_CERT: leaf.combinedFile,
    HSTS: "max-age=600",
  });
  tlsPort = (running.proxy.tlsServer!.address() as { port: number }).port;
});

afterAll(async () => {
  await running.stop();
  await Promise.all(backends.map((b) => b.kill()));
  pki.remove();
});

describe("HTTP/2 routing", () => {
  it("sends each client's streams to the server the ring predicts for its address", async () => {
    const seen = await mapLimit(CLIENTS, 16, async (from) => {
      const session = await h2Session(tlsPort, { from, ca: pki.ca });
      const replies = await Promise.all(
        [1, 2, 3].map((i) => h2Request(session, { ":path": `/page${i}` })),
      );
      session.close();
      for (const reply of replies) {
        expect(reply.status).toBe(200);
        expect(reply.backend).toBe(ring.pick(sourceKey(from)));
        expect(reply.body).toBe(`Hello from App ${reply.backend!.slice(3)}`);
        expect(reply.headers["strict-transport-security"]).toBe("max-age=600");
      }
      return replies[0]!.backend!;
    });
    expect(new Set(seen)).toEqual(new Set(ids));
  }, 30_000);

  it("carries 100 concurrent streams of one connection to one server, the client's", async () => {
    const from = CLIENTS[0]!;
    const session = await h2Session(tlsPort, { from, ca: pki.ca });
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => h2Request(session, { ":path": `/stream/${i}` })),
    );
    session.close();
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(new Set(replies.map((r) => r.backend))).toEqual(new Set([ring.pick(sourceKey(from))]));
  });

  it("forwards bodies both ways with flow control, and says X-Forwarded-Proto: https", async () => {
    const from = CLIENTS[1]!;
    const session = await h2Session(tlsPort, { from, ca: pki.ca });
    const body = Buffer.alloc(3 << 20, 7);
    const upload = await h2Request(session, { ":path": "/upload", ":method": "POST" }, body);
    expect(JSON.parse(upload.body)).toEqual({
      app: ring.pick(sourceKey(from)),
      bytes: body.length,
    });
    const download = await h2Request(session, { ":path": "/download?mb=16" });
    expect(download.body.length).toBe(16 << 20);
    const whoami = JSON.parse((await h2Request(session, { ":path": "/whoami" })).body);
    expect(whoami).toMatchObject({
      forwardedProto: "https",
      forwardedFor: from,
      forwardedHost: `localhost:${tlsPort}`,
    });
    const head = await h2Request(session, { ":path": "/", ":method": "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
    session.close();
  });

  it("is what curl --http2 speaks, and reaches the client's server", async () => {
    const from = CLIENTS[2]!;
    const { stdout } = await run("curl", [
      "--silent",
      "--show-error",
      "--http2",
      "--cacert",
      pki.caFile,
      "--interface",
      from,
      "--resolve",
      `localhost:${tlsPort}:127.0.0.1`,
      "--include",
      "--write-out",
      "\\n%{http_version}",
      `https://localhost:${tlsPort}/`,
      `https://localhost:${tlsPort}/again`,
    ]);
    expect(stdout).toMatch(/^HTTP\/2 200/);
    const backends = [...stdout.matchAll(/^x-backend: (\S+)/gm)].map((m) => m[1]);
    expect(backends).toEqual([ring.pick(sourceKey(from)), ring.pick(sourceKey(from))]);
    expect(stdout.trim().endsWith("2")).toBe(true);
  });
});

/** A client's WebSocket text frame (masked, RFC 6455 5.3), short payloads only. */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = Buffer.from([7, 1, 8, 2]);
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x81;
  out[1] = 0x80 | payload.length;
  mask.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i]! ^ mask[i % 4]!;
  return out;
}

/** Opens a WebSocket over HTTP/2 (RFC 8441's extended CONNECT) once the server allows it. */
function websocketStream(
  session: ClientHttp2Session,
  protocol = "websocket",
  path = "/live",
  port = tlsPort,
) {
  return new Promise<{ stream: ClientHttp2Stream; status: number; headers: IncomingHttpHeaders }>(
    (resolve, reject) => {
      const open = () => {
        const stream = session.request(
          {
            ":method": "CONNECT",
            ":protocol": protocol,
            ":scheme": "https",
            ":path": path,
            ":authority": `localhost:${port}`,
            "sec-websocket-version": "13",
          },
          { endStream: false },
        );
        stream.once("response", (headers) =>
          resolve({ stream, status: Number(headers[":status"]), headers }),
        );
        stream.once("error", reject);
      };
      if (session.remoteSettings.enableConnectProtocol) open();
      else session.once("remoteSettings", open);
    },
  );
}

/** The server's next `count` text frames (unmasked, short) on a stream. */
function serverTexts(stream: ClientHttp2Stream, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const texts: string[] = [];
    let buffer = Buffer.alloc(0);
    const onData = (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      while (buffer.length >= 2 && buffer.length >= 2 + (buffer[1]! & 0x7f)) {
        const length = buffer[1]! & 0x7f;
        texts.push(buffer.toString("utf8", 2, 2 + length));
        buffer = buffer.subarray(2 + length);
      }
      if (texts.length >= count) {
        stream.off("data", onData);
        resolve(texts);
      }
    };
    stream.on("data", onData);
    stream.once("error", reject);
  });
}

describe("WebSocket over HTTP/2 (RFC 8441)", () => {
  it("carries each client's WebSocket to the server the ring predicts, messages both ways", async () => {
    for (const from of CLIENTS.slice(40, 52)) {
      const session = await h2Session(tlsPort, { from, ca: pki.ca });
      const { stream, status, headers } = await websocketStream(session);
      // 200 for the switch (RFC 8441 5); HTTP/1.1's handshake fields stay behind.
      expect(status).toBe(200);
      for (const name of ["upgrade", "connection", "sec-websocket-accept"])
        expect(headers[name]).toBeUndefined();
      const n = ring.pick(sourceKey(from))!.slice(3);
      expect(await serverTexts(stream, 1)).toEqual([`Hello from App ${n}`]);
      stream.write(textFrame("over h2"));
      expect(await serverTexts(stream, 1)).toEqual([`Hello from App ${n}: over h2`]);
      // An ordinary stream of the same connection meanwhile.
      expect((await h2Request(session, { ":path": "/beside" })).backend).toBe(`app${n}`);
      stream.close();
      session.close();
    }
  }, 30_000);

  it("refuses another :protocol with 501, and the connection goes on", async () => {
    const session = await h2Session(tlsPort, { ca: pki.ca });
    const { status } = await websocketStream(session, "chat");
    expect(status).toBe(501);
    expect((await h2Request(session, { ":path": "/after" })).status).toBe(200);
    session.close();
  });

  it("closes the server's end of the tunnel when the client resets its stream", async () => {
    const from = CLIENTS[60]!;
    const backend = backends.find((b) => b.id === ring.pick(sourceKey(from)))!;
    const connections = () =>
      new Promise<number>((resolve) => backend.server.getConnections((_e, n) => resolve(n)));
    const session = await h2Session(tlsPort, { from, ca: pki.ca });
    const before = await connections();
    const { stream } = await websocketStream(session);
    await serverTexts(stream, 1);
    expect(await connections()).toBe(before + 1);
    stream.close(constants.NGHTTP2_CANCEL);
    await waitFor(async () => (await connections()) <= before);
    session.close();
  });
});

/**
 * For the describe block it is called in: a server that answers each
 * request head by its path with exact bytes, as a server may send them
 * (`answer`: the bytes, whether to close after them; undefined: no answer
 * at all; "default": 200 "ok"), and a proxy with the TLS port in front of
 * it (`env` added). `port`: the proxy's TLS port, once started.
 */
function useScriptedProxy(
  answer: (
    path: string,
  ) => { bytes: string; close: boolean; later?: string } | undefined | "default",
  env: Record<string, string> = {},
): { port: number } {
  const handle = { port: 0 };
  let server: NetServer;
  let proxy: RunningProxy;
  beforeAll(async () => {
    server = createNetServer((socket) => {
      let buffered = "";
      socket.setEncoding("latin1");
      socket.on("error", () => {});
      socket.on("data", (data: string) => {
        buffered += data;
        for (let end = buffered.indexOf("\r\n\r\n"); end >= 0; end = buffered.indexOf("\r\n\r\n")) {
          const path = buffered.slice(0, end).split(" ")[1]!;
          buffered = buffered.slice(end + 4);
          const scripted = answer(path);
          if (scripted === "default")
            socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
          else if (scripted?.close) socket.end(scripted.bytes, "latin1");
          else if (scripted !== undefined) {
            socket.write(scripted.bytes, "latin1");
            // The rest in a read of its own, after the head went out.
            const later = scripted.later;
            if (later !== undefined) setTimeout(() => socket.write(later, "latin1"), 200);
          }
        }
      });
    });
    const serverPort = await listen(server, 0, "127.0.0.1");
    proxy = await startProxy([{ id: "raw", port: serverPort } as Backend], {
      TLS_PORT: "0",
      TLS_CERT: leaf.combinedFile,
      ...env,
    });
    handle.port = (proxy.proxy.tlsServer!.address() as { port: number }).port;
  });
  afterAll(async () => {
    await proxy.stop();
    await new Promise((r) => server.close(r));
  });
  return handle;
}

describe("WebSocket over HTTP/2 to a server that refuses or fails the upgrade", () => {
  // The whole answer per path; /never is not answered; anything else: 200 "ok" (health checks).
  const ANSWERS: Record<string, string | undefined> = {
    "/chunked403":
      "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nnope!\r\n0\r\n\r\n",
    "/never": undefined,
  };
  const scripted = useScriptedProxy(
    (path) => {
      if (!(path in ANSWERS)) return "default";
      const bytes = ANSWERS[path];
      return bytes === undefined ? undefined : { bytes, close: true };
    },
    {
      TIMEOUT_SERVER: "500",
      // One request at a time: a refused tunnel that kept its place would stop the next request.
      MAXCONN: "1",
      TIMEOUT_QUEUE: "1000",
    },
  );

  /** The stream's answer and body; resolves when the proxy closed it, the client never ending its side. */
  async function refused(path: string) {
    const session = await h2Session(scripted.port, { ca: pki.ca });
    const { stream, status } = await websocketStream(session, "websocket", path, scripted.port);
    let body = "";
    stream.setEncoding("utf8");
    stream.on("data", (d: string) => (body += d));
    await new Promise((resolve) => stream.once("close", resolve));
    // The place it held (MAXCONN=1) is free again.
    expect((await h2Request(session, { ":path": "/next" })).status).toBe(200);
    session.close();
    return { status, body };
  }

  it("relays a refusal's status and its body, decoded from chunked, then closes the stream", async () => {
    expect(await refused("/chunked403")).toEqual({ status: 403, body: "nope!" });
  });

  it("answers 504 when the server does not answer within TIMEOUT_SERVER", async () => {
    const { status, body } = await refused("/never");
    expect(status).toBe(504);
    expect(body).toMatch(/did not answer the upgrade in time/);
  });
});

describe("HTTP/2 message rules, checked on a recording backend", () => {
  let recorder: Server;
  let seen: IncomingHttpHeaders[];
  let proxy: RunningProxy;
  let port: number;
  beforeAll(async () => {
    seen = [];
    // Any head size: what the proxy lets through reaches the recorder to be seen.
    recorder = createServer({ maxHeaderSize: 256 * 1024 }, (req, res) => {
      // The proxy's health checks are not what a test sent.
      if (req.url !== "/healthz") seen.push(req.headers);
      res.setHeader("connection", "keep-alive");
      res.setHeader("keep-alive", "timeout=5");
      res.end("recorded");
    });
    const recorderPort = await listen(recorder, 0, "127.0.0.1");
    proxy = await startProxy([{ id: "rec", port: recorderPort } as Backend], {
      TLS_PORT: "0",
      TLS_CERT: leaf.combinedFile,
    });
    port = (proxy.proxy.tlsServer!.address() as { port: number }).port;
  });
  afterAll(async () => {
    await proxy.stop();
    recorder.closeAllConnections();
    await new Promise((r) => recorder.close(r));
  });

  it("turns :authority into Host and joins split cookies; answers carry no connection-specific fields", async () => {
    const session = await h2Session(port, { ca: pki.ca });
    const reply = await h2Request(session, { ":path": "/x", cookie: ["a=1", "b=2"] });
    session.close();
    expect(reply.body).toBe("recorded");
    expect(reply.headers.connection).toBeUndefined();
    expect(reply.headers["keep-alive"]).toBeUndefined();
    expect(seen.at(-1)).toMatchObject({ host: `localhost:${port}`, cookie: "a=1; b=2" });
  });

  it.each([
    ["transfer-encoding", [["transfer-encoding", "chunked"]]],
    ["connection", [["connection", "keep-alive"]]],
    ["keep-alive", [["keep-alive", "timeout=5"]]],
    ["upgrade", [["upgrade", "websocket"]]],
    ["te other than trailers", [["te", "gzip"]]],
    ["an upper-case name", [["X-Upper", "1"]]],
    [
      "a pseudo-header after a regular one",
      [
        ["accept", "*/*"],
        [":path", "/again"],
      ],
    ],
  ] as [string, [string, string][]][])(
    "resets a request with %s, which never reaches the backend",
    async (_name, extra) => {
      const before = seen.length;
      const client = await rawH2(port, { ca: pki.ca });
      client.send(
        frame(
          FRAME.HEADERS,
          FLAG.END_HEADERS | FLAG.END_STREAM,
          1,
          headerBlock(request("/bad", extra)),
        ),
      );
      const reset = await client.until(
        (f) => (f.type === FRAME.RST_STREAM && f.stream === 1) || f.type === FRAME.GOAWAY,
      );
      expect(errorCode(reset)).toBe(PROTOCOL_ERROR);
      client.socket.destroy();
      expect(seen.length).toBe(before);
    },
  );

  it("closes a connection whose client ended its side (no session left behind)", async () => {
    const client = await rawH2(port, { ca: pki.ca });
    client.send(
      frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, headerBlock(request("/x"))),
    );
    await client.until((f) => f.type === FRAME.DATA && f.stream === 1);
    client.socket.end();
    await client.closed;
  });

  it("resets a request missing :path or :method", async () => {
    const client = await rawH2(port, { ca: pki.ca });
    client.send(
      frame(
        FRAME.HEADERS,
        FLAG.END_HEADERS | FLAG.END_STREAM,
        1,
        headerBlock([
          [":method", "GET"],
          [":scheme", "https"],
          [":authority", "localhost"],
        ]),
      ),
    );
    client.send(
      frame(
        FRAME.HEADERS,
        FLAG.END_HEADERS | FLAG.END_STREAM,
        3,
        headerBlock([
          [":scheme", "https"],
          [":path", "/"],
          [":authority", "localhost"],
        ]),
      ),
    );
    await client.until((f) => f.type === FRAME.RST_STREAM && f.stream === 1);
    await client.until((f) => f.type === FRAME.RST_STREAM && f.stream === 3);
    client.socket.destroy();
  });

  it("answers 431 to a header list over 16 KiB: 60 KB in one field, or 40 KB in 20, never reach a server", async () => {
    /** curl's "<version> <status> " for each path, asked with `headers` on one connection. */
    const curl = async (headers: string[], ...paths: string[]) => {
      const { stdout } = await run("curl", [
        "--show-error",
        "--silent",
        "--http2",
        "--cacert",
        pki.caFile,
        "--resolve",
        `localhost:${port}:127.0.0.1`,
        ...headers.flatMap((h) => ["-H", h]),
        ...paths.flatMap(() => ["--output", "/dev/null"]),
        "--write-out",
        "%{http_version} %{http_code} ",
        ...paths.map((path) => `https://localhost:${port}${path}`),
      ]).catch((error: { code?: number; stderr?: string }) => ({
        // Not the command line: it holds the whole header list.
        stdout: `curl exit ${error.code}: ${error.stderr?.trim()}`,
      }));
      return stdout;
    };
    expect(await curl([`x-big: ${"y".repeat(60_000)}`], "/one-big")).toBe("2 431 ");
    const many = Array.from({ length: 20 }, (_, i) => `x-part-${i}: ${"z".repeat(2_000)}`);
    expect(await curl(many, "/many")).toBe("2 431 ");
    expect(seen.filter((h) => h["x-big"] !== undefined || h["x-part-0"] !== undefined)).toEqual([]);
    // On a connection whose client has acknowledged the settings too (curl's second request).
    expect(await curl([`x-big: ${"y".repeat(17_000)}`], "/first", "/second")).toBe("2 431 2 431 ");
    expect(await curl([`x-ok: ${"y".repeat(10_000)}`], "/fine")).toBe("2 200 ");
    expect(seen.filter((h) => h["x-ok"] !== undefined)).toHaveLength(1);
  });

  it("refuses a header list over 16 KiB with a stream error, and the connection goes on", async () => {
    const client = await rawH2(port, { ca: pki.ca });
    // Over two frames: one may carry 16 KiB (SETTINGS_MAX_FRAME_SIZE's default).
    const block = headerBlock(
      request("/big", [
        ["x-big", "y".repeat(12_000)],
        ["x-big2", "y".repeat(8_000)],
      ]),
    );
    client.send(
      frame(FRAME.HEADERS, FLAG.END_STREAM, 1, block.subarray(0, 10_000)),
      frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 1, block.subarray(10_000)),
    );
    const answer = await client.until(
      (f) => f.stream === 1 && (f.type === FRAME.RST_STREAM || f.type === FRAME.HEADERS),
    );
    // 431 (HPACK may code the status so that its digits are not in the bytes).
    expect(answer.type).toBe(FRAME.HEADERS);
    client.send(
      frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 3, headerBlock(request("/small"))),
    );
    await client.until((f) => f.stream === 3 && f.type === FRAME.HEADERS);
    client.socket.destroy();
  });
});

/** What one HTTP/2 request got, fields as sent (name, value, ...). */
interface RawAnswer {
  fields: string[];
  trailers: string[];
  body: string;
  /** RST_STREAM's code, 0 when the stream ended normally. */
  reset: number;
}

function rawAnswer(session: ClientHttp2Session, path: string): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const stream = session.request({ ":path": path });
    const answer: RawAnswer = { fields: [], trailers: [], body: "", reset: 0 };
    stream.setEncoding("utf8");
    stream.on("response", (_h, _f, raw: string[]) => (answer.fields = raw));
    stream.on("trailers", (_h, _f, raw: string[]) => (answer.trailers = raw));
    stream.on("data", (chunk: string) => (answer.body += chunk));
    stream.on("error", () => {});
    stream.on("close", () => resolve({ ...answer, reset: stream.rstCode ?? 0 }));
  });
}

describe("a server's repeated fields and bodiless statuses, over HTTP/2", () => {
  /** Exact bytes per path, as a server may send them; anything else: 200 "ok". */
  const ANSWERS: Record<string, string> = {
    "/trailers":
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nUser-Agent: a\r\nUser-Agent: b\r\nETag: "1"\r\nETag: "2"\r\n\r\n',
    "/types":
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok",
    "/205": "HTTP/1.1 205 Reset Content\r\nContent-Length: 3\r\n\r\nabc",
  };
  /** Answers whose end comes 200 ms after their head and first piece. */
  const LATER: Record<string, [string, string]> = {
    "/late-trailers": [
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n",
      "0\r\nX-Checksum: abc\r\nGrpc-Status: 0\r\n\r\n",
    ],
    "/late-end": ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n", "0\r\n\r\n"],
  };
  const scripted = useScriptedProxy((path) => {
    const later = LATER[path];
    if (later !== undefined) return { bytes: later[0], close: false, later: later[1] };
    const bytes = ANSWERS[path];
    return bytes === undefined ? "default" : { bytes, close: false };
  });

  it("relays trailers a chunked answer ends with though its head did not announce them", async () => {
    const session = await h2Session(scripted.port, { ca: pki.ca });
    const answer = await rawAnswer(session, "/late-trailers");
    expect(answer).toMatchObject({ body: "ok", reset: 0 });
    expect(answer.trailers).toEqual(["x-checksum", "abc", "grpc-status", "0"]);
    // A chunked answer with no trailers ends as one.
    expect(await rawAnswer(session, "/late-end")).toMatchObject({
      body: "ok",
      reset: 0,
      trailers: [],
    });
    session.close();
  });

  it("relays repeated trailer fields node counts as single-valued (they used to end the process)", async () => {
    const session = await h2Session(scripted.port, { ca: pki.ca });
    const answer = await rawAnswer(session, "/trailers");
    expect(answer).toMatchObject({ body: "ok", reset: 0 });
    expect(answer.trailers).toEqual([
      "user-agent",
      "a",
      "user-agent",
      "b",
      "etag",
      '"1"',
      "etag",
      '"2"',
    ]);
    // The same connection and a new one are served after it.
    expect((await rawAnswer(session, "/next")).body).toBe("ok");
    session.close();
    const again = await h2Session(scripted.port, { ca: pki.ca });
    expect((await rawAnswer(again, "/next")).body).toBe("ok");
    again.close();
  });

  it("relays a repeated Content-Type as it came instead of resetting the stream", async () => {
    const session = await h2Session(scripted.port, { ca: pki.ca });
    const answer = await rawAnswer(session, "/types");
    session.close();
    expect(answer).toMatchObject({ body: "ok", reset: 0 });
    expect(answer.fields.filter((_, i) => answer.fields[i - 1] === "content-type")).toEqual([
      "text/plain",
      "text/html",
    ]);
  });

  it("answers a 205 with no content even when the server sent some (RFC 9110 15.3.6)", async () => {
    const session = await h2Session(scripted.port, { ca: pki.ca });
    const answer = await rawAnswer(session, "/205");
    expect(answer).toMatchObject({ body: "", reset: 0 });
    expect(answer.fields.slice(0, 2)).toEqual([":status", "205"]);
    expect(answer.fields).not.toContain("content-length");
    expect((await rawAnswer(session, "/next")).body).toBe("ok");
    session.close();
  });
});

describe("HTTP/2 abuse ends the abuser's connection only", () => {
  /** Keeps a well-behaved client busy while `attack` runs; returns its failures and successes. */
  async function whileServing(attack: () => Promise<void>) {
    const session = await h2Session(tlsPort, { from: CLIENTS[3], ca: pki.ca });
    let ok = 0;
    let failed = 0;
    let going = true;
    const bystander = (async () => {
      while (going) {
        try {
          const reply = await h2Request(session, { ":path": "/" });
          if (reply.status === 200) ok++;
          else failed++;
        } catch {
          failed++;
          return;
        }
      }
    })();
    await attack();
    const until = ok + 20;
    while (ok < until && failed === 0) await new Promise((r) => setTimeout(r, 10));
    going = false;
    await bystander;
    session.close();
    return { ok, failed };
  }

  /** `count` streams, each opened with a request and reset at once (RST_STREAM CANCEL). */
  function openedAndReset(count: number): Buffer[] {
    const frames: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const id = 1 + 2 * i;
      const head = headerBlock(request(`/r${i}`));
      frames.push(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, head));
      frames.push(frame(FRAME.RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8])));
    }
    return frames;
  }

  it("answers a rapid-reset flood (CVE-2023-44487) with GOAWAY", async () => {
    const result = await whileServing(async () => {
      const client = await rawH2(tlsPort, { ca: pki.ca, from: CLIENTS[4] });
      client.send(...openedAndReset(2000));
      await endsConnection(client, INTERNAL_ERROR);
    });
    expect(result.failed).toBe(0);
    expect(result.ok).toBeGreaterThan(0);
  }, 20_000);

  it("answers a CONTINUATION flood with GOAWAY", async () => {
    const result = await whileServing(async () => {
      const client = await rawH2(tlsPort, { ca: pki.ca, from: CLIENTS[5] });
      const frames = [frame(FRAME.HEADERS, 0, 1, headerBlock(request("/c")))];
      for (let i = 0; i < 5000; i++)
        frames.push(frame(FRAME.CONTINUATION, 0, 1, headerBlock([[`x-c${i}`, "v"]])));
      client.send(...frames);
      await endsConnection(client, INTERNAL_ERROR);
    });
    expect(result.failed).toBe(0);
  }, 20_000);

  it("keeps a connection that resets fewer streams than the burst allows", async () => {
    const client = await rawH2(tlsPort, { ca: pki.ca, from: CLIENTS[7] });
    client.send(...openedAndReset(50));
    client.send(
      frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 101, headerBlock(request("/after"))),
    );
    await client.until((f) => f.type === FRAME.HEADERS && f.stream === 101);
    expect(client.frames.some((f) => f.type === FRAME.GOAWAY)).toBe(false);
    client.socket.destroy();
  });

  it("caps concurrent streams: the server says 100, and a 101st is refused", async () => {
    const client = await rawH2(tlsPort, { ca: pki.ca, from: CLIENTS[6] });
    const settings = await client.until((f) => f.type === FRAME.SETTINGS && f.flags === 0);
    const values = new Map<number, number>();
    for (let i = 0; i + 6 <= settings.payload.length; i += 6)
      values.set(settings.payload.readUInt16BE(i), settings.payload.readUInt32BE(i + 2));
    expect(values.get(0x3)).toBe(100);
    await client.until((f) => f.type === FRAME.SETTINGS && f.flags === FLAG.ACK);
    // POSTs whose bodies never come: each stays open.
    const frames: Buffer[] = [];
    for (let i = 0; i < 101; i++)
      frames.push(
        frame(
          FRAME.HEADERS,
          FLAG.END_HEADERS,
          1 + 2 * i,
          headerBlock(request(`/upload`, [], "POST")),
        ),
      );
    client.send(...frames);
    // RFC 9113 5.1.2 lets it be a stream error; nghttp2 makes it a connection error.
    const refused = await client.until(
      (f) => f.type === FRAME.RST_STREAM || f.type === FRAME.GOAWAY,
    );
    if (refused.type === FRAME.RST_STREAM) {
      expect(refused.stream).toBe(201);
      expect([PROTOCOL_ERROR, REFUSED_STREAM]).toContain(errorCode(refused));
    } else expect(errorCode(refused)).toBe(PROTOCOL_ERROR);
    client.socket.destroy();
  });
});

describe("an HTTP/2 upload the client resets before its end", () => {
  it("is never passed on as whole, and frees its server's slot at once (MAXCONN)", async () => {
    const bodies: { url: string; complete: boolean }[] = [];
    const server = createServer((req, res) => {
      if (req.url === "/healthz") return void res.end("ok");
      req.resume();
      req.on("end", () => res.end(`whole ${req.url}`));
      req.on("close", () => bodies.push({ url: req.url!, complete: req.complete }));
    });
    const serverPort = await listen(server, 0, "127.0.0.1");
    const proxy = await startProxy([{ id: "app1", port: serverPort } as Backend], {
      TLS_PORT: "0",
      TLS_CERT: leaf.combinedFile,
      MAXCONN: "1",
      TIMEOUT_QUEUE: "10s",
      TIMEOUT_SERVER: "5s",
      HEALTH_INTER: "60s",
    });
    const port = (proxy.proxy.tlsServer!.address() as { port: number }).port;
    try {
      const client = await rawH2(port, { ca: pki.ca });
      // Chunked to the server (no content-length): its end would be a last chunk.
      client.send(
        frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, headerBlock(request("/cut", [], "POST"))),
      );
      client.send(frame(FRAME.DATA, 0, 1, Buffer.from("partial")));
      await new Promise((r) => setTimeout(r, 300));
      client.send(frame(FRAME.RST_STREAM, 0, 1, Buffer.from([0, 0, 0, 8]))); // CANCEL
      const reset = performance.now();
      const session = await h2Session(port, { ca: pki.ca });
      const next = await h2Request(session, { ":path": "/next" });
      expect(next.status).toBe(200);
      expect(next.body).toBe("whole /next");
      // Not after the server timeout: the slot was free.
      expect(performance.now() - reset).toBeLessThan(2000);
      session.close();
      client.socket.destroy();
      expect(bodies.filter((b) => b.url === "/cut" && b.complete)).toEqual([]);
    } finally {
      await proxy.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

/** One backend, and a proxy with a TLS port and a client timeout of 1 s. */
async function withClientTimeout() {
  const backend = await startBackend(1);
  const proxy = await startProxy([backend], {
    TLS_PORT: "0",
    TLS_CERT: leaf.combinedFile,
    TIMEOUT_CLIENT: "1s",
    HEALTH_INTER: "60s",
  });
  return { backend, proxy };
}

describe("an HTTP/2 client that takes none of its answer", () => {
  it("has the stream reset after TIMEOUT_CLIENT, and its server connection freed", async () => {
    const { backend, proxy } = await withClientTimeout();
    try {
      const port = (proxy.proxy.tlsServer!.address() as { port: number }).port;
      const session = await h2Session(port, { ca: pki.ca });
      const stream = session.request({ ":path": "/download?mb=20" });
      stream.pause(); // never read: the client's window closes
      const started = performance.now();
      const code = await new Promise<number>((resolve) => {
        stream.on("error", () => {});
        stream.on("close", () => resolve(stream.rstCode ?? 0));
        setTimeout(() => resolve(-1), 6000).unref();
      });
      session.destroy();
      expect(code).toBe(constants.NGHTTP2_INTERNAL_ERROR);
      expect(performance.now() - started).toBeGreaterThan(900);
      const busy = async () =>
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        ((await (await fetch(`http://127.0.0.1:${proxy.adminPort}/api/servers`)).json()) as any)
          .servers[0].inFlight as number;
      await waitFor(async () => (await busy()) === 0, 3000);
    } finally {
      await proxy.stop();
      await backend.kill();
    }
  }, 15_000);
});

describe("an idle HTTP/2 client that never closes its side", () => {
  it("loses its connection, and its place among the client connections, soon after TIMEOUT_CLIENT", async () => {
    const { backend, proxy } = await withClientTimeout();
    const open = async () => {
      const text = await (await fetch(`http://127.0.0.1:${proxy.adminPort}/metrics`)).text();
      return Number(/^stickyring_client_connections\{state="open"\} (\S+)$/m.exec(text)![1]);
    };
    const port = (proxy.proxy.tlsServer!.address() as { port: number }).port;
    // The preface and an empty SETTINGS frame, then silence; the client's side stays open
    // (node's TLS client takes allowHalfOpen as its net socket does; its types do not list it).
    const options = {
      port,
      host: "127.0.0.1",
      ca: pki.ca,
      servername: "localhost",
      ALPNProtocols: ["h2"],
      allowHalfOpen: true,
    };
    const socket = tlsConnect(options, () =>
      socket.write(
        Buffer.concat([
          Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
          Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
        ]),
      ),
    );
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
    try {
      await waitFor(async () => (await open()) === 1, 3000);
      const ended = new Promise((resolve) => socket.once("end", resolve));
      await ended; // GOAWAY and the proxy's end, at TIMEOUT_CLIENT
      await waitFor(async () => (await open()) === 0, 3000);
    } finally {
      socket.destroy();
      await proxy.stop();
      await backend.kill();
    }
  }, 15_000);
});

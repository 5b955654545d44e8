// The proxy port's own HTTP/1.1 server, driven with exact bytes from a raw
// socket: pipelining, HTTP/1.0, framing of answers of unknown length, HEAD,
// Expect, keep-alive and closing, and the graceful stop.

import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { ENGINE, soloBackend, startProxy, type Backend, type SoloBackend } from "./harness.js";
import { converse as talk } from "./raw-client.js";

interface Seen {
  method: string;
  url: string;
  host: string | undefined;
  body: string;
}

const seen: Seen[] = [];
/** Reads of each request's body at the server, by URL. */
const seenReads = new Map<string, number>();
/** The headers each request arrived with, by URL. */
const seenHeaders = new Map<string, Record<string, unknown>>();
/** Every byte value, twice: a body that is not text. */
const ALL_BYTES = Buffer.from([...Array(512).keys()].map((i) => i % 256));
let solo: SoloBackend;

beforeAll(async () => {
  // /chunked answers without a length; anything else echoes method, path and body.
  solo = await soloBackend((req, res) => {
    let body = "";
    let reads = 0;
    req.setEncoding("latin1");
    req.on("data", (d: string) => {
      body += d;
      reads++;
    });
    req.on("end", () => {
      if (req.url === "/healthz") return res.end("ok");
      seenReads.set(req.url!, reads);
      seenHeaders.set(req.url!, { ...req.headers });
      if (req.url === "/slow") {
        setTimeout(() => res.end(`${req.method} ${req.url} `), 1500);
        return;
      }
      seen.push({ method: req.method!, url: req.url!, host: req.headers.host, body });
      if (req.url === "/bytes") {
        res.writeHead(200, { "content-length": ALL_BYTES.length });
        return res.end(ALL_BYTES);
      }
      if (req.url === "/chunked") {
        res.write("part one, ");
        setTimeout(() => res.end("part two"), 20);
        return;
      }
      const text = `${req.method} ${req.url} ${body}`;
      res.writeHead(200, { "content-type": "text/plain", "content-length": text.length });
      res.end(text);
    });
  });
});
afterAll(() => solo.stop());

/** A raw connection to the proxy that sends `payload` at once. */
const converse = (payload: string) => talk(solo.running.port, payload);
/** One that sends `pieces` a little apart. */
const talkIn = (pieces: string[]) => talk(solo.running.port, pieces, { pauseMs: 30 });

/** The status lines in order (bodies here never contain one, nor end in a newline). */
const statusLines = (text: string) => text.match(/HTTP\/1\.1 \d{3} [^\r]*/g) ?? [];

describe("pipelined requests", () => {
  it("are answered in order on one connection, the last closing it", async () => {
    const before = seen.length;
    const talk = await converse(
      "GET /one HTTP/1.1\r\nHost: a\r\n\r\n" +
        "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" +
        "GET /three HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    await talk.closed;
    const text = talk.text();
    expect(statusLines(text)).toEqual(["HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK"]);
    const one = text.indexOf("GET /one ");
    const two = text.indexOf("POST /two hello");
    const three = text.indexOf("GET /three ");
    expect(one).toBeGreaterThan(0);
    expect(two).toBeGreaterThan(one);
    expect(three).toBeGreaterThan(two);
    expect(seen.slice(before).map((s) => s.url)).toEqual(["/one", "/two", "/three"]);
  });
});

describe("reads", () => {
  // Most reads are parsed where they land, without a 'data' event; pausing
  // and bodies go back to the socket's stream. These cross between the two.
  it("of more pipelined requests than are held (16) are all answered in order", async () => {
    const urls = Array.from({ length: 40 }, (_, i) => `/p${i}`);
    const last = urls.length - 1;
    const talk = await converse(
      urls
        .map(
          (u, i) =>
            `GET ${u} HTTP/1.1\r\nHost: a\r\n${i === last ? "Connection: close\r\n" : ""}\r\n`,
        )
        .join(""),
    );
    await talk.closed;
    const answered = [...talk.text().matchAll(/GET (\/p\d+) /g)].map((m) => m[1]);
    expect(answered).toEqual(urls);
  });

  it("of 1,000 pipelined requests in one write are read 16 at a time and all answered in order", async () => {
    const urls = Array.from({ length: 1000 }, (_, i) => `/q${i}`);
    const talk = await converse(
      urls
        .map(
          (u, i) =>
            `GET ${u} HTTP/1.1\r\nHost: a\r\n${i === 999 ? "Connection: close\r\n" : ""}\r\n`,
        )
        .join(""),
    );
    await talk.closed;
    expect([...talk.text().matchAll(/GET (\/q\d+) /g)].map((m) => m[1])).toEqual(urls);
  });

  it("of many tiny chunks reach the server as a few writes, not one each", async () => {
    const chunks = "1\r\nx\r\n".repeat(20_000);
    const talk = await converse(
      `POST /tiny HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunks}0\r\n\r\n`,
    );
    await talk.closed;
    expect(talk.text()).toMatch(new RegExp(`POST /tiny x{20000}$`));
    expect(seenReads.get("/tiny")).toBeLessThan(200);
  });

  // Fast engine only: node:http's server, declining an upgrade (shouldUpgradeCallback),
  // drops what follows the declined request in the same read (here /second).
  (ENGINE === "fast" ? it : it.skip)(
    "after a declined upgrade with a body, read the requests behind it (h2c is not taken up)",
    async () => {
      const talk = await talkIn([
        "POST /up HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n",
        "0\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /third HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      ]);
      await talk.closed;
      expect([...talk.text().matchAll(/(POST|GET) (\/\w+) /g)].map((m) => m[2])).toEqual([
        "/up",
        "/second",
        "/third",
      ]);
    },
  );

  it("of empty lines between requests neither start a head nor cut the answer in flight", async () => {
    const talk = await talkIn(["GET /slow HTTP/1.1\r\nHost: a\r\n\r\n", "\r\n"]);
    await new Promise((r) => setTimeout(r, 100));
    talk.socket.end(); // half-close: the answer still comes
    await talk.closed;
    expect(talk.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*GET \/slow $/);
  });

  it("of fields named after Object properties forward them as they are", async () => {
    const talk = await converse(
      "GET /proto HTTP/1.1\r\nHost: a\r\nconstructor: x\r\n__proto__: z\r\ntoString: y\r\nConnection: close\r\n\r\n",
    );
    await talk.closed;
    expect(seenHeaders.get("/proto")).toMatchObject({
      constructor: "x",
      __proto__: "z",
      tostring: "y",
    });
  });

  it("of a head split across writes, and of bodies between bodiless requests, are parsed whole", async () => {
    const talk = await converse("GET /spl");
    await new Promise((r) => setTimeout(r, 50));
    talk.socket.write("it HTTP/1.1\r\nHo");
    await new Promise((r) => setTimeout(r, 50));
    talk.socket.write("st: a\r\n\r\n");
    await talk.until(/GET \/split $/);
    talk.socket.write("POST /b1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc");
    await talk.until(/POST \/b1 abc$/);
    talk.socket.write("GET /g1 HTTP/1.1\r\nHost: a\r\n\r\n");
    await talk.until(/GET \/g1 $/);
    talk.socket.write(
      "POST /b2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyzGET /g2 HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    await talk.until(/GET \/g2 $/);
    expect(statusLines(talk.text())).toHaveLength(5);
    expect(talk.text()).toContain("POST /b2 xyz");
    talk.socket.destroy();
  });
});

describe("any mix of requests, cut anywhere", () => {
  // GETs, bodies with a length and chunked ones, split at arbitrary bytes
  // over several writes: whichever way the reads fall (whole requests, a
  // head cut short, a body spanning reads), every request is answered, once,
  // in order.
  const request = fc.oneof(
    fc.constant({ kind: "get" as const, body: "" }),
    fc.record({
      kind: fc.constant("length" as const),
      body: fc.string({ minLength: 1, maxLength: 3000 }),
    }),
    fc.record({
      kind: fc.constant("chunked" as const),
      body: fc.string({ minLength: 1, maxLength: 3000 }),
    }),
  );
  const wire = (kind: string, url: string, body: string, last: boolean) => {
    const close = last ? "Connection: close\r\n" : "";
    if (kind === "get") return `GET ${url} HTTP/1.1\r\nHost: a\r\n${close}\r\n`;
    if (kind === "length")
      return `POST ${url} HTTP/1.1\r\nHost: a\r\n${close}Content-Length: ${body.length}\r\n\r\n${body}`;
    const half = Math.ceil(body.length / 2);
    const chunks = [body.slice(0, half), body.slice(half)].filter((c) => c.length > 0);
    return (
      `POST ${url} HTTP/1.1\r\nHost: a\r\n${close}Transfer-Encoding: chunked\r\n\r\n` +
      chunks.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join("") +
      "0\r\n\r\n"
    );
  };

  it("is answered whole and in order", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(request, { minLength: 1, maxLength: 24 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.nat(1000),
        async (requests, cuts, tag) => {
          const urls = requests.map((_, i) => `/mix${tag}-${i}`);
          const payload = requests
            .map((r, i) => wire(r.kind, urls[i]!, r.body, i === requests.length - 1))
            .join("");
          const at = [...new Set(cuts.map((c) => c % payload.length))].sort((a, b) => a - b);
          const pieces = [0, ...at].map((from, i) =>
            payload.slice(from, [...at, payload.length][i]),
          );
          const talk = await converse(pieces[0]!);
          for (const piece of pieces.slice(1)) {
            await new Promise((r) => setTimeout(r, 5));
            if (piece.length > 0) talk.socket.write(piece, "latin1");
          }
          await talk.closed;
          const text = talk.text();
          expect(statusLines(text)).toEqual(requests.map(() => "HTTP/1.1 200 OK"));
          let from = 0;
          requests.forEach((r, i) => {
            const echo = `${r.kind === "get" ? "GET" : "POST"} ${urls[i]} ${r.body}`;
            const found = text.indexOf(echo, from);
            expect(found).toBeGreaterThan(from);
            from = found + echo.length;
          });
        },
      ),
      { numRuns: 40 },
    );
  }, 60_000);
});

describe("a client that half-closes", () => {
  it("still gets the answers to what it sent, then the connection closes", async () => {
    const talk = await converse(
      "GET /h1 HTTP/1.1\r\nHost: a\r\n\r\nGET /h2 HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    talk.socket.end();
    await talk.closed;
    expect(statusLines(talk.text())).toEqual(["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"]);
    expect(talk.text()).toMatch(/GET \/h2 $/);
  });
});

describe("a large body", () => {
  const body = "x".repeat(300_000);
  const post = `POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

  it("is forwarded whole, and a request pipelined behind it is read after it", async () => {
    const talk = await converse(
      `${post}GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
    );
    await talk.closed;
    expect(statusLines(talk.text())).toEqual(["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"]);
    expect(talk.text()).toContain(`POST /big ${body}`);
    expect(talk.text()).toMatch(/GET \/next $/);
  });

  it("leaves the connection reading: the next request, sent after the answer, is answered", async () => {
    const talk = await converse(post);
    await talk.until(/POST \/big x+$/);
    talk.socket.write("GET /later HTTP/1.1\r\nHost: a\r\n\r\n");
    await talk.until(/GET \/later $/);
    talk.socket.destroy();
  });
});

describe("HTTP/1.0 clients", () => {
  it("are forwarded with a Host, and the connection closes after the answer", async () => {
    const before = seen.length;
    const talk = await converse("GET /old HTTP/1.0\r\n\r\n");
    await talk.closed;
    expect(statusLines(talk.text())).toEqual(["HTTP/1.1 200 OK"]);
    expect(talk.text()).toMatch(/\r\nconnection: close\r\n/i);
    const request = seen[before]!;
    expect(request.url).toBe("/old");
    expect(request.host).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it("keep the connection when they ask to, and get an answer of unknown length read to close", async () => {
    const talk = await converse("GET /kept HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    await talk.until(/GET \/kept $/);
    expect(talk.text()).toMatch(/\r\nconnection: keep-alive\r\n/i);
    expect(talk.socket.destroyed).toBe(false);
    talk.socket.write("GET /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    await talk.closed;
    const second = talk.text().slice(talk.text().lastIndexOf("HTTP/1.1 "));
    expect(second).not.toMatch(/transfer-encoding/i);
    expect(second).toMatch(/\r\nconnection: close\r\n/i);
    expect(second.endsWith("\r\n\r\npart one, part two")).toBe(true);
  });
});

describe("answers", () => {
  it("of unknown length go chunked to an HTTP/1.1 client, which keeps its connection", async () => {
    const talk = await converse("GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n");
    const text = await talk.until(/\r\n0\r\n\r\n$/);
    expect(text).toMatch(/\r\ntransfer-encoding: chunked\r\n/i);
    expect(text).toContain("\r\n\r\na\r\npart one, \r\n8\r\npart two\r\n0\r\n\r\n");
    expect(talk.socket.destroyed).toBe(false);
    talk.socket.write("GET /again HTTP/1.1\r\nHost: a\r\n\r\n");
    await talk.until(/GET \/again $/);
    talk.socket.destroy();
  });

  it("carry every byte value through unchanged", async () => {
    const talk = await converse("GET /bytes HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    await talk.closed;
    const bytes = Buffer.from(talk.text(), "latin1");
    const body = bytes.subarray(bytes.indexOf("\r\n\r\n") + 4);
    expect(body.equals(ALL_BYTES)).toBe(true);
  });

  it("to HEAD keep their Content-Length and carry no body", async () => {
    const talk = await converse(
      "HEAD /head HTTP/1.1\r\nHost: a\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    await talk.closed;
    const [head, next] = talk.text().split(/(?=HTTP\/1\.1 )/);
    expect(head).toMatch(/\r\ncontent-length: 11\r\n/i);
    expect(head!.endsWith("\r\n\r\n")).toBe(true);
    expect(next).toMatch(/GET \/after $/);
  });
});

describe("Expect", () => {
  it("100-continue gets the interim answer, then the body goes through", async () => {
    const talk = await converse(
      "POST /expect HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    );
    await talk.until(/^HTTP\/1\.1 100 Continue\r\n\r\n$/);
    talk.socket.write("body");
    const text = await talk.until(/POST \/expect body$/);
    expect(statusLines(text)).toEqual(["HTTP/1.1 100 Continue", "HTTP/1.1 200 OK"]);
    talk.socket.destroy();
  });

  it("of anything else is refused with 417 and never forwarded", async () => {
    const before = seen.length;
    const talk = await converse("GET / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n\r\n");
    await talk.closed;
    expect(statusLines(talk.text())).toEqual(["HTTP/1.1 417 Expectation Failed"]);
    expect(seen.length).toBe(before);
  });
});

describe("kept-alive client connections", () => {
  it("close after 5 s idle", async () => {
    const talk = await converse("GET /idle HTTP/1.1\r\nHost: a\r\n\r\n");
    await talk.until(/GET \/idle $/);
    const idleFrom = Date.now();
    await talk.closed;
    const idle = Date.now() - idleFrom;
    expect(idle).toBeGreaterThanOrEqual(4900);
    expect(idle).toBeLessThan(7000);
  }, 10_000);
});

describe("stopping", () => {
  it("closes idle connections at once and lets an answer in flight finish", async () => {
    const idle = await converse("GET /before-stop HTTP/1.1\r\nHost: a\r\n\r\n");
    await idle.until(/GET \/before-stop $/);
    const busy = await converse("GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n");
    await busy.until(/part one, /);
    const stopped = solo.running.stop();
    await idle.closed;
    await busy.closed;
    expect(busy.text().endsWith("part two\r\n0\r\n\r\n")).toBe(true);
    await stopped;
    // afterAll stops the proxy and the backend: a proxy is running again for it.
    solo.running = await startProxy([{ id: "app1", port: solo.port } as Backend]);
  });
});

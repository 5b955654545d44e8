// Property: whatever sequence of messages crosses one client connection and
// one server connection, every client gets exactly its own answer (status,
// headers, body, trailers, interim answers) and the server gets exactly each
// request as its client sent it (hop-by-hop headers aside). State a message
// left behind in either parser would show up in a later message here.

import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import fc from "fast-check";
import { startProxy, type Backend, type RunningProxy } from "./harness.js";
import { converse, type Conversation } from "./raw-client.js";
import { scriptedServer, type Cleanup, type Received } from "./scripted-server.js";

type Field = [string, string];

interface Interim {
  status: 100 | 102 | 103;
  fields: Field[];
}

interface Answer {
  interims: Interim[];
  status: number;
  fields: Field[];
  body: string;
  chunked: boolean;
  trailers: Field[];
}

interface Ask {
  method: "GET" | "HEAD" | "POST" | "PUT" | "DELETE";
  fields: Field[];
  body: string;
  chunked: boolean;
  trailers: Field[];
  /** Which of the clients sends it (sequential runs). */
  client: number;
  answer: Answer;
}

/** Names a trailer must not carry (RFC 9110 6.5.1); the proxy drops them. */
const FORBIDDEN_TRAILERS = ["set-cookie", "host", "content-type", "authorization"];

const token = fc.stringMatching(/^[a-z0-9]{1,12}$/);
const fields = (prefix: string, max: number) =>
  fc
    .array(token, { maxLength: max })
    .map((values) => values.map((v, i): Field => [`x-${prefix}-${i}`, v]));
const text = fc.string({ unit: "binary-ascii", maxLength: 300 }).map((s) => s.replace(/\r/g, ""));
const trailerFields = (prefix: string) =>
  fc
    .tuple(fields(prefix, 3), fc.option(fc.constantFrom(...FORBIDDEN_TRAILERS)))
    .map(([kept, forbidden]): Field[] =>
      forbidden === null ? kept : [...kept, [forbidden, "leak"]],
    );

const interim: fc.Arbitrary<Interim> = fc.record({
  status: fc.constantFrom(100 as const, 102 as const, 103 as const),
  fields: fields("i", 2),
});

const answer: fc.Arbitrary<Answer> = fc
  .record({
    interims: fc.array(interim, { maxLength: 2 }),
    status: fc.constantFrom(200, 201, 204, 304, 404, 500),
    fields: fields("r", 4),
    body: text,
    chunked: fc.boolean(),
    trailers: trailerFields("rt"),
  })
  .map((a) => {
    const bodiless = a.status === 204 || a.status === 304;
    return {
      ...a,
      body: bodiless ? "" : a.body,
      trailers: a.chunked && !bodiless ? a.trailers : [],
    };
  });

const ask = (clients: number): fc.Arbitrary<Ask> =>
  fc
    .record({
      method: fc.constantFrom(
        "GET" as const,
        "HEAD" as const,
        "POST" as const,
        "PUT" as const,
        "DELETE" as const,
      ),
      fields: fields("q", 4),
      body: text,
      chunked: fc.boolean(),
      trailers: trailerFields("qt"),
      client: fc.integer({ min: 0, max: clients - 1 }),
      answer,
    })
    .map((a) => {
      const bodiless = a.method === "GET" || a.method === "HEAD";
      return {
        ...a,
        body: bodiless ? "" : a.body,
        chunked: !bodiless && a.chunked,
        trailers: !bodiless && a.chunked ? a.trailers : [],
      };
    });

const fieldLines = (list: Field[]) => list.map(([n, v]) => `${n}: ${v}\r\n`).join("");

/** A chunked body in one or two chunks (the second with an extension), then trailers. */
function chunked(body: string, trailers: Field[]): string {
  const half = Math.floor(body.length / 2);
  const parts = [body.slice(0, half), body.slice(half)].filter((p) => p !== "");
  const chunks = parts
    .map((p, i) => `${p.length.toString(16)}${i === 1 ? ";ext=1" : ""}\r\n${p}\r\n`)
    .join("");
  return `${chunks}0\r\n${fieldLines(trailers)}\r\n`;
}

function requestBytes(run: number, index: number, a: Ask): string {
  let head = `${a.method} /seq/${run}/${index} HTTP/1.1\r\nHost: shop\r\n${fieldLines(a.fields)}`;
  if (a.body === "" && !a.chunked) return `${head}\r\n`;
  if (a.chunked) return `${head}Transfer-Encoding: chunked\r\n\r\n${chunked(a.body, a.trailers)}`;
  head += `Content-Length: ${a.body.length}\r\n\r\n`;
  return head + a.body;
}

function answerBytes(a: Answer, head: boolean): string {
  const interims = a.interims
    .map((i) => `HTTP/1.1 ${i.status} Interim\r\n${fieldLines(i.fields)}\r\n`)
    .join("");
  const bodiless = head || a.status === 204 || a.status === 304;
  let text = `${interims}HTTP/1.1 ${a.status} Status\r\n${fieldLines(a.fields)}`;
  if (a.chunked) {
    text += "Transfer-Encoding: chunked\r\n\r\n";
    return bodiless ? text : text + chunked(a.body, a.trailers);
  }
  text += `Content-Length: ${a.body.length}\r\n\r\n`;
  return bodiless ? text : text + a.body;
}

interface Seen {
  interims: Interim[];
  status: number;
  fields: Field[];
  body: string;
  trailers: Field[];
}

/** Header lines of a block of text, names lowercased. */
function lines(block: string): Field[] {
  return block
    .split("\r\n")
    .filter((l) => l !== "")
    .map((l) => {
      const colon = l.indexOf(":");
      return [l.slice(0, colon).toLowerCase(), l.slice(colon + 1).trim()];
    });
}

/**
 * One whole response at `at` in what a client received, or undefined while
 * it is incomplete. Written for this test: the proxy's answers always carry a
 * length or are chunked.
 */
function readAnswer(
  text: string,
  at: number,
  head: boolean,
): { seen: Seen; end: number } | undefined {
  const interims: Interim[] = [];
  for (;;) {
    const end = text.indexOf("\r\n\r\n", at);
    if (end < 0) return undefined;
    const [statusLine, ...rest] = text.slice(at, end).split("\r\n");
    const status = Number(statusLine!.split(" ")[1]);
    const headers = lines(rest.join("\r\n"));
    at = end + 4;
    if (status < 200) {
      interims.push({ status: status as Interim["status"], fields: headers });
      continue;
    }
    const seen: Seen = { interims, status, fields: headers, body: "", trailers: [] };
    const get = (name: string) => headers.find(([n]) => n === name)?.[1];
    if (head || status === 204 || status === 304) return { seen, end: at };
    if (get("transfer-encoding") === "chunked") {
      for (;;) {
        const lineEnd = text.indexOf("\r\n", at);
        if (lineEnd < 0) return undefined;
        const size = parseInt(text.slice(at, lineEnd), 16);
        if (size === 0) {
          const close = text.indexOf("\r\n\r\n", lineEnd);
          if (text.startsWith("\r\n\r\n", lineEnd)) return { seen, end: lineEnd + 4 };
          if (close < 0) return undefined;
          seen.trailers = lines(text.slice(lineEnd + 2, close));
          return { seen, end: close + 4 };
        }
        if (text.length < lineEnd + 2 + size + 2) return undefined;
        seen.body += text.slice(lineEnd + 2, lineEnd + 2 + size);
        at = lineEnd + 2 + size + 2;
      }
    }
    const length = Number(get("content-length") ?? 0);
    if (text.length < at + length) return undefined;
    seen.body = text.slice(at, at + length);
    return { seen, end: at + length };
  }
}

const ours = (list: Field[]) => list.filter(([n]) => /^x-(q|r|i|qt|rt)-/.test(n));
const kept = (list: Field[]) => list.filter(([n]) => !FORBIDDEN_TRAILERS.includes(n));

/** What the client must see for `a`, compared field by field. */
function expectAnswer(seen: Seen, a: Ask): void {
  const { answer } = a;
  expect(seen.status).toBe(answer.status);
  expect(seen.interims.map((i) => ({ status: i.status, fields: ours(i.fields) }))).toEqual(
    answer.interims,
  );
  expect(ours(seen.fields)).toEqual(answer.fields);
  expect(seen.fields.filter(([n]) => n === "x-backend")).toEqual([["x-backend", "app1"]]);
  expect(seen.fields.some(([n, v]) => v === "leak" || n === "set-cookie")).toBe(false);
  const bodiless = a.method === "HEAD" || answer.status === 204 || answer.status === 304;
  expect(seen.body).toBe(bodiless ? "" : answer.body);
  expect(seen.trailers).toEqual(bodiless ? [] : kept(answer.trailers));
}

/** What the server must have received for `a`. */
function expectRequest(got: Received, run: number, index: number, a: Ask): void {
  const [requestLine, ...rest] = got.head.split("\r\n");
  expect(requestLine).toBe(`${a.method} /seq/${run}/${index} HTTP/1.1`);
  const headers = lines(rest.join("\r\n"));
  expect(ours(headers)).toEqual(a.fields);
  expect(headers.filter(([n]) => n === "host")).toEqual([["host", "shop"]]);
  expect(got.body.toString("latin1")).toBe(a.body);
  expect(lines(got.trailers)).toEqual(kept(a.trailers));
}

const cleanup: Cleanup = [];
const script = new Map<string, { answer: Answer; head: boolean }>();
let server: Awaited<ReturnType<typeof scriptedServer>>;
let running: RunningProxy;
let runs = 0;

beforeAll(async () => {
  server = await scriptedServer((got: Received, socket: Socket) => {
    const path = got.head.split(" ")[1]!;
    const entry = script.get(path);
    if (entry === undefined) return void socket.destroy();
    // In two writes, split at an arbitrary byte: parsers must not care.
    const bytes = answerBytes(entry.answer, entry.head);
    const cut = (path.length * 7) % (bytes.length + 1);
    socket.write(bytes.slice(0, cut), "latin1");
    setImmediate(() => socket.write(bytes.slice(cut), "latin1"));
  }, cleanup);
  running = await startProxy([{ id: "app1", port: server.port } as Backend], {
    HEALTH_INTER: "60s",
    HEALTH_TIMEOUT: "1s",
  });
});
afterAll(async () => {
  await running.stop();
  while (cleanup.length) await cleanup.pop()!();
});

function plan(asks: Ask[]): number {
  const run = ++runs;
  asks.forEach((a, i) =>
    script.set(`/seq/${run}/${i}`, { answer: a.answer, head: a.method === "HEAD" }),
  );
  return run;
}

/** Waits for the next whole answer on `talk` from `at`; resolves with it and where it ends. */
async function nextAnswer(talk: Conversation, at: number, head: boolean) {
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    const read = readAnswer(talk.text(), at, head);
    if (read) return read;
    await talk.more(deadline - Date.now());
  }
  throw new Error(`no whole answer in ${JSON.stringify(talk.text().slice(at))}`);
}

describe("sequences of messages on reused connections", () => {
  jest.setTimeout(120_000);
  it("pipelined on one client connection: each answer and request exactly its own", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(ask(1), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 4 }),
        async (asks, pieces) => {
          const run = plan(asks);
          const before = server.received.length;
          const bytes = asks.map((a, i) => requestBytes(run, i, a)).join("");
          const size = Math.ceil(bytes.length / pieces);
          const parts = Array.from({ length: pieces }, (_, i) =>
            bytes.slice(i * size, (i + 1) * size),
          );
          const talk = await converse(
            running.port,
            parts.map((p) => Buffer.from(p, "latin1")),
          );
          let at = 0;
          for (const a of asks) {
            const { seen, end } = await nextAnswer(talk, at, a.method === "HEAD");
            expectAnswer(seen, a);
            at = end;
          }
          talk.socket.destroy();
          const got = server.received.slice(before);
          expect(got).toHaveLength(asks.length);
          asks.forEach((a, i) => expectRequest(got[i]!, run, i, a));
        },
      ),
      { numRuns: 100, timeout: 4000 },
    );
  });

  it("one at a time from three clients on their own connections: the server connection is shared", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(ask(3), { minLength: 2, maxLength: 12 }), async (asks) => {
        const run = plan(asks);
        const before = server.received.length;
        const talks = await Promise.all(
          [1, 2, 3].map((n) => converse(running.port, [], { from: `127.19.0.${n}` })),
        );
        const read = [0, 0, 0];
        for (const [i, a] of asks.entries()) {
          const talk = talks[a.client]!;
          talk.socket.write(requestBytes(run, i, a), "latin1");
          const { seen, end } = await nextAnswer(talk, read[a.client]!, a.method === "HEAD");
          expectAnswer(seen, a);
          read[a.client] = end;
        }
        for (const talk of talks) talk.socket.destroy();
        const got = server.received.slice(before);
        expect(got).toHaveLength(asks.length);
        asks.forEach((a, i) => expectRequest(got[i]!, run, i, a));
        // One server connection carried them all.
        expect(new Set(got.map((g) => g.connection)).size).toBe(1);
      }),
      { numRuns: 100, timeout: 4000 },
    );
  });
});

// Connections: pipelining, keep-alive, HTTP/1.0 clients, servers that close,
// reset, stall, or send more than their answer, clients that leave
// (RFC 9112 9).

import { ABORT, END } from "../client.js";
import { CLOSE, RESET, STALL } from "../backend.js";
import type { Case } from "../types.js";
import { chunked, get, head, HOST, ok, okSpec, post, reached, response } from "./helpers.js";

const chunkedHead = head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked");
const TEN_FOLLOW_UP = (target: string) =>
  `GET ${target} HTTP/1.0\r\nHost: probe.test\r\nConnection: keep-alive\r\n\r\n`;

export const CONNECTIONS: Case[] = [
  // Pipelining (RFC 9112 9.3.2): answers in the order of the requests.
  {
    name: "pipelining: two GETs in one write get two answers in order",
    send: [get("/one") + get("/two")],
    methods: ["GET", "GET"],
    server: [[ok("first")], [ok("second")]],
    expect: {
      responses: [okSpec("first"), okSpec("second")],
      upstream: [reached("GET", "/one"), reached("GET", "/two")],
    },
  },
  {
    name: "pipelining: GET, POST with a body, GET",
    send: [get("/a") + post("/b", "body!") + get("/c")],
    methods: ["GET", "POST", "GET"],
    server: [[ok("A")], [ok("B")], [ok("C")]],
    expect: {
      responses: [okSpec("A"), okSpec("B"), okSpec("C")],
      upstream: [
        reached("GET", "/a"),
        reached("POST", "/b", { body: "body!" }),
        reached("GET", "/c"),
      ],
    },
  },
  {
    name: "pipelining: a slow first answer still comes first",
    send: [get("/slow") + get("/fast")],
    methods: ["GET", "GET"],
    server: [[{ wait: 200 }, ok("slow")], [ok("fast")]],
    expect: {
      responses: [okSpec("slow"), okSpec("fast")],
      upstream: [reached("GET", "/slow"), reached("GET", "/fast")],
    },
  },
  {
    name: "pipelining: HEAD then GET (the HEAD answer's length is not a body)",
    send: [head("HEAD /h HTTP/1.1", HOST) + get("/g")],
    methods: ["HEAD", "GET"],
    server: [[head("HTTP/1.1 200 OK", "Content-Length: 5")], [ok("gotten")]],
    expect: {
      responses: [{ status: 200, body: "", headers: { "content-length": "5" } }, okSpec("gotten")],
      upstream: [reached("HEAD", "/h"), reached("GET", "/g")],
    },
  },
  {
    name: "pipelining: a request with Connection: close is the last answered",
    send: [get("/last", "Connection: close") + get("/ignored")],
    methods: ["GET", "GET"],
    server: [[ok("last")], [ok("never")]],
    expect: {
      responses: [okSpec("last")],
      connection: "closed",
      upstream: [reached("GET", "/last")],
    },
  },
  {
    name: "pipelining: a malformed second request: the first is answered, then 400 and close",
    send: [get("/fine") + "GET /broken HTTP/1.1\r\nHost: case.test\r\nBad Header: x\r\n\r\n"],
    methods: ["GET", "GET"],
    server: [[ok("fine")]],
    expect: [
      {
        responses: [okSpec("fine"), { status: 400 }],
        connection: "closed",
        upstream: [reached("GET", "/fine")],
      },
      // The first answer cut short for the refusal is not acceptable; closing after the first answer is.
      { responses: [okSpec("fine")], connection: "closed", upstream: [reached("GET", "/fine")] },
    ],
  },
  {
    name: "pipelining: 20 requests in one write (more than stickyring queues) are all answered",
    send: [Array.from({ length: 20 }, (_, i) => get(`/p${i}`)).join("")],
    methods: Array(20).fill("GET"),
    server: Array.from({ length: 20 }, (_, i) => [ok(`r${i}`)]),
    expect: {
      responses: Array.from({ length: 20 }, (_, i) => okSpec(`r${i}`)),
      upstream: Array.from({ length: 20 }, (_, i) => reached("GET", `/p${i}`)),
    },
  },
  {
    name: "pipelining: a chunked answer with trailers, then the next request",
    send: [get("/t1") + get("/t2")],
    methods: ["GET", "GET"],
    server: [[chunkedHead + chunked("one", [3], "X-Digest: abc\r\n")], [ok("two")]],
    expect: {
      responses: [
        okSpec("one", { trailers: { "X-Digest": "abc" } }),
        okSpec("two", { headers: { "x-digest": null } }),
      ],
      upstream: [reached("GET", "/t1"), reached("GET", "/t2")],
    },
  },
  {
    name: "pipelining: after a close-delimited answer the next request is still answered or the connection closed cleanly",
    send: [get("/closing") + get("/after")],
    methods: ["GET", "GET"],
    server: [[head("HTTP/1.1 200 OK") + "until close", { wait: 30 }, CLOSE], [ok("after")]],
    expect: [
      {
        responses: [okSpec("until close"), okSpec("after")],
        upstream: [reached("GET", "/closing"), reached("GET", "/after")],
      },
      {
        responses: [okSpec("until close")],
        connection: "closed",
        upstream: [reached("GET", "/closing")],
      },
    ],
    differsFromHaproxy:
      "RFC 9112 6.3 (8): a close-delimited answer; stickyring re-frames it chunked and goes on with the next request, HAProxy relays it close-delimited and closes",
  },
  // Keep-alive
  {
    name: "keep-alive: three requests one after another on one connection",
    send: [get("/k1"), { wait: 50 }, get("/k2"), { wait: 50 }, get("/k3")],
    methods: ["GET", "GET", "GET"],
    server: [[ok("1")], [ok("2")], [ok("3")]],
    expect: {
      responses: [okSpec("1"), okSpec("2"), okSpec("3")],
      upstream: [reached("GET", "/k1"), reached("GET", "/k2"), reached("GET", "/k3")],
    },
  },
  {
    name: "keep-alive: the server closes after its answer (no Connection: close); the next client is served",
    send: [get("/then-close")],
    server: [[ok("bye"), { wait: 10 }, CLOSE]],
    expect: { responses: [okSpec("bye")], upstream: [reached("GET", "/then-close")] },
  },
  {
    name: "keep-alive: the server answers with Connection: close; client connection still usable",
    send: [get("/conn-close")],
    server: [[ok("closing", "Connection: close"), CLOSE]],
    expect: { responses: [okSpec("closing")], upstream: [reached("GET", "/conn-close")] },
  },
  {
    name: "keep-alive: the server's Keep-Alive: timeout=1 hint",
    send: [get("/ka-hint")],
    server: [[ok("hint", "Keep-Alive: timeout=1")]],
    expect: {
      responses: [okSpec("hint", { headers: { "keep-alive": null } })],
      upstream: [reached("GET", "/ka-hint")],
    },
    differsFromHaproxy:
      "RFC 9110 7.6.1: an intermediary SHOULD remove Keep-Alive; HAProxy 2.6 passes the server's on",
  },
  // More than the answer
  {
    name: "extra bytes: text after a complete answer never reaches another client",
    send: [get("/extra")],
    server: [[ok("ok") + "EXTRA-BYTES"]],
    expect: { responses: [okSpec("ok")], upstream: [reached("GET", "/extra")] },
  },
  {
    name: "extra bytes: a whole second response after the answer never becomes the next client's answer",
    send: [get("/split")],
    server: [[ok("mine") + response("200 OK", "evil!", "Set-Cookie: stolen=1")]],
    expect: { responses: [okSpec("mine")], upstream: [reached("GET", "/split")] },
  },
  {
    name: "extra bytes: a response sent 100 ms later on the idle connection never reaches anyone",
    send: [get("/late-extra")],
    probeDelayMs: 250,
    server: [[ok("now"), { wait: 100 }, response("200 OK", "late evil", "X-Late: 1")]],
    expect: { responses: [okSpec("now")], upstream: [reached("GET", "/late-extra")] },
  },
  {
    name: "extra bytes: a chunked answer followed by stray bytes",
    send: [get("/chunked-extra")],
    server: [
      [chunkedHead + chunked("body", [4]) + "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"],
    ],
    expect: { responses: [okSpec("body")], upstream: [reached("GET", "/chunked-extra")] },
  },
  // Servers that fail
  {
    name: "server failure: the server closes without answering: 502",
    send: [get("/close-now")],
    server: [[CLOSE]],
    expect: {
      responses: [{ status: 502 }],
      connection: "any",
      upstream: [reached("GET", "/close-now")],
    },
  },
  {
    name: "server failure: the server resets without answering: 502",
    send: [get("/reset-now")],
    server: [[RESET]],
    expect: {
      responses: [{ status: 502 }],
      connection: "any",
      upstream: [reached("GET", "/reset-now")],
    },
  },
  {
    name: "server failure: the server closes inside the head: 502",
    send: [get("/half-head")],
    server: [["HTTP/1.1 200 OK\r\nContent-Le", CLOSE]],
    expect: {
      responses: [{ status: 502 }],
      connection: "any",
      upstream: [reached("GET", "/half-head")],
    },
  },
  {
    name: "truncation: the server closes mid-body (Content-Length): the client's connection is cut",
    send: [get("/cut-cl")],
    server: [[head("HTTP/1.1 200 OK", "Content-Length: 100") + "only part", { wait: 30 }, CLOSE]],
    expect: {
      responses: [{ status: 200, body: "only part", complete: false }],
      connection: "cut",
      upstream: [reached("GET", "/cut-cl")],
    },
  },
  {
    name: "truncation: the server closes mid-chunk: the client's connection is cut",
    send: [get("/cut-chunk")],
    server: [[chunkedHead + "a\r\nhello", { wait: 30 }, CLOSE]],
    expect: {
      responses: [{ status: 200, complete: false }],
      connection: "cut",
      upstream: [reached("GET", "/cut-chunk")],
    },
  },
  {
    name: "truncation: the server closes before the last chunk: the client's connection is cut",
    send: [get("/cut-last")],
    server: [[chunkedHead + "5\r\nhello\r\n", { wait: 30 }, CLOSE]],
    expect: {
      responses: [{ status: 200, body: "hello", complete: false }],
      connection: "cut",
      upstream: [reached("GET", "/cut-last")],
    },
  },
  {
    name: "truncation: the server resets mid-body: the client's connection is cut",
    send: [get("/reset-mid")],
    server: [[head("HTTP/1.1 200 OK", "Content-Length: 100") + "some", { wait: 30 }, RESET]],
    expect: {
      responses: [{ status: 200, complete: false }],
      connection: "cut",
      upstream: [reached("GET", "/reset-mid")],
    },
  },
  {
    name: "truncation: the server closes inside the trailer section: the client's connection is cut",
    send: [get("/cut-trailer")],
    server: [[chunkedHead + "5\r\nhello\r\n0\r\nX-T: 1\r\n", { wait: 30 }, CLOSE]],
    expect: {
      responses: [{ status: 200, body: "hello", complete: false }],
      connection: "cut",
      upstream: [reached("GET", "/cut-trailer")],
    },
  },
  // Stalls (server timeout 2 s)
  {
    name: "stall: no answer at all: 504 at the server timeout",
    send: [get("/silent")],
    server: [[STALL]],
    waitMs: 4000,
    expect: {
      responses: [{ status: 504 }],
      connection: "any",
      upstream: [reached("GET", "/silent")],
    },
  },
  {
    name: "stall: head and part of the body, then nothing: the client has both at once, then a cut at the server timeout",
    send: [get("/part-then-stall")],
    server: [[head("HTTP/1.1 200 OK", "Content-Length: 10") + "hello", STALL]],
    waitMs: 4000,
    expect: {
      responses: [{ status: 200, body: "hello", complete: false, headWithinMs: 400 }],
      connection: "cut",
      closedWithinMs: [1500, 3500],
      upstream: [reached("GET", "/part-then-stall")],
    },
  },
  {
    name: "stall: chunks 300 ms apart (each within the server timeout) arrive whole, the head at once",
    send: [get("/drip")],
    server: [
      [
        chunkedHead,
        { wait: 300 },
        "3\r\none\r\n",
        { wait: 300 },
        "3\r\ntwo\r\n",
        { wait: 300 },
        "5\r\nthree\r\n0\r\n\r\n",
      ],
    ],
    expect: {
      responses: [okSpec("onetwothree", { headWithinMs: 250 })],
      upstream: [reached("GET", "/drip")],
    },
  },
  {
    name: "stall: the server takes 1 s to answer (within the server timeout)",
    send: [get("/slow-answer")],
    server: [[{ wait: 1000 }, ok("slowly")]],
    expect: { responses: [okSpec("slowly")], upstream: [reached("GET", "/slow-answer")] },
  },
  // Clients that leave
  {
    name: "client leaves: a reset mid-answer; the server connection is not reused half-read",
    send: [get("/client-reset"), { waitFor: "\r\n\r\n", ms: 1000 }, ABORT],
    server: [
      [head("HTTP/1.1 200 OK", "Content-Length: 20") + "first half", { wait: 1000 }, "second half"],
    ],
    expect: {
      responses: [{ status: 200, complete: false }],
      connection: "cut",
      upstream: [reached("GET", "/client-reset")],
    },
  },
  {
    name: "client leaves: a half-close after a whole request still gets the answer",
    send: [get("/half-close"), END],
    server: [[{ wait: 50 }, ok("still answered")]],
    expect: {
      responses: [okSpec("still answered")],
      connection: "closed",
      upstream: [reached("GET", "/half-close")],
    },
  },
  {
    name: "client: the head in 1-byte writes",
    send: get("/bytewise")
      .split("")
      .flatMap((ch) => [ch, { wait: 2 }]),
    server: [[ok("assembled")]],
    expect: { responses: [okSpec("assembled")], upstream: [reached("GET", "/bytewise")] },
  },
  // HTTP/1.0 clients (RFC 9112 9.3, Appendix C.2.2)
  {
    name: "HTTP/1.0: GET without keep-alive: answered, then closed",
    send: ["GET /ten HTTP/1.0\r\nHost: case.test\r\n\r\n"],
    server: [[ok("for ten")]],
    expect: {
      responses: [okSpec("for ten")],
      connection: "closed",
      upstream: [reached("GET", "/ten")],
    },
  },
  {
    name: "HTTP/1.0: keep-alive with a length: the connection stays open and is reused",
    send: ["GET /ten-ka HTTP/1.0\r\nHost: case.test\r\nConnection: keep-alive\r\n\r\n"],
    server: [[ok("kept")]],
    followUp: TEN_FOLLOW_UP,
    expect: {
      responses: [okSpec("kept", { headers: { connection: /keep-alive/i } })],
      upstream: [reached("GET", "/ten-ka")],
    },
  },
  {
    name: "HTTP/1.0: a chunked answer reaches a 1.0 client without chunked coding (RFC 9112 6.1)",
    send: ["GET /ten-chunked HTTP/1.0\r\nHost: case.test\r\n\r\n"],
    server: [[chunkedHead + chunked("dechunked", [3, 6])]],
    expect: {
      responses: [okSpec("dechunked", { headers: { "transfer-encoding": null } })],
      connection: "closed",
      upstream: [reached("GET", "/ten-chunked")],
    },
    differsFromHaproxy:
      "RFC 9112 6.1: Transfer-Encoding MUST NOT be sent to an HTTP/1.0 client; HAProxy 2.6 sends chunked",
  },
  {
    name: "HTTP/1.0: keep-alive and a chunked answer: no chunked coding to the 1.0 client",
    send: ["GET /ten-ka-chunked HTTP/1.0\r\nHost: case.test\r\nConnection: keep-alive\r\n\r\n"],
    server: [[chunkedHead + chunked("dechunked", [3, 6])]],
    followUp: TEN_FOLLOW_UP,
    expect: [
      {
        responses: [okSpec("dechunked", { headers: { "transfer-encoding": null } })],
        connection: "closed",
        upstream: [reached("GET", "/ten-ka-chunked")],
      },
      {
        responses: [okSpec("dechunked", { headers: { "transfer-encoding": null } })],
        connection: "open",
        upstream: [reached("GET", "/ten-ka-chunked")],
      },
    ],
    differsFromHaproxy:
      "RFC 9112 6.1: Transfer-Encoding MUST NOT be sent to an HTTP/1.0 client; HAProxy 2.6 sends chunked and keeps the connection",
  },
  {
    name: "HTTP/1.0: a POST with Content-Length",
    send: ["POST /ten-post HTTP/1.0\r\nHost: case.test\r\nContent-Length: 5\r\n\r\nhello"],
    methods: ["POST"],
    server: [[ok("posted")]],
    expect: {
      responses: [okSpec("posted")],
      connection: "closed",
      upstream: [reached("POST", "/ten-post", { body: "hello" })],
    },
  },
  {
    name: "HTTP/1.0: a close-delimited answer reaches the 1.0 client whole",
    send: ["GET /ten-eof HTTP/1.0\r\nHost: case.test\r\n\r\n"],
    server: [[head("HTTP/1.1 200 OK") + "to the end", { wait: 30 }, CLOSE]],
    expect: {
      responses: [okSpec("to the end")],
      connection: "closed",
      upstream: [reached("GET", "/ten-eof")],
    },
  },
  // Keep-alive reuse across clients is what every case's probes check; these make it explicit.
  {
    name: "reuse: a 404 with a body leaves the connection clean for the next client",
    send: [get("/missing")],
    server: [[response("404 Not Found", "not here", "Set-Cookie: seen=1")]],
    expect: {
      responses: [{ status: 404, body: "not here" }],
      upstream: [reached("GET", "/missing")],
    },
  },
  {
    name: "reuse: a request with a cookie and authorization leaves nothing for the next client",
    send: [get("/private", "Cookie: session=alice", "Authorization: Bearer alice-token")],
    server: [[ok("private", "Set-Cookie: session=alice; HttpOnly", "Cache-Control: private")]],
    expect: {
      responses: [okSpec("private", { headers: { "set-cookie": "session=alice; HttpOnly" } })],
      upstream: [
        reached("GET", "/private", {
          headers: { cookie: "session=alice", authorization: "Bearer alice-token" },
        }),
      ],
    },
  },
];

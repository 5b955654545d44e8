// Request bodies: Content-Length, chunked, both, duplicates, invalid
// lengths and chunk sizes, trailers, and the smuggling classics
// (RFC 9112 6, 7).

import { END } from "../client.js";
import { AWAIT_BODY } from "../backend.js";
import type { Case, Expect } from "../types.js";
import { chunked, head, HOST, ok, okSpec, post, reached, refused } from "./helpers.js";

const te = (value: string, body: string, ...fields: string[]) =>
  head("POST /te HTTP/1.1", HOST, `Transfer-Encoding: ${value}`, ...fields) + body;

/** Refused with 400 and closed; nothing reaches the server (or only a head the proxy then abandons). */
const badRequest = (status: number | number[] = 400): Expect[] => [
  refused(status),
  { responses: [{ status }], connection: "closed", upstream: [{ complete: false }] },
];

const body1k = "b".repeat(1024);
const STRICT_LENGTH =
  "RFC 9110 8.6 lets a recipient reject a repeated Content-Length as invalid or take it as one; stickyring's parser (llhttp strict, as node:http) rejects it, HAProxy takes it as one";
const big = Array.from({ length: 256 * 1024 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(
  "",
);

export const REQUEST_FRAMING: Case[] = [
  {
    name: "request body: Content-Length",
    send: [post("/cl", "hello=world", "Content-Type: application/x-www-form-urlencoded")],
    methods: ["POST"],
    expect: {
      responses: [okSpec()],
      upstream: [
        reached("POST", "/cl", {
          body: "hello=world",
          headers: { "content-type": "application/x-www-form-urlencoded" },
        }),
      ],
    },
  },
  {
    name: "request body: chunked, two chunks",
    send: [te("chunked", chunked("hello world", [5, 6]))],
    methods: ["POST"],
    expect: { responses: [okSpec()], upstream: [reached("POST", "/te", { body: "hello world" })] },
  },
  {
    name: "request body: chunk extensions, token and quoted-string values",
    send: [te("chunked", '5;name=value\r\nhello\r\n6;a="b;c"\r\n world\r\n0\r\n\r\n')],
    methods: ["POST"],
    expect: { responses: [okSpec()], upstream: [reached("POST", "/te", { body: "hello world" })] },
  },
  {
    name: "request body: chunk extensions with whitespace around ; and = (BWS, RFC 9112 7.1.1): read, or refused by a strict parser",
    send: [te("chunked", "5 ; name = value\r\nhello\r\n6 ;q\r\n world\r\n0\r\n\r\n")],
    methods: ["POST"],
    expect: [
      { responses: [okSpec()], upstream: [reached("POST", "/te", { body: "hello world" })] },
      ...badRequest(),
    ],
    differsFromHaproxy:
      "llhttp in strict mode (as node:http) refuses whitespace after a chunk size, where RFC 9112 7.1.1 allows it; stickyring keeps the strict parse (the size itself is never in doubt either way), HAProxy reads it",
  },
  {
    name: "request body: a 1000-byte chunk extension is allowed",
    send: [te("chunked", `5;ext=${"x".repeat(1000)}\r\nhello\r\n0\r\n\r\n`)],
    methods: ["POST"],
    expect: { responses: [okSpec()], upstream: [reached("POST", "/te", { body: "hello" })] },
  },
  {
    name: "request body: a 20 KB chunk extension is refused",
    send: [te("chunked", `5;ext=${"x".repeat(20_000)}\r\nhello\r\n0\r\n\r\n`)],
    methods: ["POST"],
    expect: badRequest([400, 413]),
  },
  {
    name: "request body: empty chunked body",
    send: [te("chunked", "0\r\n\r\n")],
    methods: ["POST"],
    expect: { responses: [okSpec()], upstream: [reached("POST", "/te", { body: "" })] },
  },
  {
    name: "request body: 300 one-byte chunks",
    send: [te("chunked", chunked("x".repeat(300), Array(300).fill(1)))],
    methods: ["POST"],
    expect: {
      responses: [okSpec()],
      upstream: [reached("POST", "/te", { body: "x".repeat(300) })],
    },
  },
  {
    name: "request body: chunk sizes with leading zeros and upper-case hex",
    send: [te("chunked", `0005\r\nhello\r\nA\r\n0123456789\r\n000\r\n\r\n`)],
    methods: ["POST"],
    expect: {
      responses: [okSpec()],
      upstream: [reached("POST", "/te", { body: "hello0123456789" })],
    },
  },
  {
    name: "request body: 256 KB with Content-Length",
    send: [post("/big", big)],
    methods: ["POST"],
    expect: { responses: [okSpec()], upstream: [reached("POST", "/big", { body: big })] },
  },
  {
    name: "request body: 256 KB chunked in 8 KB chunks",
    send: [te("chunked", chunked(big, Array(32).fill(8192)))],
    methods: ["POST"],
    expect: { responses: [okSpec()], upstream: [reached("POST", "/te", { body: big })] },
  },
  {
    name: "request body: a GET with a Content-Length body passes with it",
    send: [head("GET /get-body HTTP/1.1", HOST, "Content-Length: 4") + "body"],
    expect: { responses: [okSpec()], upstream: [reached("GET", "/get-body", { body: "body" })] },
  },
  {
    name: "request body: invalid chunk size zz is refused",
    send: [te("chunked", "zz\r\nhello\r\n0\r\n\r\n")],
    methods: ["POST"],
    expect: badRequest(),
  },
  {
    name: "request body: overflowing chunk size ffffffffffffffffffff is refused",
    send: [te("chunked", "ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n")],
    methods: ["POST"],
    expect: badRequest(),
  },
  {
    name: "request body: negative chunk size -5 is refused",
    send: [te("chunked", "-5\r\nhello\r\n0\r\n\r\n")],
    methods: ["POST"],
    expect: badRequest(),
  },
  {
    name: "request body: chunk size 0x5 is refused",
    send: [te("chunked", "0x5\r\nhello\r\n0\r\n\r\n")],
    methods: ["POST"],
    expect: badRequest(),
  },
  {
    name: "request body: chunk data longer than its size is refused",
    send: [te("chunked", "3\r\nhello\r\n0\r\n\r\n")],
    methods: ["POST"],
    expect: badRequest(),
  },
  {
    name: "request body: chunk data not followed by CRLF is refused",
    send: [te("chunked", "5\r\nhelloXX0\r\n\r\n")],
    methods: ["POST"],
    expect: badRequest(),
  },
  {
    name: "request body: a chunk size line ended by a bare LF is refused or read as a line end",
    send: [te("chunked", "5\nhello\r\n0\r\n\r\n")],
    methods: ["POST"],
    expect: [
      ...badRequest(),
      { responses: [okSpec()], upstream: [reached("POST", "/te", { body: "hello" })] },
    ],
    differsFromHaproxy:
      "RFC 9112 2.2 lets a recipient accept a bare LF as a line end or refuse it; stickyring's parser is strict",
  },
  {
    name: "smuggling CL.TE: Content-Length and Transfer-Encoding together are refused (the G never becomes a request)",
    send: [
      head("POST /clte HTTP/1.1", HOST, "Content-Length: 6", "Transfer-Encoding: chunked") +
        "0\r\n\r\nG",
    ],
    methods: ["POST"],
    expect: [
      refused(400),
      // RFC 9112 6.3: or Transfer-Encoding alone, Content-Length removed, and the connection closed after.
      {
        responses: [okSpec()],
        connection: "closed",
        upstream: [reached("POST", "/clte", { body: "", headers: { "content-length": null } })],
      },
    ],
    differsFromHaproxy:
      "RFC 9112 6.3 (3): a message with both ought to be handled as an error; stickyring refuses it, HAProxy drops Content-Length and forwards it chunked",
  },
  {
    name: "smuggling TE.CL: Transfer-Encoding and a short Content-Length together are refused",
    send: [
      head("POST /tecl HTTP/1.1", HOST, "Transfer-Encoding: chunked", "Content-Length: 3") +
        "8\r\nSMUGGLED\r\n0\r\n\r\n",
    ],
    methods: ["POST"],
    expect: [
      refused(400),
      {
        responses: [okSpec()],
        connection: "closed",
        upstream: [
          reached("POST", "/tecl", { body: "SMUGGLED", headers: { "content-length": null } }),
        ],
      },
    ],
    differsFromHaproxy:
      "RFC 9112 6.3 (3): a message with both ought to be handled as an error; stickyring refuses it, HAProxy drops Content-Length and forwards it chunked",
  },
  {
    name: "smuggling TE.TE: Transfer-Encoding: xchunked is refused (chunked is not the final coding)",
    send: [te("xchunked", "5\r\nhello\r\n0\r\n\r\n")],
    methods: ["POST"],
    expect: badRequest([400, 501]),
  },
  {
    name: "smuggling TE.TE: Transfer-Encoding: chunked, identity is refused (chunked is not the final coding)",
    send: [te("chunked, identity", "5\r\nhello\r\n0\r\n\r\n")],
    methods: ["POST"],
    expect: badRequest([400, 501]),
  },
  {
    name: "smuggling TE.TE: Transfer-Encoding: identity is refused",
    send: [te("identity", "5\r\nhello\r\n0\r\n\r\n")],
    methods: ["POST"],
    expect: badRequest([400, 501]),
  },
  {
    name: 'smuggling TE.TE: Transfer-Encoding: "chunked" (quoted) is refused',
    send: [te('"chunked"', "5\r\nhello\r\n0\r\n\r\n")],
    methods: ["POST"],
    expect: badRequest([400, 501]),
  },
  {
    name: "smuggling TE.TE: chunked given twice is refused (RFC 9112 7: chunked at most once)",
    send: [
      head("POST /te HTTP/1.1", HOST, "Transfer-Encoding: chunked", "Transfer-Encoding: chunked") +
        "5\r\nhello\r\n0\r\n\r\n",
    ],
    methods: ["POST"],
    expect: badRequest(),
  },
  {
    name: "smuggling TE.TE: Transfer-Encoding: x then Transfer-Encoding: chunked is refused (unknown coding)",
    send: [
      head("POST /te HTTP/1.1", HOST, "Transfer-Encoding: x", "Transfer-Encoding: chunked") +
        "5\r\nhello\r\n0\r\n\r\n",
    ],
    methods: ["POST"],
    expect: badRequest([400, 501]),
    differsFromHaproxy:
      "RFC 9112 6.1: 501 (SHOULD) for a transfer coding the server does not understand; HAProxy 2.6 answers 422",
  },
  {
    name: "smuggling TE.TE: Transfer-Encoding with two spaces before chunked is plain chunked (OWS)",
    send: [te(" chunked", "5\r\nhello\r\n0\r\n\r\n")],
    methods: ["POST"],
    expect: { responses: [okSpec()], upstream: [reached("POST", "/te", { body: "hello" })] },
  },
  {
    name: "smuggling TE.TE: Transfer-Encoding:<TAB>chunked is plain chunked (OWS)",
    send: [
      head("POST /te HTTP/1.1", HOST, "Transfer-Encoding:\tchunked") + "5\r\nhello\r\n0\r\n\r\n",
    ],
    methods: ["POST"],
    expect: { responses: [okSpec()], upstream: [reached("POST", "/te", { body: "hello" })] },
  },
  {
    name: "smuggling TE.TE: Transfer-Encoding: CHUNKED (coding names are case-insensitive)",
    send: [te("CHUNKED", "5\r\nhello\r\n0\r\n\r\n")],
    methods: ["POST"],
    expect: { responses: [okSpec()], upstream: [reached("POST", "/te", { body: "hello" })] },
  },
  {
    name: "smuggling TE.TE: 'Transfer-Encoding : chunked' (space before the colon) is refused (RFC 9112 5.1)",
    send: [
      head("POST /te HTTP/1.1", HOST, "Transfer-Encoding : chunked") + "5\r\nhello\r\n0\r\n\r\n",
    ],
    methods: ["POST"],
    expect: badRequest(),
  },
  {
    name: "smuggling TE.TE: Transfer-Encoding folded onto the line before (obs-fold) is refused",
    send: [
      head("POST /te HTTP/1.1", HOST, "X-Pad: a", " Transfer-Encoding: chunked") +
        "5\r\nhello\r\n0\r\n\r\n",
    ],
    methods: ["POST"],
    expect: badRequest(),
    differsFromHaproxy:
      "RFC 9112 5.2 allows refusing obs-fold or replacing it with spaces; HAProxy replaces it (X-Pad: a   Transfer-Encoding: chunked, no body), then refuses the body bytes as a next request with 400",
  },
  {
    name: "smuggling TE.TE: Transfer-Encoding after a bare-LF line is refused or read as its own field",
    send: [
      "POST /te HTTP/1.1\r\nHost: case.test\r\nX-Pad: a\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ],
    methods: ["POST"],
    expect: [
      ...badRequest(),
      {
        responses: [okSpec()],
        upstream: [reached("POST", "/te", { body: "hello", headers: { "x-pad": "a" } })],
      },
    ],
    differsFromHaproxy:
      "RFC 9112 2.2 lets a recipient accept a bare LF as a line end or refuse it; stickyring's parser is strict",
  },
  {
    name: "duplicate Content-Length with the same value is read as one (RFC 9112 6.3 (5))",
    send: [head("POST /dup HTTP/1.1", HOST, "Content-Length: 5", "Content-Length: 5") + "hello"],
    methods: ["POST"],
    expect: [
      {
        responses: [okSpec()],
        upstream: [reached("POST", "/dup", { body: "hello", headers: { "content-length": "5" } })],
      },
      ...badRequest(),
    ],
    differsFromHaproxy: STRICT_LENGTH,
  },
  {
    name: "Content-Length: 5, 5 (one line, same values) is read as 5 (RFC 9112 6.3 (5))",
    send: [head("POST /dup HTTP/1.1", HOST, "Content-Length: 5, 5") + "hello"],
    methods: ["POST"],
    expect: [
      {
        responses: [okSpec()],
        upstream: [reached("POST", "/dup", { body: "hello", headers: { "content-length": "5" } })],
      },
      ...badRequest(),
    ],
    differsFromHaproxy: STRICT_LENGTH,
  },
  {
    name: "conflicting Content-Length values are refused",
    send: [head("POST /dup HTTP/1.1", HOST, "Content-Length: 5", "Content-Length: 6") + "hello!"],
    methods: ["POST"],
    expect: badRequest(),
  },
  ...[
    ["-1", "negative"],
    ["+5", "signed"],
    ["5a", "trailing garbage"],
    ["0x5", "hexadecimal"],
    ["1e3", "exponent"],
    ["", "empty"],
    ["5 5", "two numbers"],
  ].map(([value, what]): Case => ({
    name: `invalid Content-Length (${what}: "${value}") is refused`,
    send: [head("POST /cl HTTP/1.1", HOST, `Content-Length: ${value}`) + "hello"],
    methods: ["POST"],
    expect: badRequest(),
  })),
  {
    name: "Content-Length beyond 64 bits (99999999999999999999) is refused",
    send: [head("POST /cl HTTP/1.1", HOST, "Content-Length: 99999999999999999999") + "hello"],
    methods: ["POST"],
    expect: badRequest([400, 413]),
  },
  {
    name: "Content-Length with surrounding whitespace (OWS) is valid",
    send: [head("POST /cl HTTP/1.1", HOST, "Content-Length:   5  ") + "hello"],
    methods: ["POST"],
    expect: { responses: [okSpec()], upstream: [reached("POST", "/cl", { body: "hello" })] },
  },
  {
    name: "request trailers are passed on as trailers or dropped, never as headers",
    send: [te("chunked", chunked("hello", [5], "X-Trailer-Sum: 42\r\n"), "Trailer: X-Trailer-Sum")],
    methods: ["POST"],
    expect: {
      responses: [okSpec()],
      upstream: [reached("POST", "/te", { body: "hello", trailers: { "X-Trailer-Sum": "42" } })],
    },
  },
  {
    name: "request trailers Transfer-Encoding and Host change nothing (or the request is refused)",
    send: [
      te("chunked", chunked("hello", [5], "Transfer-Encoding: gzip\r\nHost: evil.example\r\n")),
    ],
    methods: ["POST"],
    expect: [
      {
        responses: [okSpec()],
        upstream: [
          reached("POST", "/te", {
            body: "hello",
            headers: { host: "case.test" },
            trailers: { "Transfer-Encoding": "gzip", Host: "evil.example" },
          }),
        ],
      },
      ...badRequest(),
    ],
    differsFromHaproxy:
      "RFC 9110 6.5.1: framing fields do not belong in trailers; HAProxy 2.6 refuses the whole message, stickyring may pass the body on with the field kept as a trailer or dropped",
  },
  {
    name: "a client that half-closes mid-body: the server never gets a whole request",
    send: [head("POST /half HTTP/1.1", HOST, "Content-Length: 10") + "hello", { wait: 50 }, END],
    methods: ["POST"],
    expect: [
      {
        responses: [],
        connection: "closed",
        upstream: [{ method: "POST", target: "/half", complete: false }],
      },
      { responses: [], connection: "closed", upstream: [] },
      {
        responses: [{ status: 400 }],
        connection: "closed",
        upstream: [{ method: "POST", target: "/half", complete: false }],
      },
    ],
  },
  {
    name: "request body: 1 KB in eight 128-byte writes",
    send: [
      head("POST /slow HTTP/1.1", HOST, "Content-Length: 1024"),
      ...Array.from({ length: 8 }, () => [body1k.slice(0, 128), { wait: 10 }]).flat(),
    ],
    methods: ["POST"],
    expect: {
      responses: [okSpec()],
      upstream: [reached("POST", "/slow", { body: body1k.slice(0, 128).repeat(8) })],
    },
  },
  {
    name: "request body: the server answers at the head, before the body came; the client's connection stays usable",
    send: [head("POST /early HTTP/1.1", HOST, "Content-Length: 5"), { wait: 150 }, "hello"],
    methods: ["POST"],
    server: [{ on: "head", steps: [ok("early"), AWAIT_BODY] }],
    expect: {
      responses: [okSpec("early")],
      upstream: [{ method: "POST", target: "/early", complete: "any" }],
    },
    differsFromHaproxy:
      "the server answered before the body: stickyring drops the rest of the body and closes that server connection, HAProxy still sends the body on; both leave every connection in a known state",
  },
  {
    name: "request body: a POST with neither length nor chunked has no body",
    send: [head("POST /nobody HTTP/1.1", HOST)],
    methods: ["POST"],
    server: [[ok()]],
    expect: { responses: [okSpec()], upstream: [reached("POST", "/nobody", { body: "" })] },
  },
  {
    name: "request body: PATCH with a chunked body",
    send: [
      head("PATCH /doc HTTP/1.1", HOST, "Transfer-Encoding: chunked") + chunked("patch", [2, 3]),
    ],
    methods: ["PATCH"],
    server: [[ok()]],
    expect: { responses: [okSpec()], upstream: [reached("PATCH", "/doc", { body: "patch" })] },
  },
  {
    name: "request body: HTTP/1.0 with Transfer-Encoding: refused, or processed and the connection closed (RFC 9112 6.1)",
    send: [
      "POST /te10 HTTP/1.0\r\nHost: case.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ],
    methods: ["POST"],
    expect: [
      ...badRequest(),
      {
        responses: [okSpec()],
        connection: "closed",
        upstream: [reached("POST", "/te10", { body: "hello" })],
      },
    ],
  },
  {
    name: "request body: Content-Length is passed on as sent",
    send: [post("/exact", "12345")],
    methods: ["POST"],
    server: [[ok("done")]],
    expect: {
      responses: [okSpec("done")],
      upstream: [reached("POST", "/exact", { body: "12345", headers: { "content-length": "5" } })],
    },
  },
];

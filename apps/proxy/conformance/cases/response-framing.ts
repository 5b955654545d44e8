// Response bodies and heads from the server: lengths, chunked, close-delimited,
// invalid framing (502), trailers, bodiless statuses (HEAD, 204, 304),
// status lines and header fields (RFC 9112 4-7, RFC 9110 6, 8.6, 15).

import { CLOSE } from "../backend.js";
import type { Case, Expect, ResponseSpec } from "../types.js";
import { chunked, get, head, HOST, ok, okSpec, reached, response } from "./helpers.js";

const chunkedHead = (...fields: string[]) =>
  head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", ...fields);

/** The client gets `spec` for GET `target`, answered with `answer` steps. */
const relays = (
  name: string,
  target: string,
  answer: Case["server"],
  spec: ResponseSpec,
  more: Partial<Expect> = {},
): Case => ({
  name,
  send: [get(target)],
  server: answer,
  expect: { responses: [spec], upstream: [reached("GET", target)], ...more },
});

/**
 * The response turns invalid after body bytes that came in the same read:
 * 502 (the proxy read the whole read before relaying), or its head and the
 * body up to the error and then a cut connection (the proxy relays as it reads).
 */
const badMidBody = (name: string, target: string, answer: string, body: string): Case => ({
  name,
  send: [get(target)],
  server: [[answer]],
  expect: [
    { responses: [{ status: 502 }], connection: "any", upstream: [reached("GET", target)] },
    {
      responses: [{ status: 200, body, complete: false }],
      connection: "cut",
      upstream: [reached("GET", target)],
    },
  ],
  differsFromHaproxy:
    "an error after body bytes of the same read: HAProxy parses the whole read and answers 502, stickyring relays the bytes before the error as it reads them and can then only cut (both keep the client from taking a broken body for a whole one)",
});

/** The response is invalid: the client gets 502 and nothing of it. */
const badGateway = (name: string, target: string, answer: string, note?: string): Case => ({
  name,
  send: [get(target)],
  server: [[answer]],
  expect: { responses: [{ status: 502 }], connection: "any", upstream: [reached("GET", target)] },
  ...(note === undefined ? {} : { differsFromHaproxy: note }),
});

const big = Array.from({ length: 256 * 1024 }, (_, i) => String.fromCharCode(65 + (i % 26))).join(
  "",
);
const STRICT_LENGTH =
  "RFC 9110 8.6 lets a recipient reject a repeated Content-Length as invalid or take it as one; stickyring's parser (llhttp strict, as node:http) rejects it, HAProxy takes it as one";
const BARE_LF =
  "RFC 9112 2.2 lets a recipient accept a bare LF as a line end or refuse it; stickyring's parser is strict";

export const RESPONSE_FRAMING: Case[] = [
  relays("response body: Content-Length", "/cl", [[ok("hello world")]], okSpec("hello world")),
  relays(
    "response body: chunked",
    "/chunked",
    [[chunkedHead() + chunked("hello world", [5, 6])]],
    okSpec("hello world"),
  ),
  relays(
    "response body: chunk extensions",
    "/ext",
    [[chunkedHead() + '5;a=b\r\nhello\r\n6;q="x;y"\r\n world\r\n0;end\r\n\r\n']],
    okSpec("hello world"),
  ),
  relays(
    "response body: 300 one-byte chunks",
    "/tiny-chunks",
    [[chunkedHead() + chunked("y".repeat(300), Array(300).fill(1))]],
    okSpec("y".repeat(300)),
  ),
  relays(
    "response body: empty chunked body",
    "/empty-chunked",
    [[chunkedHead() + "0\r\n\r\n"]],
    okSpec(""),
  ),
  relays("response body: Content-Length: 0", "/cl0", [[ok("")]], okSpec("")),
  relays(
    "response body: chunk sizes with leading zeros and upper-case hex",
    "/hex",
    [[chunkedHead() + "0005\r\nhello\r\nA\r\n0123456789\r\n0000\r\n\r\n"]],
    okSpec("hello0123456789"),
  ),
  relays("response body: 256 KB with Content-Length", "/big", [[ok(big)]], okSpec(big)),
  relays(
    "response body: 256 KB chunked in 16 KB chunks",
    "/big-chunked",
    [[chunkedHead() + chunked(big, Array(16).fill(16384))]],
    okSpec(big),
  ),
  relays(
    "response body: Content-Length body in three writes 50 ms apart",
    "/three-writes",
    [
      [
        head("HTTP/1.1 200 OK", "Content-Length: 15"),
        { wait: 50 },
        "hello",
        { wait: 50 },
        "there",
        { wait: 50 },
        "world",
      ],
    ],
    okSpec("hellothereworld"),
  ),
  relays(
    "response body: close-delimited (no length, the server closes) arrives whole",
    "/until-close",
    [[head("HTTP/1.1 200 OK", "Content-Type: text/plain") + "all of it", { wait: 30 }, CLOSE]],
    okSpec("all of it", { headers: { "content-type": "text/plain" } }),
    { connection: "any" },
  ),
  relays(
    "response body: an HTTP/1.0 server's close-delimited body arrives whole",
    "/ten-close",
    [["HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfrom 1.0", { wait: 30 }, CLOSE]],
    okSpec("from 1.0"),
    { connection: "any" },
  ),
  relays(
    "response: an HTTP/1.0 server's keep-alive answer with a length",
    "/ten-ka",
    [["HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nten"]],
    okSpec("ten"),
  ),
  {
    name: "response framing: Content-Length and Transfer-Encoding together: 502, or chunked with the length removed (RFC 9112 6.3 (3))",
    send: [get("/both")],
    server: [
      [
        head("HTTP/1.1 200 OK", "Content-Length: 3", "Transfer-Encoding: chunked") +
          chunked("hello", [5]),
      ],
    ],
    expect: [
      { responses: [{ status: 502 }], connection: "any", upstream: [reached("GET", "/both")] },
      {
        responses: [okSpec("hello", { headers: { "content-length": /^5$|^$/ } })],
        upstream: [reached("GET", "/both")],
      },
    ],
    differsFromHaproxy:
      "RFC 9112 6.3 (3): such a message ought to be handled as an error; stickyring refuses it (502), HAProxy removes Content-Length and relays it chunked",
  },
  badGateway(
    "response framing: the same Content-Length twice: 502 (RFC 9110 8.6 lets a recipient reject it)",
    "/dup-cl",
    head("HTTP/1.1 200 OK", "Content-Length: 5", "Content-Length: 5") + "hello",
    STRICT_LENGTH,
  ),
  badGateway(
    "response framing: Content-Length: 5, 5: 502 (RFC 9110 8.6 lets a recipient reject it)",
    "/list-cl",
    head("HTTP/1.1 200 OK", "Content-Length: 5, 5") + "hello",
    STRICT_LENGTH,
  ),
  badGateway(
    "response framing: conflicting Content-Length values give 502",
    "/conflict",
    head("HTTP/1.1 200 OK", "Content-Length: 5", "Content-Length: 6") + "hello!",
  ),
  badGateway(
    "response framing: Content-Length abc gives 502",
    "/cl-abc",
    head("HTTP/1.1 200 OK", "Content-Length: abc") + "hello",
  ),
  badGateway(
    "response framing: Content-Length -1 gives 502",
    "/cl-neg",
    head("HTTP/1.1 200 OK", "Content-Length: -1") + "hello",
  ),
  badGateway(
    "response framing: Content-Length +5 gives 502",
    "/cl-plus",
    head("HTTP/1.1 200 OK", "Content-Length: +5") + "hello",
  ),
  badGateway(
    "response framing: chunk size -1 gives 502",
    "/chunk-neg",
    chunkedHead() + "-1\r\nhello\r\n0\r\n\r\n",
  ),
  badMidBody(
    "response framing: chunk data longer than its size: 502, or cut after the valid bytes",
    "/chunk-long",
    chunkedHead() + "3\r\nhello\r\n0\r\n\r\n",
    "hel",
  ),
  badMidBody(
    "response framing: chunk data without its CRLF: 502, or cut after the valid bytes",
    "/chunk-nocrlf",
    chunkedHead() + "5\r\nhelloXX0\r\n\r\n",
    "hello",
  ),
  badGateway(
    "response framing: Transfer-Encoding: xchunked gives 502",
    "/xchunked",
    head("HTTP/1.1 200 OK", "Transfer-Encoding: xchunked") + chunked("hello", [5]),
  ),
  badGateway(
    "response framing: chunked given twice gives 502 (RFC 9112 7: chunked at most once)",
    "/chunked-twice",
    head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked") +
      chunked("hello", [5]),
  ),
  {
    name: "response framing: Transfer-Encoding: chunked, gzip (not chunked-final) is not passed on as plain",
    send: [get("/chunked-gzip")],
    server: [
      [
        head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked, gzip") + "\x1f\x8b\x08\x00zz",
        { wait: 20 },
        CLOSE,
      ],
    ],
    expect: {
      responses: [{ status: 502 }],
      connection: "any",
      upstream: [reached("GET", "/chunked-gzip")],
    },
    differsFromHaproxy:
      "RFC 9112 6.1: the proxy cannot decode gzip; HAProxy relays the coded body with its Transfer-Encoding",
  },
  relays(
    "response framing: Transfer-Encoding: CHUNKED (case-insensitive)",
    "/upper-chunked",
    [[head("HTTP/1.1 200 OK", "Transfer-Encoding: CHUNKED") + chunked("hello", [5])]],
    okSpec("hello"),
  ),
  {
    name: "response framing: a chunk size line ended by a bare LF: 502 or read as a line end",
    send: [get("/lf-chunk")],
    server: [[chunkedHead() + "5\nhello\r\n0\r\n\r\n"]],
    expect: [
      { responses: [{ status: 502 }], connection: "any", upstream: [reached("GET", "/lf-chunk")] },
      { responses: [okSpec("hello")], upstream: [reached("GET", "/lf-chunk")] },
    ],
    differsFromHaproxy: BARE_LF,
  },
  {
    name: "response framing: an invalid chunk size after the first chunk cuts the client's connection",
    send: [get("/bad-later")],
    server: [[chunkedHead() + "5\r\nhello\r\n", { wait: 100 }, "zz\r\nmore\r\n0\r\n\r\n"]],
    expect: {
      responses: [{ status: 200, body: "hello", complete: false }],
      connection: "cut",
      upstream: [reached("GET", "/bad-later")],
    },
  },
  {
    name: "response framing: an invalid chunk size right after a head sent alone: head relayed, then cut",
    send: [get("/bad-after-head")],
    server: [[chunkedHead(), { wait: 100 }, "zz\r\nhello\r\n0\r\n\r\n"]],
    expect: [
      {
        responses: [{ status: 200, body: "", complete: false }],
        connection: "cut",
        upstream: [reached("GET", "/bad-after-head")],
      },
      {
        responses: [{ status: 502 }],
        connection: "any",
        upstream: [reached("GET", "/bad-after-head")],
      },
    ],
  },
  // Trailers (RFC 9110 6.5, RFC 9112 7.1.2)
  relays(
    "response trailers: passed on as trailers or dropped, never as headers",
    "/trailers",
    [[chunkedHead("Trailer: X-Checksum") + chunked("hello", [5], "X-Checksum: 1234\r\n")]],
    okSpec("hello", { trailers: { "X-Checksum": "1234" }, headers: { "x-checksum": null } }),
  ),
  {
    name: "response trailers: a Transfer-Encoding trailer changes nothing (or the response gives 502)",
    send: [get("/te-trailer")],
    server: [[chunkedHead() + chunked("hello", [5], "Transfer-Encoding: gzip\r\n")]],
    expect: [
      {
        responses: [okSpec("hello", { trailers: { "Transfer-Encoding": "gzip" } })],
        upstream: [reached("GET", "/te-trailer")],
      },
      {
        responses: [{ status: 502 }],
        connection: "any",
        upstream: [reached("GET", "/te-trailer")],
      },
    ],
    differsFromHaproxy:
      "RFC 9110 6.5.1: framing fields do not belong in trailers; HAProxy 2.6 refuses the whole message, stickyring may pass the body on with the field kept as a trailer or dropped",
  },
  relays(
    "response trailers: many trailer fields",
    "/many-trailers",
    [
      [
        chunkedHead() +
          chunked("hello", [5], Array.from({ length: 20 }, (_, i) => `X-T${i}: ${i}\r\n`).join("")),
      ],
    ],
    okSpec("hello", {
      trailers: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`X-T${i}`, String(i)])),
    }),
  ),
  // Bodiless responses (RFC 9110 6.4.1, 8.6; RFC 9112 6.3 (1))
  relays(
    "204: no body and no Content-Length",
    "/204",
    [[head("HTTP/1.1 204 No Content", "X-A: 1")]],
    {
      status: 204,
      body: "",
      headers: { "x-a": "1", "content-length": null, "transfer-encoding": null },
    },
  ),
  relays(
    "204 with Transfer-Encoding: chunked: neither a body nor Transfer-Encoding is forwarded",
    "/204-te",
    [[head("HTTP/1.1 204 No Content", "Transfer-Encoding: chunked")]],
    { status: 204, body: "", headers: { "content-length": null, "transfer-encoding": null } },
  ),
  relays(
    "304 with Content-Length: no body follows, the length may stay (RFC 9110 8.6)",
    "/304",
    [[head("HTTP/1.1 304 Not Modified", "Content-Length: 100", 'ETag: "v1"')]],
    { status: 304, body: "", headers: { etag: '"v1"', "content-length": /^(100)?$/ } },
  ),
  relays(
    "304 with Transfer-Encoding: chunked: no body follows",
    "/304-te",
    [[head("HTTP/1.1 304 Not Modified", "Transfer-Encoding: chunked", 'ETag: "v2"')]],
    { status: 304, body: "", headers: { etag: '"v2"' } },
  ),
  relays(
    "304 followed by stray body bytes: the bytes go to nobody",
    "/304-bytes",
    [[head("HTTP/1.1 304 Not Modified", "Content-Length: 5") + "hello"]],
    { status: 304, body: "" },
  ),
  {
    name: "HEAD: Content-Length is passed on, no body follows",
    send: [head("HEAD /head HTTP/1.1", HOST)],
    methods: ["HEAD"],
    server: [[head("HTTP/1.1 200 OK", "Content-Length: 1000", "Content-Type: text/html")]],
    expect: {
      responses: [
        {
          status: 200,
          body: "",
          headers: { "content-length": "1000", "content-type": "text/html" },
        },
      ],
      upstream: [reached("HEAD", "/head")],
    },
  },
  {
    name: "HEAD: a chunked head, no body follows",
    send: [head("HEAD /head-chunked HTTP/1.1", HOST)],
    methods: ["HEAD"],
    server: [[chunkedHead()]],
    expect: {
      responses: [{ status: 200, body: "" }],
      upstream: [reached("HEAD", "/head-chunked")],
    },
  },
  {
    name: "HEAD: an answer with no length at all is complete at its head",
    send: [head("HEAD /head-nolength HTTP/1.1", HOST)],
    methods: ["HEAD"],
    server: [[head("HTTP/1.1 200 OK", "Content-Type: text/plain")]],
    expect: {
      responses: [{ status: 200, body: "", headWithinMs: 1000 }],
      upstream: [reached("HEAD", "/head-nolength")],
    },
  },
  {
    name: "HEAD: body bytes the server wrongly sends after the head go to nobody",
    send: [head("HEAD /head-body HTTP/1.1", HOST)],
    methods: ["HEAD"],
    server: [[head("HTTP/1.1 200 OK", "Content-Length: 5") + "hello"]],
    expect: {
      responses: [{ status: 200, body: "", headers: { "content-length": "5" } }],
      upstream: [reached("HEAD", "/head-body")],
    },
  },
  // Status lines (RFC 9112 4)
  relays(
    "status line: no reason phrase and no space (HTTP/1.1 200)",
    "/no-reason",
    [["HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok"]],
    okSpec(),
  ),
  relays(
    "status line: an empty reason phrase (HTTP/1.1 200 )",
    "/empty-reason",
    [["HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok"]],
    okSpec(),
  ),
  relays(
    "status line: a reason phrase with obs-text",
    "/obs-reason",
    [["HTTP/1.1 200 \xc7a va\r\nContent-Length: 2\r\n\r\nok"]],
    okSpec(),
  ),
  relays(
    "status line: an unregistered status 299 is passed on",
    "/299",
    [[response("299 Whatever", "ok")]],
    { status: 299, body: "ok" },
  ),
  relays(
    "status line: a 418 from the server is passed on with its body",
    "/418",
    [[response("418 I'm a teapot", "short and stout")]],
    { status: 418, body: "short and stout" },
  ),
  relays(
    "status line: a 503 from the server is passed on with its body",
    "/503",
    [[response("503 Service Unavailable", "busy", "Retry-After: 5")]],
    { status: 503, body: "busy", headers: { "retry-after": "5" } },
  ),
  {
    name: "status line: status 600 (outside 100-599, RFC 9110 15): 502, or passed on for the client to treat as 5xx",
    send: [get("/600")],
    server: [["HTTP/1.1 600 Beyond\r\nContent-Length: 2\r\n\r\nok"]],
    expect: [
      { responses: [{ status: 502 }], connection: "any", upstream: [reached("GET", "/600")] },
      { responses: [{ status: 600, body: "ok" }], upstream: [reached("GET", "/600")] },
    ],
    differsFromHaproxy:
      "RFC 9110 15: values outside 100-599 are invalid and a client SHOULD treat them as 5xx; stickyring answers 502 itself, HAProxy passes 600 on",
  },
  {
    ...badGateway(
      "status line: a two-digit status gives 502",
      "/20",
      "HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok",
    ),
    differsFromHaproxy:
      "RFC 9112 4: status-code = 3DIGIT; HAProxy 2.6 passes the broken status line on",
  },
  {
    name: "status line: HTTP/2.0 in an HTTP/1 status line: 502, or read as HTTP/1.1",
    send: [get("/h2-status")],
    server: [["HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok"]],
    expect: [
      { responses: [{ status: 502 }], connection: "any", upstream: [reached("GET", "/h2-status")] },
      { responses: [okSpec()], upstream: [reached("GET", "/h2-status")] },
    ],
  },
  badGateway("status line: not HTTP at all gives 502", "/garbage", "SSH-2.0-OpenSSH_9.2\r\n\r\n"),
  // Response header fields
  {
    name: "response header: bare LF line ends: 502 or read as CRLF (RFC 9112 2.2)",
    send: [get("/lf-head")],
    server: [["HTTP/1.1 200 OK\nContent-Length: 2\nX-A: 1\n\nok"]],
    expect: [
      { responses: [{ status: 502 }], connection: "any", upstream: [reached("GET", "/lf-head")] },
      {
        responses: [okSpec("ok", { headers: { "x-a": "1" } })],
        upstream: [reached("GET", "/lf-head")],
      },
    ],
    differsFromHaproxy: BARE_LF,
  },
  {
    name: "response header: obs-fold gives 502 or becomes spaces (RFC 9112 5.2)",
    send: [get("/fold")],
    server: [[head("HTTP/1.1 200 OK", "Content-Length: 2", "X-Fold: a", " b") + "ok"]],
    expect: [
      { responses: [{ status: 502 }], connection: "any", upstream: [reached("GET", "/fold")] },
      {
        responses: [okSpec("ok", { headers: { "x-fold": /^a +b$/ } })],
        upstream: [reached("GET", "/fold")],
      },
    ],
    differsFromHaproxy:
      "RFC 9112 5.2 lets a proxy answer 502 to obs-fold or replace it with spaces; stickyring answers 502, HAProxy replaces",
  },
  {
    name: "response header: a space before the colon gives 502 or is removed (RFC 9112 5.1)",
    send: [get("/space-colon")],
    server: [[head("HTTP/1.1 200 OK", "Content-Length: 2", "X-Foo : bar") + "ok"]],
    expect: [
      {
        responses: [{ status: 502 }],
        connection: "any",
        upstream: [reached("GET", "/space-colon")],
      },
      {
        responses: [okSpec("ok", { headers: { "x-foo": "bar" } })],
        upstream: [reached("GET", "/space-colon")],
      },
    ],
  },
  badGateway(
    "response header: a space inside a field name gives 502",
    "/space-name",
    head("HTTP/1.1 200 OK", "Content-Length: 2", "X Foo: bar") + "ok",
  ),
  {
    ...badGateway(
      "response header: a NUL in a value gives 502",
      "/nul-value",
      head("HTTP/1.1 200 OK", "Content-Length: 2", "X-Foo: a\x00b") + "ok",
    ),
    differsFromHaproxy:
      "RFC 9110 5.5: a NUL in a field value MUST be refused or replaced by SP; HAProxy 2.6 passes it on",
  },
  badGateway(
    "response header: a line without a colon gives 502",
    "/no-colon",
    head("HTTP/1.1 200 OK", "Content-Length: 2", "X-Foo bar") + "ok",
  ),
  relays(
    "response header: one 8 KB field is passed on",
    "/big-field",
    [[ok("ok", `X-Big: ${"w".repeat(8192)}`)]],
    okSpec("ok", { headers: { "x-big": "w".repeat(8192) } }),
  ),
  badGateway(
    "response header: a 20 KB field gives 502",
    "/huge-field",
    ok("ok", `X-Huge: ${"w".repeat(20_000)}`),
  ),
  relays(
    "response header: two Set-Cookie fields stay two fields",
    "/cookies",
    [[ok("ok", "Set-Cookie: a=1; Path=/", "Set-Cookie: b=2; Path=/")]],
    okSpec("ok"),
    {
      check: (o) => {
        const cookies =
          o.read.responses[0]?.fields
            .filter(([n]) => n.toLowerCase() === "set-cookie")
            .map(([, v]) => v) ?? [];
        return cookies.length === 2 && cookies[0] === "a=1; Path=/" && cookies[1] === "b=2; Path=/"
          ? []
          : [
              `expected two Set-Cookie fields "a=1; Path=/" and "b=2; Path=/", got ${JSON.stringify(cookies)}`,
            ];
      },
    },
  ),
  {
    ...relays(
      "response header: fields named by Connection are not passed on",
      "/resp-conn",
      [[ok("ok", "Connection: X-Internal", "X-Internal: secret", "X-Public: yes")]],
      okSpec("ok", { headers: { "x-internal": null, "x-public": "yes" } }),
    ),
    differsFromHaproxy:
      "RFC 9110 7.6.1: an intermediary MUST remove the fields a Connection header names; HAProxy 2.6 passes them on",
  },
  {
    ...relays(
      "response header: Keep-Alive is not passed on",
      "/resp-ka",
      [[ok("ok", "Keep-Alive: timeout=5, max=100")]],
      okSpec("ok", { headers: { "keep-alive": null } }),
    ),
    differsFromHaproxy:
      "RFC 9110 7.6.1: an intermediary SHOULD remove Keep-Alive; HAProxy 2.6 passes the server's on",
  },
  relays(
    "response header: obs-text in a value is passed on",
    "/obs-text",
    [[ok("ok", "X-Name: Andr\xe9")]],
    okSpec("ok", { headers: { "x-name": "Andr\xe9" } }),
  ),
  relays(
    "response header: 90 fields are all passed on",
    "/many-fields",
    [[ok("ok", ...Array.from({ length: 90 }, (_, i) => `X-R${i}: ${i}`))]],
    okSpec("ok", { headers: { "x-r0": "0", "x-r89": "89" } }),
  ),
  relays(
    "response: Content-Length: 0 then stray bytes: the bytes go to nobody",
    "/cl0-bytes",
    [[ok("") + "STRAY"]],
    okSpec(""),
  ),
  {
    name: "response: a POST's answer with a body is passed on",
    send: [head("POST /form HTTP/1.1", HOST, "Content-Length: 3") + "a=1"],
    methods: ["POST"],
    server: [[response("201 Created", "made", "Location: /form/1")]],
    expect: {
      responses: [{ status: 201, body: "made", headers: { location: "/form/1" } }],
      upstream: [reached("POST", "/form", { body: "a=1" })],
    },
  },
];

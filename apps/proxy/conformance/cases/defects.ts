// The defects of the bug report, each as one or more cases.

import { STALL } from "../backend.js";
import type { Case } from "../types.js";
import { absolute, chunked, get, head, HOST, ok, okSpec, reached, response } from "./helpers.js";

const ALICE = "Set-Cookie: session=alice-secret\r\nX-User: alice\r\n";
const aliceTrailers = { "Set-Cookie": "session=alice-secret", "X-User": "alice" };
const chunkedHead = head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked");
const TRAILER_LENGTH =
  "RFC 9110 6.5.1: framing fields must not be sent in trailers; llhttp (strict, as node:http) reads a Content-Length there as a second framing field and refuses the message, and stickyring keeps that strictness rather than pass on a message whose framing is in doubt; HAProxy drops the field and passes the message on";

export const DEFECTS: Case[] = [
  {
    name: "defect 1: response trailers (Set-Cookie, X-User) never reach the next client on the reused server connection",
    send: [get("/account")],
    server: [[chunkedHead + chunked("hello", [5], ALICE)]],
    expect: {
      responses: [
        okSpec("hello", {
          trailers: aliceTrailers,
          headers: { "set-cookie": null, "x-user": null },
        }),
      ],
      upstream: [reached("GET", "/account")],
    },
  },
  {
    name: "defect 1: response trailers never reach the next pipelined response",
    send: [get("/account") + get("/next")],
    methods: ["GET", "GET"],
    server: [[chunkedHead + chunked("hello", [5], ALICE)], [ok("next")]],
    expect: {
      responses: [
        okSpec("hello", { trailers: aliceTrailers }),
        okSpec("next", { headers: { "set-cookie": null, "x-user": null } }),
      ],
      upstream: [reached("GET", "/account"), reached("GET", "/next")],
    },
  },
  {
    name: "defect 1: response trailers in their own write never reach the next client",
    send: [get("/account")],
    server: [[chunkedHead + "5\r\nhello\r\n0\r\n", { wait: 30 }, `${ALICE}\r\n`]],
    expect: {
      responses: [okSpec("hello", { trailers: aliceTrailers, headers: { "set-cookie": null } })],
      upstream: [reached("GET", "/account")],
    },
  },
  {
    name: "defect 2: request trailers do not corrupt the next request on the connection (separate writes)",
    send: [
      head("POST /upload HTTP/1.1", HOST, "Transfer-Encoding: chunked") +
        chunked("data", [4], "X-Checksum: abc\r\n"),
      { wait: 100 },
      get("/plain"),
    ],
    methods: ["POST", "GET"],
    server: [[ok("up")], [ok("plain")]],
    expect: {
      responses: [okSpec("up"), okSpec("plain")],
      upstream: [
        reached("POST", "/upload", { body: "data", trailers: { "X-Checksum": "abc" } }),
        reached("GET", "/plain", { headers: { "x-checksum": null } }),
      ],
    },
  },
  {
    name: "defect 2: request trailers do not corrupt the next request on the connection (pipelined)",
    send: [
      head("POST /upload HTTP/1.1", HOST, "Transfer-Encoding: chunked") +
        chunked("data", [4], "X-Checksum: abc\r\n") +
        get("/plain"),
    ],
    methods: ["POST", "GET"],
    server: [[ok("up")], [ok("plain")]],
    expect: {
      responses: [okSpec("up"), okSpec("plain")],
      upstream: [
        reached("POST", "/upload", { body: "data", trailers: { "X-Checksum": "abc" } }),
        reached("GET", "/plain", { headers: { "x-checksum": null } }),
      ],
    },
  },
  {
    name: "defect 2: request trailers do not corrupt the next request (trailer in its own write)",
    send: [
      head("POST /upload HTTP/1.1", HOST, "Transfer-Encoding: chunked") + "4\r\ndata\r\n0\r\n",
      { wait: 30 },
      "X-Checksum: abc\r\n\r\n",
      { wait: 100 },
      get("/plain"),
    ],
    methods: ["POST", "GET"],
    server: [[ok("up")], [ok("plain")]],
    expect: {
      responses: [okSpec("up"), okSpec("plain")],
      upstream: [
        reached("POST", "/upload", { body: "data", trailers: { "X-Checksum": "abc" } }),
        reached("GET", "/plain"),
      ],
    },
  },
  {
    name: "defect 3: SSE: the response head reaches the client at once, long before the first event",
    send: [get("/events", "Accept: text/event-stream")],
    server: [
      [
        head(
          "HTTP/1.1 200 OK",
          "Content-Type: text/event-stream",
          "Cache-Control: no-cache",
          "Transfer-Encoding: chunked",
        ),
        { wait: 1000 },
        "b\r\ndata: one\n\n\r\n",
        { wait: 50 },
        "0\r\n\r\n",
      ],
    ],
    expect: {
      responses: [
        {
          status: 200,
          headers: { "content-type": "text/event-stream" },
          body: "data: one\n\n",
          headWithinMs: 400,
        },
      ],
      upstream: [reached("GET", "/events")],
    },
  },
  {
    name: "defect 3: head then stall: the client gets the head at once, then a cut connection at the server timeout",
    send: [get("/stall-after-head")],
    server: [[head("HTTP/1.1 200 OK", "Content-Length: 10"), STALL]],
    waitMs: 4000,
    expect: {
      responses: [{ status: 200, body: "", complete: false, headWithinMs: 400 }],
      connection: "cut",
      closedWithinMs: [1500, 3500],
      upstream: [reached("GET", "/stall-after-head")],
    },
  },
  {
    name: "defect 3: chunked head then stall: head at once, then a cut connection at the server timeout",
    send: [get("/stall-after-chunked-head")],
    server: [[chunkedHead, STALL]],
    waitMs: 4000,
    expect: {
      responses: [{ status: 200, body: "", complete: false, headWithinMs: 400 }],
      connection: "cut",
      closedWithinMs: [1500, 3500],
      upstream: [reached("GET", "/stall-after-chunked-head")],
    },
  },
  {
    name: "defect 4: an invalid chunk size right after the head gives 502",
    send: [get("/bad-chunk")],
    server: [[chunkedHead + "zz\r\nhello\r\n0\r\n\r\n"]],
    expect: {
      responses: [{ status: 502 }],
      connection: "any",
      upstream: [reached("GET", "/bad-chunk")],
    },
  },
  {
    name: "defect 4: an overflowing chunk size (ffffffffffffffffffff) right after the head gives 502",
    send: [get("/huge-chunk")],
    server: [[chunkedHead + "ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"]],
    expect: {
      responses: [{ status: 502 }],
      connection: "any",
      upstream: [reached("GET", "/huge-chunk")],
    },
  },
  {
    name: "defect 5: a request with Transfer-Encoding: gzip, chunked is refused with 501",
    send: [
      head("POST /gz HTTP/1.1", HOST, "Transfer-Encoding: gzip, chunked") +
        chunked("gzipped?", [8]),
    ],
    server: [[ok()]],
    expect: { responses: [{ status: 501 }], connection: "closed", upstream: [] },
    differsFromHaproxy:
      "RFC 9112 6.1: a server receiving a transfer coding it does not understand SHOULD answer 501; HAProxy 2.6 passes gzip on to the server",
  },
  {
    name: "defect 5: a response with Transfer-Encoding: gzip, chunked gives 502, not a body passed on as plain",
    send: [get("/gz")],
    server: [
      [
        head("HTTP/1.1 200 OK", "Transfer-Encoding: gzip, chunked") +
          chunked("\x1f\x8b\x08\x00zz", [6]),
      ],
    ],
    expect: { responses: [{ status: 502 }], connection: "any", upstream: [reached("GET", "/gz")] },
    differsFromHaproxy:
      "RFC 9112 6.1/7: the proxy cannot decode gzip, and passing the coded body on without its Transfer-Encoding would corrupt it; HAProxy 2.6 relays the coding as it is",
  },
  {
    name: "defect 6: an unprompted 100 Continue is forwarded before the final response",
    send: [get("/hundred")],
    server: [["HTTP/1.1 100 Continue\r\n\r\n", { wait: 30 }, ok("final")]],
    expect: {
      responses: [okSpec("final", { interim: [100] })],
      upstream: [reached("GET", "/hundred")],
    },
  },
  {
    name: "defect 6: 103 Early Hints is forwarded with its Link header",
    send: [get("/hints")],
    server: [
      [
        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n",
        { wait: 30 },
        ok("page"),
      ],
    ],
    expect: {
      responses: [okSpec("page", { interim: [103] })],
      upstream: [reached("GET", "/hints")],
      check: (o) => {
        const hint = o.read.responses[0]?.interim[0];
        const link = hint?.fields.find(([n]) => n.toLowerCase() === "link")?.[1];
        return link === "</style.css>; rel=preload; as=style"
          ? []
          : [
              `the 103's Link header expected "</style.css>; rel=preload; as=style", got ${link ?? "none"}`,
            ];
      },
    },
  },
  {
    name: "defect 7: 101 without an Upgrade header (the client asked none) gives 502 at once",
    send: [get("/switch")],
    server: [["HTTP/1.1 101 Switching Protocols\r\n\r\n", STALL]],
    expect: {
      responses: [{ status: 502, headWithinMs: 1000 }],
      connection: "any",
      upstream: [reached("GET", "/switch")],
    },
  },
  {
    name: "defect 7: 101 without an Upgrade header to a WebSocket request gives 502 at once",
    send: [
      get(
        "/ws",
        "Connection: Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      ),
    ],
    server: [["HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n", STALL]],
    expect: {
      responses: [{ status: 502, headWithinMs: 1000 }],
      connection: "any",
      upstream: [reached("GET", "/ws")],
    },
    differsFromHaproxy:
      "RFC 9110 15.2.2: a server MUST send Upgrade in a 101; HAProxy 2.6 relays the 101 without one",
  },
  {
    name: "defect 8: absolute-form: Host becomes the target's authority (RFC 9112 3.2.2)",
    send: [head("GET http://abs.example:8080/p HTTP/1.1", "Host: other.example")],
    server: [[ok()]],
    expect: {
      responses: [okSpec()],
      upstream: [
        reached("GET", absolute("http://abs.example:8080/p"), {
          headers: { host: "abs.example:8080" },
        }),
      ],
    },
    differsFromHaproxy:
      "RFC 9112 3.2.2: a proxy MUST ignore the received Host and use the target's authority; HAProxy 2.6 refuses a Host that differs from the authority with 400",
  },
  {
    name: "defect 8: absolute-form: the path is passed as sent, dot segments and %2e%2e included",
    send: [
      head("GET http://abs.example:8080/a/../echo/%2e%2e/x HTTP/1.1", "Host: abs.example:8080"),
    ],
    server: [[ok()]],
    expect: {
      responses: [okSpec()],
      upstream: [
        reached("GET", absolute("http://abs.example:8080/a/../echo/%2e%2e/x"), {
          headers: { host: "abs.example:8080" },
        }),
      ],
    },
  },
  {
    name: "defect 8: absolute-form: a backslash in the path is not turned into a slash",
    send: [head("GET http://abs.example:8080/a\\b HTTP/1.1", "Host: abs.example:8080")],
    server: [[ok()]],
    expect: [
      {
        responses: [okSpec()],
        upstream: [
          reached("GET", absolute("http://abs.example:8080/a\\b"), {
            headers: { host: "abs.example:8080" },
          }),
        ],
      },
      // "\" is not a URI character (RFC 3986): refusing the request is as good.
      { responses: [{ status: 400 }], connection: "closed", upstream: [] },
    ],
  },
  {
    name: "defect 9: 204 with Content-Length: the length is not forwarded (RFC 9110 8.6)",
    send: [get("/no-content")],
    server: [[head("HTTP/1.1 204 No Content", "Content-Length: 5")]],
    expect: {
      responses: [
        { status: 204, headers: { "content-length": null, "transfer-encoding": null }, body: "" },
      ],
      upstream: [reached("GET", "/no-content")],
    },
  },
  {
    name: "defect 9: 204 with Content-Length and 5 stray body bytes: no length forwarded, the bytes go to nobody",
    send: [get("/no-content-bytes")],
    server: [[head("HTTP/1.1 204 No Content", "Content-Length: 5") + "hello"]],
    expect: {
      responses: [
        { status: 204, headers: { "content-length": null, "transfer-encoding": null }, body: "" },
      ],
      upstream: [reached("GET", "/no-content-bytes")],
    },
  },
  {
    name: "defect 10 (decided): a Content-Length trailer makes a response invalid: 502, or cut when part of it is out; never completed differently",
    send: [get("/trailer-length")],
    server: [[chunkedHead + chunked("hello world", [5, 6], "Content-Length: 0\r\n")]],
    // 502 when the whole answer came in one read (nothing of it out yet), else cut.
    expect: [
      {
        responses: [{ status: 502 }],
        connection: "any",
        upstream: [reached("GET", "/trailer-length")],
      },
      {
        responses: [{ status: 200, body: "hello world", complete: false }],
        connection: "cut",
        upstream: [reached("GET", "/trailer-length")],
      },
    ],
    differsFromHaproxy: TRAILER_LENGTH,
  },
  {
    name: "defect 10 (decided): a Content-Length trailer makes a request invalid: the server never gets it whole",
    send: [
      head("POST /trailer-length HTTP/1.1", HOST, "Transfer-Encoding: chunked") +
        chunked("hello world", [5, 6], "Content-Length: 0\r\n"),
    ],
    methods: ["POST"],
    server: [[ok()]],
    expect: [
      { responses: [], connection: "closed", upstream: [{ complete: false }] },
      { responses: [{ status: 400 }], connection: "closed", upstream: [] },
    ],
    differsFromHaproxy: TRAILER_LENGTH,
  },
  {
    name: "defect 10: X-Forwarded-For names an IPv4 client in IPv4 form on a dual-stack listener",
    send: [get("/xff")],
    server: [[ok()]],
    dualStack: true,
    expect: {
      responses: [okSpec()],
      upstream: [reached("GET", "/xff", { headers: { "x-forwarded-for": /^127\.21\.\d+\.\d+$/ } })],
    },
  },
  {
    name: "defect 10: X-Forwarded-For for an IPv4 client is its IPv4 form",
    send: [get("/xff")],
    server: [[response("200 OK", "ok")]],
    expect: {
      responses: [okSpec()],
      upstream: [reached("GET", "/xff", { headers: { "x-forwarded-for": /^127\.21\.\d+\.\d+$/ } })],
    },
  },
];

// Defects an outsider's probe found after the first round of fixes, each as
// a case: the reuse probes after every case show any state left behind.

import { RESET } from "../backend.js";
import type { Case } from "../types.js";
import { chunked, get, head, HOST, ok, okSpec, reached, refused } from "./helpers.js";

const INJECTED = "HTTP/1.1 200 OK\r\nSet-Cookie: session=ATTACKER\r\nX-Injected: ";

export const PROBE_FINDINGS: Case[] = [
  {
    name: "server bytes after a complete answer (same write) never start another client's answer (RFC 9112 6.3)",
    send: [get("/stray")],
    server: [[ok("ok") + INJECTED]],
    expect: { responses: [okSpec("ok")], upstream: [reached("GET", "/stray")] },
  },
  {
    name: "server bytes sent while the connection idles never start another client's answer",
    send: [get("/stray-later")],
    server: [[ok("ok"), { wait: 80 }, INJECTED]],
    probeDelayMs: 150,
    expect: { responses: [okSpec("ok")], upstream: [reached("GET", "/stray-later")] },
  },
  {
    name: "a body sent after a HEAD answer never becomes another client's answer",
    send: [head("HEAD /h HTTP/1.1", HOST)],
    methods: ["HEAD"],
    server: [[ok("hello") + INJECTED]],
    expect: {
      responses: [{ status: 200, headers: { "content-length": "5" } }],
      upstream: [reached("HEAD", "/h")],
    },
  },
  {
    name: "a POST on a reused connection the server resets unanswered is not sent again (RFC 9112 9.3.1)",
    send: [get("/warm") + head("POST /charge HTTP/1.1", HOST, "Content-Length: 0")],
    methods: ["GET", "POST"],
    server: [[ok("warm")], [RESET]],
    expect: [
      {
        responses: [okSpec("warm"), { status: 502 }],
        connection: "any",
        upstream: [reached("GET", "/warm"), reached("POST", "/charge")],
      },
      {
        responses: [okSpec("warm")],
        connection: "closed",
        upstream: [reached("GET", "/warm"), reached("POST", "/charge")],
      },
    ],
    differsFromHaproxy:
      "both send the POST once (RFC 9112 9.3.1: a proxy MUST NOT retry non-idempotent requests); stickyring answers 502 and keeps the client connection, HAProxy closes it unanswered",
  },
  {
    name: "empty lines between pipelined requests are ignored (RFC 9112 2.2)",
    send: [get("/one"), { wait: 40 }, "\r\n\r\n", { wait: 40 }, get("/two")],
    methods: ["GET", "GET"],
    server: [[ok("one")], [ok("two")]],
    expect: {
      responses: [okSpec("one"), okSpec("two")],
      upstream: [reached("GET", "/one"), reached("GET", "/two")],
    },
  },
  {
    name: "a declined h2c upgrade with a chunked body, then a pipelined request: both answered in order",
    send: [
      head(
        "POST /up HTTP/1.1",
        HOST,
        "Connection: Upgrade, HTTP2-Settings",
        "Upgrade: h2c",
        "HTTP2-Settings: AAMAAABkAAQAAP__",
        "Transfer-Encoding: chunked",
      ) + "5\r\n01234\r\n",
      { wait: 40 },
      "0\r\n\r\n" + get("/after"),
    ],
    methods: ["POST", "GET"],
    server: [[ok("up")], [ok("after")]],
    expect: {
      responses: [okSpec("up"), okSpec("after")],
      upstream: [
        reached("POST", "/up", {
          body: "01234",
          headers: { upgrade: null, "http2-settings": null },
        }),
        reached("GET", "/after"),
      ],
    },
    differsFromHaproxy:
      "RFC 9110 7.6.1: an intermediary MUST remove the fields a Connection header names (HTTP2-Settings here); HAProxy 2.6 passes them on",
  },
  {
    name: "fields named after JavaScript Object properties reach the server as sent",
    send: [get("/proto", "constructor: x", "toString: y", "__proto__: z")],
    expect: {
      responses: [okSpec()],
      upstream: [
        reached("GET", "/proto", {
          headers: { constructor: "x", tostring: "y", __proto__: "z" },
        }),
      ],
    },
  },
  {
    name: "an absolute-form target whose authority no Host could hold is refused (RFC 9112 3.2.2)",
    send: [head("GET http://a:b:c/p HTTP/1.1", "Host: good.example")],
    expect: refused(400),
  },
  {
    name: "a fragment in the request-target is refused (RFC 9112 3.2)",
    send: [get("/p#frag")],
    expect: refused(400),
  },
  {
    name: "a two-digit status below 100 gives 502 (RFC 9110 15)",
    send: [get("/099")],
    server: [["HTTP/1.1 099 Weird\r\nContent-Length: 2\r\n\r\nok"]],
    expect: { responses: [{ status: 502 }], connection: "any", upstream: [reached("GET", "/099")] },
    differsFromHaproxy:
      "RFC 9110 15: a status is three digits, 100 to 599; HAProxy 2.6 relays 99 as it came",
  },
  {
    name: "thousands of one-byte chunks arrive whole both ways",
    send: [
      head("POST /tiny HTTP/1.1", HOST, "Transfer-Encoding: chunked") +
        chunked("x".repeat(3000), Array(2999).fill(1)),
    ],
    methods: ["POST"],
    server: [
      [
        head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked") +
          chunked("y".repeat(3000), Array(2999).fill(1)),
      ],
    ],
    expect: {
      responses: [okSpec("y".repeat(3000))],
      upstream: [reached("POST", "/tiny", { body: "x".repeat(3000) })],
    },
  },
];

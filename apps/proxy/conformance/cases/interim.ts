// 1xx interim responses, which a proxy MUST forward (RFC 9110 15.2), except
// to an HTTP/1.0 client; 101 and Upgrade (RFC 9110 7.8, 15.2.2);
// Expect: 100-continue (RFC 9110 10.1.1).

import { AWAIT_BODY, STALL, TUNNEL } from "../backend.js";
import { readAt } from "../run.js";
import type { Case } from "../types.js";
import { get, head, HOST, ok, okSpec, reached, response } from "./helpers.js";

const CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n";
const WS_REQUEST = get(
  "/ws",
  "Connection: Upgrade",
  "Upgrade: websocket",
  "Sec-WebSocket-Version: 13",
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
);

export const INTERIM: Case[] = [
  {
    name: "1xx: 102 Processing is forwarded",
    send: [get("/processing")],
    server: [["HTTP/1.1 102 Processing\r\n\r\n", { wait: 30 }, ok("done")]],
    expect: {
      responses: [okSpec("done", { interim: [102] })],
      upstream: [reached("GET", "/processing")],
    },
  },
  {
    name: "1xx: two 103 Early Hints are both forwarded, in order",
    send: [get("/two-hints")],
    server: [
      [
        "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
        { wait: 20 },
        "HTTP/1.1 103 Early Hints\r\nLink: </b.js>; rel=preload\r\n\r\n",
        { wait: 20 },
        ok("page"),
      ],
    ],
    expect: {
      responses: [okSpec("page", { interim: [103, 103] })],
      upstream: [reached("GET", "/two-hints")],
    },
  },
  {
    name: "1xx: 100 then 103 then the final response",
    send: [get("/mixed-1xx")],
    server: [
      [CONTINUE + "HTTP/1.1 103 Early Hints\r\nLink: </c.css>; rel=preload\r\n\r\n" + ok("final")],
    ],
    expect: {
      responses: [okSpec("final", { interim: [100, 103] })],
      upstream: [reached("GET", "/mixed-1xx")],
    },
  },
  {
    name: "1xx: a 103 reaches the client before the final response is ready",
    send: [get("/hint-early")],
    server: [
      [
        "HTTP/1.1 103 Early Hints\r\nLink: </d.css>; rel=preload\r\n\r\n",
        { wait: 600 },
        ok("late"),
      ],
    ],
    expect: {
      responses: [okSpec("late", { interim: [103] })],
      upstream: [reached("GET", "/hint-early")],
      check: (o) => {
        const hint = o.read.responses[0]?.interim[0];
        const at = hint === undefined ? undefined : readAt(o, hint.end - 1);
        return at !== undefined && at < 300
          ? []
          : [
              `the 103 expected within 300 ms (the final answer waits 600), came after ${at === undefined ? "never" : `${Math.round(at)} ms`}`,
            ];
      },
    },
  },
  {
    name: "1xx: a 1xx with header fields keeps them",
    send: [get("/1xx-fields")],
    server: [
      ["HTTP/1.1 103 Early Hints\r\nLink: </e.css>; rel=preload\r\nX-Hint: yes\r\n\r\n" + ok("x")],
    ],
    expect: {
      responses: [okSpec("x", { interim: [103] })],
      upstream: [reached("GET", "/1xx-fields")],
      check: (o) => {
        const fields = o.read.responses[0]?.interim[0]?.fields ?? [];
        return fields.some(([n, v]) => n.toLowerCase() === "x-hint" && v === "yes")
          ? []
          : [`the 103's X-Hint missing: ${JSON.stringify(fields)}`];
      },
    },
  },
  {
    name: "1xx: a 150 naming a Content-Length has no content: the bytes after it are the final answer",
    send: [get("/odd-1xx")],
    server: [
      [
        `HTTP/1.1 150 Odd\r\nContent-Length: ${ok("inside").length}\r\n\r\n` +
          ok("inside") +
          ok("after"),
      ],
    ],
    expect: {
      // The server's second answer is out of step: never relayed, its connection not reused.
      responses: [okSpec("inside", { interim: [150] })],
      upstream: [reached("GET", "/odd-1xx")],
    },
  },
  {
    name: "1xx: a 199 naming a Content-Length followed by bytes that are no answer gives 502",
    send: [get("/odd-1xx-junk")],
    server: [["HTTP/1.1 199 Odd\r\nContent-Length: 9\r\n\r\nnot-http!", STALL]],
    expect: {
      responses: [{ status: 502, interim: [199], headWithinMs: 1000 }],
      connection: "any",
      upstream: [reached("GET", "/odd-1xx-junk")],
    },
    differsFromHaproxy:
      "a 1xx is relayed as soon as it is read (a 103's hints must not wait for the final answer); HAProxy 2.6 parsed the 199 and the bytes after it in one read and dropped the 199 with its 502",
  },
  {
    name: "1xx: not forwarded to an HTTP/1.0 client (RFC 9110 15.2)",
    send: ["GET /ten-1xx HTTP/1.0\r\nHost: case.test\r\n\r\n"],
    server: [
      [
        "HTTP/1.1 103 Early Hints\r\nLink: </f.css>; rel=preload\r\n\r\n" +
          CONTINUE +
          ok("for 1.0"),
      ],
    ],
    expect: {
      responses: [okSpec("for 1.0", { interim: [] })],
      connection: "closed",
      upstream: [reached("GET", "/ten-1xx")],
    },
    differsFromHaproxy:
      "RFC 9110 15.2: a server MUST NOT send a 1xx to an HTTP/1.0 client; HAProxy 2.6 forwards them",
  },
  {
    name: "1xx: an unprompted 100 before a chunked final response",
    send: [get("/100-chunked")],
    server: [
      [
        CONTINUE,
        { wait: 20 },
        head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked") + "2\r\nok\r\n0\r\n\r\n",
      ],
    ],
    expect: {
      responses: [okSpec("ok", { interim: [100] })],
      upstream: [reached("GET", "/100-chunked")],
    },
  },
  {
    name: "1xx: an unprompted 100 before a 204",
    send: [get("/100-204")],
    server: [[CONTINUE + head("HTTP/1.1 204 No Content")]],
    expect: {
      responses: [{ status: 204, interim: [100], body: "" }],
      upstream: [reached("GET", "/100-204")],
    },
  },
  // 101 and Upgrade
  {
    name: "101: a switch the client did not ask for (with an Upgrade header) gives 502",
    send: [get("/unasked-switch")],
    server: [
      [
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        STALL,
      ],
    ],
    expect: {
      responses: [{ status: 502, headWithinMs: 1000 }],
      connection: "any",
      upstream: [reached("GET", "/unasked-switch")],
    },
  },
  {
    name: "101: a WebSocket upgrade switches, and bytes then flow both ways",
    send: [WS_REQUEST, { waitFor: "\r\n\r\n", ms: 1500 }, { wait: 30 }, "client-bytes"],
    server: [
      [
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        TUNNEL,
        { wait: 30 },
        "server-bytes",
      ],
    ],
    waitMs: 600,
    expect: {
      responses: [{ status: 101, headers: { upgrade: /^websocket$/i } }],
      upstream: [
        reached("GET", "/ws", {
          headers: { upgrade: /^websocket$/i, "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" },
        }),
      ],
      check: (o) => {
        const problems: string[] = [];
        const tunnel = o.read.responses[0]?.tunnel?.toString("latin1") ?? "";
        if (!tunnel.includes("server-bytes"))
          problems.push(
            `the client expected "server-bytes" through the tunnel, read ${JSON.stringify(tunnel)}`,
          );
        const received = o.connections.map((c) => c.tunneled.toString("latin1")).join("");
        if (received !== "client-bytes")
          problems.push(
            `the server expected "client-bytes" through the tunnel, got ${JSON.stringify(received)}`,
          );
        return problems;
      },
    },
  },
  {
    name: "101: a WebSocket upgrade the server declines (200) is an ordinary answer",
    send: [WS_REQUEST],
    server: [[ok("no upgrade here")]],
    expect: {
      responses: [okSpec("no upgrade here")],
      connection: "any",
      upstream: [reached("GET", "/ws")],
    },
  },
  {
    name: "101: a WebSocket upgrade answered 426 is passed on",
    send: [WS_REQUEST],
    server: [[response("426 Upgrade Required", "no", "Upgrade: websocket", "Connection: Upgrade")]],
    expect: {
      responses: [{ status: 426, body: "no", headers: { connection: /^(close|keep-alive)?$/i } }],
      connection: "any",
      upstream: [reached("GET", "/ws")],
    },
    differsFromHaproxy:
      "RFC 9110 7.6.1: Upgrade, named by the 426's Connection header, is not passed on; HAProxy 2.6 passes Upgrade on (and adds a Sec-WebSocket-Accept of its own)",
  },
  // Expect: 100-continue
  {
    name: "Expect: 100-continue: the client gets one 100, sends its body, gets the answer",
    send: [
      head("POST /expect HTTP/1.1", HOST, "Content-Length: 5", "Expect: 100-continue"),
      { waitFor: " 100 ", ms: 1000 },
      "hello",
    ],
    methods: ["POST"],
    server: [{ on: "head", steps: [CONTINUE, AWAIT_BODY, ok("got it")] }],
    expect: {
      responses: [okSpec("got it", { interim: [100] })],
      upstream: [reached("POST", "/expect", { body: "hello" })],
    },
  },
  {
    name: "Expect: 100-continue with a chunked body",
    send: [
      head(
        "POST /expect-chunked HTTP/1.1",
        HOST,
        "Transfer-Encoding: chunked",
        "Expect: 100-continue",
      ),
      { waitFor: " 100 ", ms: 1000 },
      "5\r\nhello\r\n0\r\n\r\n",
    ],
    methods: ["POST"],
    server: [{ on: "head", steps: [CONTINUE, AWAIT_BODY, ok("got it")] }],
    expect: {
      responses: [okSpec("got it", { interim: [100] })],
      upstream: [reached("POST", "/expect-chunked", { body: "hello" })],
    },
  },
  {
    name: "Expect: 100-continue from an HTTP/1.0 client is ignored: no 100 (RFC 9110 10.1.1)",
    send: [
      "POST /expect10 HTTP/1.0\r\nHost: case.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
    ],
    methods: ["POST"],
    server: [[ok("ten")]],
    expect: {
      responses: [okSpec("ten", { interim: [] })],
      connection: "closed",
      upstream: [reached("POST", "/expect10", { body: "hello" })],
    },
  },
  {
    name: "Expect: an unknown expectation gets 417 or is passed on (RFC 9110 10.1.1)",
    send: [head("GET /expect-other HTTP/1.1", HOST, "Expect: 200-ok")],
    server: [[ok()]],
    expect: [
      { responses: [{ status: 417 }], connection: "any", upstream: [] },
      { responses: [okSpec()], upstream: [reached("GET", "/expect-other")] },
    ],
    differsFromHaproxy:
      "RFC 9110 10.1.1: a server MAY answer 417 to an expectation it does not know; stickyring does, HAProxy passes it on",
  },
  {
    name: "Expect: 100-continue answered with a final 417 before the body: the client gets the 417",
    send: [
      head("POST /expect-no HTTP/1.1", HOST, "Content-Length: 5", "Expect: 100-continue"),
      { waitFor: "HTTP/1.1 ", ms: 1000 },
      { wait: 100 },
      "hello",
    ],
    methods: ["POST"],
    server: [{ on: "head", steps: [response("417 Expectation Failed", "nope")] }],
    expect: [
      {
        responses: [{ status: 417, body: "nope", interim: [] }],
        connection: "any",
        upstream: [{ method: "POST", target: "/expect-no", complete: "any" }],
      },
      {
        responses: [{ status: 417, body: "nope", interim: [100] }],
        connection: "any",
        upstream: [{ method: "POST", target: "/expect-no", complete: "any" }],
      },
    ],
    differsFromHaproxy:
      "stickyring sends 100 Continue itself as soon as it forwards the head (RFC 9110 10.1.1 lets an intermediary do so); HAProxy forwards the expectation and relays the server's 417 with no 100",
  },
];

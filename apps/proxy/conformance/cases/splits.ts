// The same messages split into writes at every awkward byte boundary: inside
// the request line, between CR and LF, at the end of the head, inside chunk
// size lines, chunk data and trailers. Each split must make no difference,
// and the connection must stay clean for the follow-up request.

import type { Step } from "../backend.js";
import type { Case } from "../types.js";
import { head, HOST, ok, okSpec, reached, split, splitSteps } from "./helpers.js";

const BODY = "5;e=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
const TRAILED = "5;e=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
const REQUEST = head("POST /split HTTP/1.1", HOST, "Transfer-Encoding: chunked") + BODY;
const REQUEST_T = head("POST /split HTTP/1.1", HOST, "Transfer-Encoding: chunked") + TRAILED;
const RESPONSE = head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "X-Head: 1") + BODY;
const RESPONSE_T = head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "X-Head: 1") + TRAILED;
const CL_REQUEST = head("POST /cl-split HTTP/1.1", HOST, "Content-Length: 11") + "hello world";
const CL_RESPONSE = head("HTTP/1.1 200 OK", "Content-Length: 11") + "hello world";

/** Where to split `text`: [what, offset]. */
function points(text: string, marks: [string, string, number][]): [string, number][] {
  return marks.map(([what, anchor, delta]) => {
    const at = text.indexOf(anchor);
    if (at < 0) throw new Error(`no ${JSON.stringify(anchor)} in the message`);
    return [what, at + delta];
  });
}

const headEnd = (text: string) => text.indexOf("\r\n\r\n");

const REQUEST_POINTS = points(REQUEST, [
  ["inside the method", "POST", 2],
  ["inside the target", "/split", 3],
  ["inside the version", "HTTP/1.1", 7],
  ["between CR and LF of the request line", "HTTP/1.1\r\n", 9],
  ["inside a field name", "Transfer-Encoding", 8],
  ["right after a field's colon", "Transfer-Encoding:", 18],
  ["between CR and LF of the last field line", "chunked\r\n", 8],
  ["between the CR and LF that end the head", "\r\n\r\n", 3],
  ["right after the head", "\r\n\r\n", 4],
  ["inside a chunk extension", "5;e=1", 3],
  ["between CR and LF of a chunk size line", "5;e=1\r\n", 6],
  ["inside chunk data", "hello", 3],
  ["between chunk data and its CRLF", "hello\r\n", 5],
  ["between CR and LF after chunk data", "hello\r\n", 6],
  ["inside the last chunk line", "0\r\n\r\n", 1],
  ["between the CR and LF that end the message", "0\r\n\r\n", 4],
]);

const REQUEST_T_POINTS = points(REQUEST_T, [
  ["between the last chunk and its trailers", "0\r\nX-T", 3],
  ["inside a trailer name", "X-T: 1", 2],
  ["before the CRLF that ends the trailers", "X-T: 1\r\n\r\n", 8],
  ["between the CR and LF that end the message", "X-T: 1\r\n\r\n", 9],
]);

const RESPONSE_POINTS = points(RESPONSE, [
  ["inside the status code", "200", 1],
  ["between CR and LF of the status line", "OK\r\n", 3],
  ["inside a field name", "Transfer-Encoding", 5],
  ["between the CR and LF that end the head", "\r\n\r\n", 3],
  ["right after the head", "\r\n\r\n", 4],
  ["inside a chunk extension", "5;e=1", 2],
  ["between CR and LF of a chunk size line", "5;e=1\r\n", 6],
  ["inside chunk data", " world", 3],
  ["between chunk data and its CRLF", " world\r\n", 6],
  ["inside the last chunk line", "0\r\n\r\n", 1],
  ["between the CR and LF that end the message", "0\r\n\r\n", 4],
]);

const RESPONSE_T_POINTS = points(RESPONSE_T, [
  ["between the last chunk and its trailers", "0\r\nX-T", 3],
  ["inside a trailer value", "X-T: 1", 5],
  ["between the CR and LF that end the message", "X-T: 1\r\n\r\n", 9],
]);

const requestCase = (what: string, pieces: Case["send"], trailers = false): Case => ({
  name: `split request: chunked${trailers ? " with trailers" : ""}, ${what}`,
  send: pieces,
  methods: ["POST"],
  server: [[ok("split ok")]],
  expect: {
    responses: [okSpec("split ok")],
    upstream: [
      reached("POST", "/split", {
        body: "hello world",
        ...(trailers ? { trailers: { "X-T": "1" } } : {}),
      }),
    ],
  },
});

const responseCase = (what: string, steps: Step[], trailers = false): Case => ({
  name: `split response: chunked${trailers ? " with trailers" : ""}, ${what}`,
  send: [head("GET /split-response HTTP/1.1", HOST)],
  server: [steps],
  expect: {
    responses: [
      okSpec("hello world", {
        headers: { "x-head": "1" },
        ...(trailers ? { trailers: { "X-T": "1" } } : {}),
      }),
    ],
    upstream: [reached("GET", "/split-response")],
  },
});

export const SPLITS: Case[] = [
  ...REQUEST_POINTS.map(([what, at]) => requestCase(`split ${what}`, split(REQUEST, [at]))),
  requestCase(
    "in 1-byte writes",
    REQUEST.split("").flatMap((ch) => [ch, { wait: 1 }]),
  ),
  requestCase(
    "split at every CRLF",
    split(
      REQUEST,
      [...REQUEST.matchAll(/\r\n/g)].map((m) => m.index + 1),
      10,
    ),
  ),
  ...REQUEST_T_POINTS.map(([what, at]) =>
    requestCase(`split ${what}`, split(REQUEST_T, [at]), true),
  ),
  requestCase(
    "in 1-byte writes",
    REQUEST_T.split("").flatMap((ch) => [ch, { wait: 1 }]),
    true,
  ),
  ...RESPONSE_POINTS.map(([what, at]) => responseCase(`split ${what}`, splitSteps(RESPONSE, [at]))),
  responseCase(
    "in 1-byte writes",
    RESPONSE.split("").flatMap((ch): Step[] => [ch, { wait: 1 }]),
  ),
  ...RESPONSE_T_POINTS.map(([what, at]) =>
    responseCase(`split ${what}`, splitSteps(RESPONSE_T, [at]), true),
  ),
  responseCase(
    "in 1-byte writes",
    RESPONSE_T.split("").flatMap((ch): Step[] => [ch, { wait: 1 }]),
    true,
  ),
  ...(
    [
      ["between the CR and LF that end the head", headEnd(CL_REQUEST) + 3],
      ["right after the head", headEnd(CL_REQUEST) + 4],
      ["inside the body", headEnd(CL_REQUEST) + 9],
    ] as [string, number][]
  ).map(([what, at]): Case => ({
    name: `split request: Content-Length body, split ${what}`,
    send: split(CL_REQUEST, [at]),
    methods: ["POST"],
    server: [[ok("cl ok")]],
    expect: {
      responses: [okSpec("cl ok")],
      upstream: [reached("POST", "/cl-split", { body: "hello world" })],
    },
  })),
  ...(
    [
      ["between the CR and LF that end the head", headEnd(CL_RESPONSE) + 3],
      ["right after the head", headEnd(CL_RESPONSE) + 4],
      ["inside the body", headEnd(CL_RESPONSE) + 9],
    ] as [string, number][]
  ).map(([what, at]): Case => ({
    name: `split response: Content-Length body, split ${what}`,
    send: [head("GET /cl-split-response HTTP/1.1", HOST)],
    server: [splitSteps(CL_RESPONSE, [at])],
    expect: {
      responses: [okSpec("hello world")],
      upstream: [reached("GET", "/cl-split-response")],
    },
  })),
];

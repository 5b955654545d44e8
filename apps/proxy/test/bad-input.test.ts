// Malformed and smuggling-shaped requests: the right status, the proxy stays
// up, and nothing reaches a backend.

import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { get, soloBackend, type RunningProxy, type SoloBackend } from "./harness.js";

let seenByBackend = 0;
let lastUrl: string | undefined;
let solo: SoloBackend;
let running: RunningProxy;

beforeAll(async () => {
  solo = await soloBackend((req, res) => {
    if (req.url !== "/healthz") {
      seenByBackend++;
      lastUrl = req.url;
    }
    req.resume();
    req.on("end", () => res.end("Hello from App 1"));
  });
  running = solo.running;
});
afterAll(() => solo.stop());

/** Sends raw bytes; resolves with the status line of the answer. */
function raw(payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(running.port, "127.0.0.1", () => socket.write(payload));
    let answer = "";
    socket.on("data", (d) => (answer += d));
    socket.on("error", reject);
    socket.on("close", () => resolve(answer.split("\r\n")[0] ?? ""));
    socket.setTimeout(5000, () => socket.destroy());
  });
}

describe("bad requests are refused before any backend sees them", () => {
  it.each([
    ["a malformed request line", "GARBAGE\r\n\r\n", 400],
    ["HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400],
    ["two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
    [
      "CONNECT (a tunnel this proxy does not make)",
      "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
      501,
    ],
    [
      "a bad chunk size",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
      400,
    ],
    ["an invalid header name", "GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n", 400],
    [
      "a header value with a control character",
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\u0001b\r\n\r\n",
      400,
    ],
    [
      "Content-Length with Transfer-Encoding: chunked",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      400,
    ],
    [
      "two different Content-Lengths",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
      400,
    ],
    [
      "an obfuscated Transfer-Encoding",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
      400,
    ],
    [
      "chunked not last in Transfer-Encoding",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
      400,
    ],
    ["an oversized request line", `GET /${"a".repeat(20_000)} HTTP/1.1\r\nHost: a\r\n\r\n`, 431],
    ["oversized headers", `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431],
  ])("%s", async (_, payload, status) => {
    const before = seenByBackend;
    expect(await raw(payload)).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
    expect(seenByBackend).toBe(before);
  });

  it("answers OPTIONS * itself (501) and never forwards it", async () => {
    const before = seenByBackend;
    expect(await raw("OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")).toMatch(
      /^HTTP\/1.1 501 /,
    );
    expect(seenByBackend).toBe(before);
  });

  it("still serves well-formed requests afterwards", async () => {
    const reply = await get(running.port);
    expect(reply.status).toBe(200);
    expect(reply.body).toBe("Hello from App 1");
    expect(seenByBackend).toBe(1);
  });
});

describe("request targets other than a path", () => {
  it("forwards an absolute-form request (as proxies receive them) in origin form", async () => {
    expect(
      await raw(
        "GET http://example.com/cart/42?x=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
      ),
    ).toMatch(/^HTTP\/1.1 200 /);
    expect(lastUrl).toBe("/cart/42?x=1");
  });
});

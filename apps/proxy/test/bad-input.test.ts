// Malformed and smuggling-shaped requests: the right status, the proxy stays
// up, and nothing reaches a backend.

import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { get, soloBackend, statusLineOf, type RunningProxy, type SoloBackend } from "./harness.js";

let seenByBackend = 0;
let lastUrl: string | undefined;
let lastHost: string | undefined;
let solo: SoloBackend;
let running: RunningProxy;

beforeAll(async () => {
  solo = await soloBackend((req, res) => {
    if (req.url !== "/healthz") {
      seenByBackend++;
      lastUrl = req.url;
      lastHost = req.headers.host;
    }
    req.resume();
    req.on("end", () => res.end("Hello from App 1"));
  });
  running = solo.running;
});
afterAll(() => solo.stop());

/** Sends raw bytes; resolves with the status line of the answer. */
const raw = (payload: string) => statusLineOf(running.port, payload);

describe("bad requests are refused before any backend sees them", () => {
  it.each([
    ["a malformed request line", "GARBAGE\r\n\r\n", 400],
    ["HTTP/2.0 in a request line", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505],
    ["HTTP/0.9 in a request line", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 400],
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
    [
      "an oversized request line (RFC 9112 3)",
      `GET /${"a".repeat(20_000)} HTTP/1.1\r\nHost: a\r\n\r\n`,
      414,
    ],
    ["oversized headers", `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431],
  ])("%s", async (_, payload, status) => {
    const before = seenByBackend;
    expect(await raw(payload)).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
    expect(seenByBackend).toBe(before);
  });

  it("refuses a coding other than chunked (501) and never forwards the body unlabelled", async () => {
    const before = seenByBackend;
    expect(
      await raw(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      ),
    ).toMatch(/^HTTP\/1.1 501 /);
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

  it("gives the server the absolute target's authority as Host and its path as sent (RFC 9112 3.2.2)", async () => {
    expect(
      await raw(
        "GET http://abs.example:8080/a/../echo/%2e%2e/x\\y HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n",
      ),
    ).toMatch(/^HTTP\/1.1 200 /);
    expect(lastUrl).toBe("/a/../echo/%2e%2e/x\\y");
    expect(lastHost).toBe("abs.example:8080");
  });

  it("forwards OPTIONS * as it came, to the client's server", async () => {
    expect(await raw("OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")).toMatch(
      /^HTTP\/1.1 200 /,
    );
    expect(lastUrl).toBe("*");
  });

  it.each([
    ["the asterisk with another method", "GET * HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["userinfo in an absolute target", "GET http://u:p@a/ HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["an absolute target with no host", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n"],
    [
      "an absolute target with an authority no Host could hold",
      "GET http://a:b:c/p HTTP/1.1\r\nHost: a\r\n\r\n",
    ],
    [
      "an absolute target with a bracket left open",
      "GET http://[::1/p HTTP/1.1\r\nHost: a\r\n\r\n",
    ],
    ["a fragment in the target (RFC 9112 3.2)", "GET /p#frag HTTP/1.1\r\nHost: a\r\n\r\n"],
  ])("refuses %s (400)", async (_, payload) => {
    const before = seenByBackend;
    expect(await raw(payload)).toMatch(/^HTTP\/1.1 400 /);
    expect(seenByBackend).toBe(before);
  });
});

describe("a good request followed by bad bytes in the same read", () => {
  it("answers the good one, then refuses the rest and closes (as HAProxy does)", async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(running.port, "127.0.0.1", () =>
        socket.write("GET /first HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE \x01\x02 nonsense\r\n\r\n"),
      );
      let text = "";
      socket.on("data", (d) => (text += d));
      socket.on("error", reject);
      socket.on("close", () => resolve(text));
      socket.setTimeout(5000, () => socket.destroy());
    });
    expect(answer.match(/HTTP\/1\.1 \d{3}/g)).toEqual(["HTTP/1.1 200", "HTTP/1.1 501"]);
    expect(answer).toContain("Hello from App 1");
    expect(lastUrl).toBe("/first");
  });
});

describe("bad bytes after many pipelined requests", () => {
  it("are answered 400 after the answers to the requests before them (16 and more held back)", async () => {
    for (const count of [15, 16, 40]) {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(running.port, "127.0.0.1", () =>
          socket.write("GET /p HTTP/1.1\r\nHost: a\r\n\r\n".repeat(count) + "\x00garbage\r\n\r\n"),
        );
        let text = "";
        socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
        socket.on("error", reject);
        socket.on("close", () => resolve(text));
        socket.setTimeout(5000, () => socket.destroy());
      });
      // Bodies end without a line break: status lines follow them on the same line.
      const statuses = answer.match(/HTTP\/1\.1 \d{3}/g) ?? [];
      expect(statuses).toEqual([...Array(count).fill("HTTP/1.1 200"), "HTTP/1.1 400"]);
    }
  });
});

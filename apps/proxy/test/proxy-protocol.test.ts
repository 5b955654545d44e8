// ACCEPT_PROXY=on: every connection starts with a PROXY protocol header
// (HAProxy's `accept-proxy`), and the client it names is the one hashed.

import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { readProxyHeader } from "../src/http/downstream/proxy-protocol.js";
import { sourceKey } from "@stickyring/hashing";
import { clientAddresses, get, startProxy, useTopology, type RunningProxy } from "./harness.js";
import { exchange as exchangeWith } from "./raw-client.js";

const SIGNATURE = Buffer.from("0d0a0d0a000d0a515549540a", "hex");

/** A v2 header: PROXY (or LOCAL) over IPv4 or IPv6, with `extra` bytes of TLVs behind the addresses. */
function v2(source: number[], command = 1, extra = 0): Buffer {
  const v6 = source.length === 16;
  const addresses = Buffer.alloc((v6 ? 32 : 8) + 4 + extra);
  Buffer.from(source).copy(addresses, 0);
  addresses.writeUInt16BE(40000, v6 ? 32 : 8);
  addresses.writeUInt16BE(80, v6 ? 34 : 10);
  const fixed = Buffer.from([0x20 | command, v6 ? 0x21 : 0x11, 0, 0]);
  fixed.writeUInt16BE(addresses.length, 2);
  return Buffer.concat([SIGNATURE, fixed, addresses]);
}

describe("readProxyHeader", () => {
  it("reads v1 TCP4, TCP6 and UNKNOWN lines", () => {
    const tcp4 = Buffer.from("PROXY TCP4 192.0.2.7 10.0.0.1 51000 80\r\nGET /");
    expect(readProxyHeader(tcp4)).toEqual({
      state: "complete",
      length: tcp4.indexOf("GET"),
      source: "192.0.2.7",
    });
    const tcp6 = Buffer.from("PROXY TCP6 2001:DB8:0:0::1 2001:db8::2 51000 443\r\n");
    expect(readProxyHeader(tcp6)).toEqual({
      state: "complete",
      length: tcp6.length,
      source: "2001:db8::1",
    });
    expect(readProxyHeader(Buffer.from("PROXY UNKNOWN whatever\r\n"))).toEqual({
      state: "complete",
      length: 24,
      source: undefined,
    });
  });

  it("reads v2 PROXY over IPv4 and IPv6 (TLVs skipped), and LOCAL as no address", () => {
    const four = v2([198, 51, 100, 9], 1, 7);
    expect(readProxyHeader(Buffer.concat([four, Buffer.from("GET")]))).toEqual({
      state: "complete",
      length: four.length,
      source: "198.51.100.9",
    });
    const six = v2([0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 5]);
    expect(readProxyHeader(six)).toEqual({ state: "complete", length: 52, source: "2001:db8::5" });
    // An IPv4-mapped source is the IPv4 client it maps (CLIENT_ADDRESS_MAXCONN counts them as one).
    const mapped = v2([...Array(10).fill(0), 0xff, 0xff, 1, 2, 3, 4]);
    expect(readProxyHeader(mapped)).toMatchObject({ source: "::ffff:102:304" });
    expect(sourceKey("::ffff:102:304")).toBe("1.2.3.4");
    expect(sourceKey("::ffff:1.2.3.4")).toBe("1.2.3.4");
    expect(sourceKey("::ffff:1:2:3")).toBe("::ffff:1:2:3");
    const local = v2([10, 0, 0, 1], 0);
    expect(readProxyHeader(local)).toEqual({
      state: "complete",
      length: local.length,
      source: undefined,
    });
  });

  it("asks for more on every proper prefix of a header, never before", () => {
    for (const header of [
      Buffer.from("PROXY TCP4 192.0.2.7 10.0.0.1 51000 80\r\n"),
      v2([198, 51, 100, 9], 1, 3),
    ]) {
      for (let n = 0; n < header.length; n++)
        expect(readProxyHeader(header.subarray(0, n))).toEqual({ state: "partial" });
      expect(readProxyHeader(header).state).toBe("complete");
    }
  });

  it.each([
    ["an HTTP request", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["a lowercase v1", "proxy TCP4 192.0.2.7 10.0.0.1 1 2\r\n"],
    ["v1 with an IPv6 address as TCP4", "PROXY TCP4 ::1 ::1 1 2\r\n"],
    ["v1 with an IPv4 address as TCP6", "PROXY TCP6 192.0.2.7 10.0.0.1 1 2\r\n"],
    ["v1 with a bad address", "PROXY TCP4 192.0.2.300 10.0.0.1 1 2\r\n"],
    ["v1 with a port over 65535", "PROXY TCP4 192.0.2.7 10.0.0.1 65536 2\r\n"],
    ["v1 with a port with a leading zero", "PROXY TCP4 192.0.2.7 10.0.0.1 080 2\r\n"],
    ["v1 with a field missing", "PROXY TCP4 192.0.2.7 10.0.0.1 80\r\n"],
    ["v1 with two spaces", "PROXY TCP4  192.0.2.7 10.0.0.1 1 2\r\n"],
    ["v1 without its CRLF in 107 bytes", `PROXY UNKNOWN ${"x".repeat(100)}`],
  ])("refuses %s", (_what, text) => {
    expect(readProxyHeader(Buffer.from(text, "latin1")).state).toBe("invalid");
  });

  it("refuses v2 with another version, another command, or a short address block", () => {
    const header = v2([198, 51, 100, 9]);
    const version = Buffer.from(header);
    version[12] = 0x11;
    const command = Buffer.from(header);
    command[12] = 0x22;
    const short = Buffer.from(header);
    short.writeUInt16BE(6, 14);
    for (const bad of [version, command, short]) expect(readProxyHeader(bad).state).toBe("invalid");
  });

  it("never throws, and a complete header never claims more bytes than it was given", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.concat([SIGNATURE, b])),
          fc.string({ maxLength: 120 }).map((s) => Buffer.from(`PROXY ${s}`, "latin1")),
        ),
        (bytes) => {
          const result = readProxyHeader(Buffer.from(bytes));
          if (result.state === "complete") expect(result.length).toBeLessThanOrEqual(bytes.length);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("ACCEPT_PROXY=on", () => {
  const topology = useTopology();
  let accepting: RunningProxy;
  beforeAll(async () => {
    accepting = await startProxy(topology.backends, { ACCEPT_PROXY: "on" });
  });
  afterAll(() => accepting.stop());

  const exchange = (pieces: (string | Buffer)[]) => exchangeWith(accepting.port, pieces);

  const backendOf = (answer: string) => /\r\nx-backend: (\S+)\r\n/i.exec(answer)?.[1];
  const whoami = "GET /whoami HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

  it("hashes the client a v1 or v2 header names, as if it had connected itself", async () => {
    for (const [i, from] of clientAddresses(24).entries()) {
      const direct = await get(topology.running.port, { from, path: "/whoami" });
      const octets = from.split(".").map(Number);
      const header = i % 2 === 0 ? `PROXY TCP4 ${from} 127.0.0.1 40000 80\r\n` : v2(octets);
      const answer = await exchange([Buffer.concat([Buffer.from(header), Buffer.from(whoami)])]);
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      expect(backendOf(answer)).toBe(direct.backend);
      // And it is the address passed on in X-Forwarded-For.
      expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)).forwardedFor).toBe(from);
    }
  });

  it("reads a header split over writes, and the requests behind it", async () => {
    const header = "PROXY TCP4 127.0.3.9 127.0.0.1 40000 80\r\n";
    const answer = await exchange([
      header.slice(0, 9),
      header.slice(9) + "GET /a HTTP/1.1\r\nHost: a\r\n\r\n" + whoami.slice(0, 12),
      whoami.slice(12),
    ]);
    expect(answer.match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
    expect(answer).toContain('"forwardedFor":"127.0.3.9"');
  });

  it("keeps the connection's own peer for LOCAL and UNKNOWN (a balancer's health checks)", async () => {
    for (const header of [v2([10, 9, 8, 7], 0), Buffer.from("PROXY UNKNOWN\r\n")]) {
      const answer = await exchange([Buffer.concat([header, Buffer.from(whoami)])]);
      expect(answer).toContain('"forwardedFor":"127.0.0.1"');
    }
  });

  it("closes a connection that does not start with one, answering nothing", async () => {
    expect(await exchange([whoami])).toBe("");
    expect(await exchange(["PROXY TCP4 127.0.0.1 nonsense\r\n", whoami])).toBe("");
  });
});

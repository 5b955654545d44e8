import { describe, expect, it } from "@jest/globals";
import { createHashRing } from "@stickyring/hashing";
import {
  endToEndHeaders,
  endToEndRawHeaders,
  trailerFields,
} from "../src/data-plane/forwarded-headers.js";
import { clientAddresses, get, startProxy, useTopology } from "./harness.js";

const ring = createHashRing({ servers: ["app1", "app2", "app3"].map((id) => ({ id })) });
/** Addresses whose own backend differs from the backend of `spoofed`. */
const spoofed = "198.51.100.7";
const clients = clientAddresses(200)
  .filter((c) => ring.pick(c) !== ring.pick(spoofed))
  .slice(0, 50);

// Only 127.0.200.0/24 are proxies we trust.
const topology = useTopology({ env: { TRUSTED_PROXIES: "127.0.200.0/24, ::1" } });

describe("X-Forwarded-For and Forwarded", () => {
  it("are ignored from untrusted clients: they land where their own address maps", async () => {
    for (const from of clients) {
      const spoofs: Record<string, string>[] = [
        { "x-forwarded-for": spoofed },
        { forwarded: `for=${spoofed}` },
        { "x-forwarded-for": `10.0.0.1, ${spoofed}` },
      ];
      for (const headers of spoofs) {
        const reply = await get(topology.running.port, { from, headers });
        expect(reply.backend).toBe(ring.pick(from));
      }
    }
  });

  it("are honoured from a trusted proxy: the request lands where the forwarded client maps", async () => {
    const proxyAddress = "127.0.200.9";
    for (const client of clientAddresses(100, 5000)) {
      const viaXff = await get(topology.running.port, {
        from: proxyAddress,
        headers: { "x-forwarded-for": `203.0.113.5, ${client}` },
      });
      expect(viaXff.backend).toBe(ring.pick(client));
      const viaForwarded = await get(topology.running.port, {
        from: proxyAddress,
        headers: { forwarded: `for="${client}:4711";proto=https` },
      });
      expect(viaForwarded.backend).toBe(ring.pick(client));
    }
  });

  it("peels trusted hops from the right and stops at garbage", async () => {
    const reply = await get(topology.running.port, {
      from: "127.0.200.9",
      headers: { "x-forwarded-for": `${spoofed}, not-an-ip, 127.0.200.3` },
    });
    // 127.0.200.3 is trusted, "not-an-ip" is garbage: the walk stops at 127.0.200.3.
    expect(reply.backend).toBe(ring.pick("127.0.200.3"));
  });

  it("passes X-Forwarded-For, -Proto and -Host to the backend", async () => {
    const reply = await get(topology.running.port, {
      from: "127.0.9.9",
      path: "/whoami",
      headers: { host: "shop.example", "x-forwarded-proto": "https" },
    });
    const seen = JSON.parse(reply.body);
    expect(seen.forwardedFor).toBe("127.0.9.9");
    expect(seen.forwardedProto).toBe("http"); // an untrusted client's claim is replaced
    expect(seen.forwardedHost).toBe("shop.example");
  });
});

describe("a dual-stack listener", () => {
  it("names an IPv4 client in its IPv4 form, never ::ffff:a.b.c.d", async () => {
    const dual = await startProxy(topology.backends, { HOST: "::" });
    try {
      const reply = await get(dual.port, { from: "127.0.9.10", path: "/whoami" });
      expect(JSON.parse(reply.body).forwardedFor).toBe("127.0.9.10");
    } finally {
      await dual.stop();
    }
  });
});

describe("endToEndHeaders", () => {
  it("leaves out hop-by-hop headers and those Connection names, keeps the rest in order", () => {
    const list = endToEndHeaders({
      host: "shop.example",
      connection: "keep-alive, X-Private ,upgrade",
      "keep-alive": "timeout=5",
      "x-private": "secret",
      te: "trailers",
      "transfer-encoding": "chunked",
      "proxy-connection": "keep-alive",
      trailer: "x-sum",
      expect: "100-continue",
      upgrade: "h2c",
      "content-type": "text/plain",
      "set-cookie": ["a=1", "b=2"],
      "content-length": undefined,
    });
    // Trailer announces end-to-end fields (RFC 9110 6.6.2): it is passed on.
    expect(list).toEqual([
      "host",
      "shop.example",
      "trailer",
      "x-sum",
      "content-type",
      "text/plain",
      "set-cookie",
      "a=1",
      "set-cookie",
      "b=2",
    ]);
  });

  it("never lets Connection take away what the proxy sets: forwarding, client certificate, request id", () => {
    const list = endToEndHeaders(
      {
        connection: "x-forwarded-for, X-SSL-Client-Verify, x-request-id, x-other",
        "x-forwarded-for": "203.0.113.1",
        "x-ssl-client-verify": "SUCCESS",
        "x-request-id": "id-1",
        "x-other": "dropped",
      },
      "x-request-id",
    );
    expect(list).toEqual([
      "x-forwarded-for",
      "203.0.113.1",
      "x-ssl-client-verify",
      "SUCCESS",
      "x-request-id",
      "id-1",
    ]);
  });

  it("keeps everything end-to-end when there is no Connection header", () => {
    expect(endToEndHeaders({ "x-a": "1", "x-b": "2" })).toEqual(["x-a", "1", "x-b", "2"]);
  });
});

describe("endToEndRawHeaders", () => {
  it("leaves out hop-by-hop names in any case, keeps Trailer and others of the same lengths with their case and repeats", () => {
    const list = endToEndRawHeaders([
      ...["Connection", "close, X-Private", "Keep-Alive", "timeout=5", "TE", "trailers"],
      ...["Trailer", "x-sum", "UPGRADE", "h2c", "Expect", "100-continue"],
      ...["Proxy-Connection", "keep-alive", "Transfer-Encoding", "chunked", "X-PRIVATE", "secret"],
      // The same lengths as hop-by-hop names: 6, 7, 10, 16, 17, 2.
      ...["Server", "nginx", "X-Trace", "t1", "Set-Cookie", "a=1", "Set-Cookie", "b=2"],
      ...["X-Powered-By-App", "p", "X-Request-Id-Tail", "r", "XY", "z"],
    ]);
    expect(list).toEqual([
      ...["Trailer", "x-sum"],
      ...["Server", "nginx", "X-Trace", "t1", "Set-Cookie", "a=1", "Set-Cookie", "b=2"],
      ...["X-Powered-By-App", "p", "X-Request-Id-Tail", "r", "XY", "z"],
    ]);
  });
});

describe("trailerFields", () => {
  it("leaves out what the proxy sets in the head, whatever the case, and the request id's name", () => {
    expect(
      trailerFields(
        [
          "X-SSL-Client-Verify",
          "SUCCESS",
          "x-ssl-client-s-dn",
          "CN=admin",
          "X-Forwarded-For",
          "10.0.0.1",
          "X-Request-ID",
          "mine",
          "x-checksum",
          "abc",
        ],
        "x-request-id",
      ),
    ).toEqual(["x-checksum", "abc"]);
  });
});

// The TLS port over HTTP/1.1: the same routing as the plain port, the
// certificate SNI names, TLS policy, PROXY protocol before TLS, HSTS and the
// plain port's redirect, and connections that never become TLS.

import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createHashRing, sourceKey } from "@stickyring/hashing";
import { listen } from "@stickyring/runtime";
import {
  clientAddresses,
  get,
  mapLimit,
  startBackend,
  startProxy,
  type Backend,
  type RunningProxy,
} from "./harness.js";
import WebSocket from "ws";
import { converse } from "./raw-client.js";
import { h2Request, h2Session, httpsGet, stapledResponse } from "./tls-client.js";
import { createPki, type Leaf, type Pki } from "./tls-pki.js";
import { loadCertificates } from "../src/http/tls/certificates.js";
import { INTERMEDIATE_CIPHERS } from "../src/http/tls/policy.js";

const ids = ["app1", "app2", "app3"];
const ring = createHashRing({ servers: ids.map((id) => ({ id })) });
/** 127.24.x.y: this suite's client addresses. */
const CLIENTS = clientAddresses(300, (24 << 16) - 256);

let pki: Pki;
let localhost: Leaf;
let backends: Backend[];

beforeAll(async () => {
  pki = createPki();
  localhost = pki.leaf("localhost", ["localhost"]);
  backends = await Promise.all([1, 2, 3].map((n) => startBackend(n)));
});

afterAll(async () => {
  await Promise.all(backends.map((b) => b.kill()));
  pki.remove();
});

function tlsEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { TLS_PORT: "0", TLS_CERT: localhost.certFile, TLS_KEY: localhost.keyFile, ...extra };
}

/** A TLS handshake with the port; resolves with the secure socket. */
function handshake(
  port: number,
  options: {
    servername?: string;
    from?: string;
    session?: Buffer;
    minVersion?: "TLSv1.2" | "TLSv1.3";
    maxVersion?: "TLSv1.2" | "TLSv1.3";
    ciphers?: string;
    ALPNProtocols?: string[];
  } = {},
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: "127.0.0.1",
      port,
      ca: pki.ca,
      servername: options.servername ?? "localhost",
      // net.connect's option, passed on by tls.connect (its type leaves it out).
      ...({ localAddress: options.from } as object),
      session: options.session,
      minVersion: options.minVersion,
      maxVersion: options.maxVersion,
      ciphers: options.ciphers,
      ALPNProtocols: options.ALPNProtocols,
      // Which certificate came is what the tests check, by its fingerprint.
      checkServerIdentity: () => undefined,
    });
    socket.once("secureConnect", () => resolve(socket));
    socket.once("error", reject);
  });
}

describe("HTTPS (HTTP/1.1 over TLS)", () => {
  let running: RunningProxy;
  let tlsPort: number;
  beforeAll(async () => {
    running = await startProxy(backends, tlsEnv());
    tlsPort = (running.proxy.tlsServer!.address() as { port: number }).port;
  });
  afterAll(() => running.stop());

  it("sends every client to the server the ring predicts for its address, as the plain port does", async () => {
    const seen = await mapLimit(CLIENTS, 32, async (from) => {
      const secure = await httpsGet(tlsPort, { from, ca: pki.ca });
      const plain = await get(running.port, { from });
      expect(secure.status).toBe(200);
      expect(secure.body).toBe(`Hello from App ${secure.backend!.slice(3)}`);
      expect(secure.backend).toBe(ring.pick(sourceKey(from)));
      expect(plain.backend).toBe(secure.backend);
      return secure.backend!;
    });
    expect(new Set(seen)).toEqual(new Set(ids));
  }, 30_000);

  it("tells the server X-Forwarded-Proto: https, and the plain port still says http", async () => {
    const from = CLIENTS[0]!;
    const secure = JSON.parse(
      (await httpsGet(tlsPort, { from, ca: pki.ca, path: "/whoami" })).body,
    );
    expect(secure).toMatchObject({
      forwardedProto: "https",
      forwardedFor: from,
      forwardedHost: "127.0.0.1:" + tlsPort,
    });
    const plain = JSON.parse((await get(running.port, { from, path: "/whoami" })).body);
    expect(plain.forwardedProto).toBe("http");
  });

  it("keeps a connection alive for many requests, with bodies both ways", async () => {
    const { Agent } = await import("node:https");
    const agent = new Agent({
      keepAlive: true,
      maxSockets: 1,
      ca: pki.ca,
      localAddress: CLIENTS[1],
    });
    const body = "x".repeat(300_000);
    for (let i = 0; i < 20; i++) {
      const reply = await httpsGet(tlsPort, {
        ca: pki.ca,
        agent,
        method: "POST",
        path: "/upload",
        body,
        headers: { "content-type": "text/plain" },
      });
      expect(JSON.parse(reply.body).bytes).toBe(body.length);
    }
    const download = await httpsGet(tlsPort, { ca: pki.ca, agent, path: "/download?mb=8" });
    expect(download.body.length).toBe(8 << 20);
    agent.destroy();
  });

  it("offers TLS 1.2 and 1.3 with forward-secret AEAD suites only, and nothing older", async () => {
    const v13 = await handshake(tlsPort);
    expect(v13.getProtocol()).toBe("TLSv1.3");
    v13.destroy();
    const v12 = await handshake(tlsPort, { maxVersion: "TLSv1.2" });
    expect(v12.getProtocol()).toBe("TLSv1.2");
    expect(v12.getCipher().name).toMatch(
      /^ECDHE-(ECDSA|RSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/,
    );
    v12.destroy();
    await expect(
      handshake(tlsPort, {
        maxVersion: "TLSv1.2",
        ciphers: "AES128-SHA:AES256-GCM-SHA384:ECDHE-RSA-AES128-SHA",
      }),
    ).rejects.toThrow();
  });

  it("resumes a session from its ticket (no full handshake)", async () => {
    const first = await handshake(tlsPort, { maxVersion: "TLSv1.2" });
    const session = first.getSession()!;
    first.destroy();
    const second = await handshake(tlsPort, { maxVersion: "TLSv1.2", session });
    expect(second.isSessionReused()).toBe(true);
    second.destroy();
  });

  it("chooses by ALPN in its own order (h2, http/1.1, http/1.0), serves http/1.0 alone, refuses what it does not speak", async () => {
    const chosen = async (ALPNProtocols: string[]) => {
      const socket = await handshake(tlsPort, { ALPNProtocols });
      socket.destroy();
      return socket.alpnProtocol;
    };
    expect(await chosen(["http/1.1", "h2"])).toBe("h2");
    expect(await chosen(["http/1.0", "http/1.1"])).toBe("http/1.1");
    // As nginx: a client that only speaks HTTP/1.0 is served (it was refused with an alert before).
    const old = await handshake(tlsPort, { ALPNProtocols: ["http/1.0"] });
    expect(old.alpnProtocol).toBe("http/1.0");
    const answer = await new Promise<string>((resolve, reject) => {
      let text = "";
      old.on("data", (d: Buffer) => (text += d.toString("latin1")));
      old.on("end", () => resolve(text));
      old.on("error", reject);
      old.write("GET /old HTTP/1.0\r\nHost: localhost\r\n\r\n");
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toMatch(/Hello from App \d$/);
    old.destroy();
    await expect(handshake(tlsPort, { ALPNProtocols: ["spdy/3", "acme-tls/1"] })).rejects.toThrow(
      /no application protocol/i,
    );
  });

  it("carries WebSocket over TLS (wss) to the client's server, messages both ways", async () => {
    for (const from of CLIENTS.slice(20, 30)) {
      const echoed = await new Promise<string[]>((resolve, reject) => {
        const socket = new WebSocket(`wss://localhost:${tlsPort}/live`, {
          ca: pki.ca,
          localAddress: from,
        });
        const messages: string[] = [];
        socket.on("message", (data) => {
          messages.push(String(data));
          if (messages.length === 1) socket.send("ping over tls");
          else {
            socket.close();
            resolve(messages);
          }
        });
        socket.once("error", reject);
      });
      const app = ring.pick(sourceKey(from))!.slice(3);
      expect(echoed).toEqual([`Hello from App ${app}`, `Hello from App ${app}: ping over tls`]);
    }
  });

  it("cuts a connection whose handshake never ends, and one that speaks plain HTTP or garbage, and goes on serving", async () => {
    const plainText = await converse(tlsPort, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await plainText.closed;
    expect(plainText.text()).not.toMatch(/HTTP\/1\.1 200/);
    const garbage = await converse(
      tlsPort,
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5, 0xff, 0xff]),
    );
    await garbage.closed;
    const reply = await httpsGet(tlsPort, { ca: pki.ca, from: CLIENTS[2] });
    expect(reply.status).toBe(200);
  });
});

describe("TLS port timeouts", () => {
  let running: RunningProxy;
  let tlsPort: number;
  beforeAll(async () => {
    running = await startProxy(backends, tlsEnv({ TIMEOUT_CLIENT: "500ms" }));
    tlsPort = (running.proxy.tlsServer!.address() as { port: number }).port;
  });
  afterAll(() => running.stop());

  it("cuts a TLS handshake that never completes after TIMEOUT_CLIENT", async () => {
    const started = Date.now();
    // A ClientHello's first bytes, and nothing more.
    const stalled = await converse(tlsPort, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    const silent = await converse(tlsPort, []);
    await Promise.all([stalled.closed, silent.closed]);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(3000);
  });
});

describe("certificates chosen by SNI from a folder (TLS_CERTS)", () => {
  let running: RunningProxy;
  let tlsPort: number;
  let leaves: Record<string, Leaf>;
  beforeAll(async () => {
    const dir = join(pki.dir, "sites");
    mkdirSync(dir);
    leaves = {
      // The first in name order is the default.
      a: pki.leaf("a-default", ["default.test"], { dir }),
      b: pki.leaf("b-shop", ["shop.test", "www.shop.test"], { dir, keyType: "rsa" }),
      c: pki.leaf("c-wild", ["*.apps.test"], { dir }),
    };
    running = await startProxy(backends, { TLS_PORT: "0", TLS_CERTS: dir });
    tlsPort = (running.proxy.tlsServer!.address() as { port: number }).port;
  });
  afterAll(() => running.stop());

  it("serves each name its own certificate, wildcards one label deep, others the default", async () => {
    const cert = async (servername: string) =>
      await handshake(tlsPort, { servername }).then((s) => {
        const fingerprint = s.getPeerCertificate().fingerprint256;
        s.destroy();
        return fingerprint;
      });
    expect(await cert("shop.test")).toBe(leaves.b!.fingerprint);
    expect(await cert("WWW.Shop.Test")).toBe(leaves.b!.fingerprint);
    expect(await cert("api.apps.test")).toBe(leaves.c!.fingerprint);
    expect(await cert("deep.api.apps.test")).toBe(leaves.a!.fingerprint);
    expect(await cert("unknown.test")).toBe(leaves.a!.fingerprint);
    const reply = await httpsGet(tlsPort, {
      ca: pki.ca,
      servername: "shop.test",
      from: CLIENTS[3],
    });
    expect(reply.fingerprint).toBe(leaves.b!.fingerprint);
    expect(reply.backend).toBe(ring.pick(sourceKey(CLIENTS[3]!)));
  });
});

describe("OCSP stapling (<certificate file>.ocsp)", () => {
  let running: RunningProxy;
  let tlsPort: number;
  let leaves: Record<string, Leaf>;
  beforeAll(async () => {
    const dir = join(pki.dir, "stapled");
    mkdirSync(dir);
    leaves = {
      good: pki.leaf("a-good", ["good.test"], { dir }),
      other: pki.leaf("b-other", ["other.test"], { dir }),
      revoked: pki.leaf("c-revoked", ["revoked.test"], { dir }),
      none: pki.leaf("d-none", ["none.test"], { dir }),
      fifo: pki.leaf("e-fifo", ["fifo.test"], { dir }),
    };
    // A pipe where the file should be: read, it would block the whole process.
    execFileSync("mkfifo", [`${leaves.fifo!.certFile}.ocsp`]);
    pki.ocsp(leaves.good!, `${leaves.good!.certFile}.ocsp`);
    // A response about another certificate, and one saying this one is revoked: never stapled.
    pki.ocsp(leaves.good!, `${leaves.other!.certFile}.ocsp`);
    pki.ocsp(leaves.revoked!, `${leaves.revoked!.certFile}.ocsp`, "revoked");
    running = await startProxy(backends, { TLS_PORT: "0", TLS_CERTS: dir });
    tlsPort = (running.proxy.tlsServer!.address() as { port: number }).port;
  });
  afterAll(() => running.stop());

  const stapled = (servername: string) => stapledResponse(tlsPort, pki.ca, servername);

  it("staples a certificate's good response to handshakes that ask for it, byte for byte", async () => {
    const response = await stapled("good.test");
    expect(response).toEqual(readFileSync(`${leaves.good!.certFile}.ocsp`));
  });

  it("staples nothing for a response about another certificate, a revoked one, a pipe, or none", async () => {
    expect(await stapled("other.test")).toBeUndefined();
    expect(await stapled("revoked.test")).toBeUndefined();
    expect(await stapled("none.test")).toBeUndefined();
    expect(await stapled("fifo.test")).toBeUndefined();
  });

  it("says at load which files it does not staple, and why", () => {
    const set = loadCertificates(
      { cert: undefined, key: undefined, dir: join(pki.dir, "stapled") },
      { minVersion: "TLSv1.2", ciphers: INTERMEDIATE_CIPHERS },
    );
    if ("problem" in set) throw new Error(set.problem.reason);
    expect(set.set.notes).toEqual([
      expect.stringMatching(/b-other\.pem\.ocsp: it is about another certificate .*; not stapled$/),
      expect.stringMatching(/c-revoked\.pem\.ocsp: the certificate is revoked; not stapled$/),
      expect.stringMatching(/e-fifo\.pem\.ocsp: not a regular file; not stapled$/),
    ]);
  });
});

describe("session tickets", () => {
  let running: RunningProxy;
  let tlsPort: number;
  const dir = () => join(pki.dir, "tickets");
  beforeAll(async () => {
    const dir = join(pki.dir, "tickets");
    mkdirSync(dir);
    pki.leaf("a", ["default.test"], { dir });
    pki.leaf("b", ["shop.test"], { dir });
    running = await startProxy(backends, { TLS_PORT: "0", TLS_CERTS: dir });
    tlsPort = (running.proxy.tlsServer!.address() as { port: number }).port;
  });
  afterAll(() => running.stop());

  /** A ticket from one handshake, then whether the next handshake resumed with it. */
  async function resumes(servername: string, between: () => void = () => {}) {
    for (const maxVersion of ["TLSv1.2", "TLSv1.3"] as const) {
      const first = await handshake(tlsPort, { servername, maxVersion });
      // TLS 1.3 tickets come after the handshake.
      const session = await new Promise<Buffer>((resolve) => {
        const ticket = first.getSession();
        if (maxVersion === "TLSv1.2" && ticket) resolve(ticket);
        else first.once("session", resolve);
        first.resume();
      });
      first.destroy();
      between();
      const second = await handshake(tlsPort, { servername, maxVersion, session });
      const reused = second.isSessionReused();
      second.destroy();
      if (!reused) return false;
    }
    return true;
  }

  it("resumes sessions of the default certificate and of one SNI chose, in TLS 1.2 and 1.3", async () => {
    expect(await resumes("default.test")).toBe(true);
    expect(await resumes("shop.test")).toBe(true);
  });

  it("keeps the ticket key across a certificate reload", async () => {
    const reload = () => {
      pki.leaf(`added${Date.now()}`, ["added.test"], { dir: dir() });
      expect(running.proxy.reloadCertificates()).toBe("reloaded");
    };
    expect(await resumes("shop.test", reload)).toBe(true);
  });
});

describe("PROXY protocol in front of TLS (ACCEPT_PROXY)", () => {
  let running: RunningProxy;
  let tlsPort: number;
  beforeAll(async () => {
    running = await startProxy(backends, tlsEnv({ ACCEPT_PROXY: "on" }));
    tlsPort = (running.proxy.tlsServer!.address() as { port: number }).port;
  });
  afterAll(() => running.stop());

  /** A TLS connection that first sends a PROXY v1 header naming `client`; one GET /whoami on it. */
  const viaBalancer = (client: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const raw = netConnect({ host: "127.0.0.1", port: tlsPort }, () => {
        raw.write(`PROXY TCP4 ${client} 127.0.0.1 40000 443\r\n`);
        const socket = tlsConnect({ socket: raw, ca: pki.ca, servername: "localhost" }, () =>
          socket.end("GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
        );
        let text = "";
        socket.setEncoding("latin1");
        socket.on("data", (d: string) => (text += d));
        socket.on("end", () =>
          resolve({
            status: Number(text.slice(9, 12)),
            body: text.slice(text.indexOf("\r\n\r\n") + 4),
          }),
        );
        socket.on("error", reject);
      });
      raw.on("error", reject);
    });

  it("routes on the address the header names and forwards it", async () => {
    for (const client of ["203.0.113.7", "198.51.100.20", "192.0.2.33"]) {
      const reply = await viaBalancer(client);
      expect(reply.status).toBe(200);
      const body = JSON.parse(reply.body.replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, ""));
      expect(body.forwardedFor).toBe(client);
      expect(body.forwardedProto).toBe("https");
      expect(body.app).toBe(ring.pick(sourceKey(client)));
    }
  });

  it("closes a connection that starts with a ClientHello instead of the header", async () => {
    await expect(handshake(tlsPort)).rejects.toThrow();
  });
});

describe("connections per client address in front of TLS (CLIENT_ADDRESS_MAXCONN, ACCEPT_PROXY)", () => {
  let running: RunningProxy;
  let tlsPort: number;
  beforeAll(async () => {
    running = await startProxy(
      backends,
      tlsEnv({ ACCEPT_PROXY: "on", CLIENT_ADDRESS_MAXCONN: "1" }),
    );
    tlsPort = (running.proxy.tlsServer!.address() as { port: number }).port;
  });
  afterAll(() => running.stop());

  /** A TLS connection behind a PROXY header naming `client`: "secure", or "closed" when the proxy closed it first. */
  const secure = (client: string) =>
    new Promise<{ outcome: string; socket: TLSSocket }>((resolve) => {
      const raw = netConnect({ host: "127.0.0.1", port: tlsPort }, () => {
        raw.write(`PROXY TCP4 ${client} 127.0.0.1 40000 443\r\n`);
        const socket = tlsConnect({ socket: raw, ca: pki.ca, servername: "localhost" }, () =>
          resolve({ outcome: "secure", socket }),
        );
        socket.on("error", () => resolve({ outcome: "closed", socket }));
        socket.on("close", () => resolve({ outcome: "closed", socket }));
      });
      raw.on("error", () => undefined);
    });

  it("closes a second connection from the address the header names before its handshake", async () => {
    const first = await secure("203.0.113.7");
    expect(first.outcome).toBe("secure");
    const second = await secure("203.0.113.7");
    expect(second.outcome).toBe("closed");
    const other = await secure("203.0.113.8");
    expect(other.outcome).toBe("secure");
    for (const { socket } of [first, second, other]) socket.destroy();
  });
});

describe("HSTS and HTTPS_REDIRECT", () => {
  let running: RunningProxy;
  let tlsPort: number;
  beforeAll(async () => {
    running = await startProxy(
      backends,
      tlsEnv({
        HSTS: "max-age=63072000; includeSubDomains",
        HTTPS_REDIRECT: "on",
        MONITOR_URI: "/healthz-proxy",
      }),
    );
    tlsPort = (running.proxy.tlsServer!.address() as { port: number }).port;
  });
  afterAll(() => running.stop());

  it("answers the plain port with 308 to the https URL, keeping path and query, but not the monitor URI", async () => {
    const { request } = await import("node:http");
    const location = await new Promise<{
      status: number;
      location: string | undefined;
      hsts: unknown;
    }>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: running.port,
          path: "/a/b?c=d",
          method: "POST",
          headers: { host: "shop.test:8080" },
        },
        (res) => {
          res.resume();
          resolve({
            status: res.statusCode!,
            location: res.headers.location,
            hsts: res.headers["strict-transport-security"],
          });
        },
      );
      req.on("error", reject);
      req.end("body");
    });
    expect(location).toEqual({
      status: 308,
      location: `https://shop.test:${tlsPort}/a/b?c=d`,
      hsts: undefined,
    });
    const monitor = await get(running.port, { path: "/healthz-proxy" });
    expect(monitor.status).toBe(200);
  });

  it("sends Strict-Transport-Security on TLS answers, errors included", async () => {
    const reply = await httpsGet(tlsPort, { ca: pki.ca, from: CLIENTS[4] });
    expect(reply.status).toBe(200);
    expect(reply.headers["strict-transport-security"]).toBe("max-age=63072000; includeSubDomains");
    const monitor = await httpsGet(tlsPort, { ca: pki.ca, path: "/healthz-proxy" });
    expect(monitor.headers["strict-transport-security"]).toBe(
      "max-age=63072000; includeSubDomains",
    );
  });

  it("replaces a server's own Strict-Transport-Security, over HTTP/1.1 and HTTP/2 alike", async () => {
    const server = createServer((_req, res) => {
      res.setHeader("Strict-Transport-Security", "max-age=1");
      res.end("own hsts");
    });
    const port = await listen(server, 0, "127.0.0.1");
    const proxy = await startProxy(
      [{ id: "app1", port } as Backend],
      tlsEnv({ HSTS: "max-age=600", HEALTH_INTER: "60s" }),
    );
    try {
      const port2 = (proxy.proxy.tlsServer!.address() as { port: number }).port;
      const https = await httpsGet(port2, { ca: pki.ca });
      expect(https.body).toBe("own hsts");
      // Two fields would read "max-age=1, max-age=600" (or the reverse) here.
      expect(https.headers["strict-transport-security"]).toBe("max-age=600");
      const session = await h2Session(port2, { ca: pki.ca });
      const h2 = await h2Request(session, { ":path": "/" });
      session.close();
      expect(h2.body).toBe("own hsts");
      expect(h2.headers["strict-transport-security"]).toBe("max-age=600");
    } finally {
      await proxy.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

// Client certificates on the TLS port (TLS_CLIENT_CA, TLS_CLIENT_VERIFY,
// TLS_CLIENT_CRL): who may connect, what the servers are told about them in
// X-SSL-Client-* headers, that a client cannot tell them itself, over
// HTTP/1.1, HTTP/2, resumed sessions and upgrades, and a CRL read again.

import { connect as tlsConnect } from "node:tls";
import { Agent, request } from "node:https";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createHashRing } from "@stickyring/hashing";
import {
  clientAddresses,
  get,
  startBackend,
  startProxy,
  type Backend,
  type RunningProxy,
} from "./harness.js";
import { h2Request, h2Session, httpsGet } from "./tls-client.js";
import { distinguishedName } from "../src/http/tls/client-certificate.js";
import { createPki, type Leaf, type Pki } from "./tls-pki.js";

const ids = ["app1", "app2", "app3"];
const ring = createHashRing({ servers: ids.map((id) => ({ id })) });
/** 127.24.x.y: this suite's client addresses. */
const CLIENTS = clientAddresses(64, (24 << 16) + 3072 - 256);

let pki: Pki;
/** Another authority, which the proxy does not trust. */
let stranger: Pki;
let localhost: Leaf;
let alice: Leaf;
let bob: Leaf;
let mallory: Leaf;
/** A certificate with an empty subject, as SPIFFE workload certificates have. */
let nameless: Leaf;
let backends: Backend[];

beforeAll(async () => {
  pki = createPki();
  stranger = createPki("someone else's CA");
  localhost = pki.leaf("localhost", ["localhost"]);
  alice = pki.leaf("alice", ["alice"], { client: { subject: "/O=Example, Inc./CN=alice" } });
  bob = pki.leaf("bob", ["bob"], { client: { subject: "/CN=bob" } });
  mallory = stranger.leaf("mallory", ["mallory"], { client: { subject: "/CN=mallory" } });
  nameless = pki.leaf("nameless", ["workload"], { client: { subject: "/" } });
  backends = await Promise.all([1, 2, 3].map((n) => startBackend(n)));
});

afterAll(async () => {
  await Promise.all(backends.map((b) => b.kill()));
  pki.remove();
  stranger.remove();
});

function tlsEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    TLS_PORT: "0",
    TLS_CERT: localhost.certFile,
    TLS_KEY: localhost.keyFile,
    TLS_CLIENT_CA: pki.caFile,
    ...extra,
  };
}

const tlsPortOf = (running: RunningProxy) =>
  (running.proxy.tlsServer!.address() as { port: number }).port;

/** What /whoami says the server was told about the client's certificate. */
function toldAbout(body: string): Record<string, string | null> {
  return JSON.parse(body).clientCertificate;
}

const as = (leaf: Leaf) => ({ cert: leaf.cert, key: leaf.key });

describe("TLS_CLIENT_VERIFY=required (the default with TLS_CLIENT_CA)", () => {
  let running: RunningProxy;
  let port: number;
  beforeAll(async () => {
    running = await startProxy(backends, tlsEnv());
    port = tlsPortOf(running);
  });
  afterAll(() => running.stop());

  it("tells the server the verified certificate, replacing what the client said", async () => {
    const reply = await httpsGet(port, {
      ca: pki.ca,
      from: CLIENTS[0],
      path: "/whoami",
      ...as(alice),
      headers: { "x-ssl-client-s-dn": "CN=admin", "X-SSL-Client-Verify": "SUCCESS" },
    });
    expect(reply.status).toBe(200);
    expect(toldAbout(reply.body)).toEqual({
      verify: "SUCCESS",
      subject: "CN=alice,O=Example\\, Inc.",
      issuer: "CN=stickyring test CA",
      sha256: alice.fingerprint.replaceAll(":", "").toLowerCase(),
      serial: alice.serial,
    });
  });

  it("answers 400 naming why, and never reaches a server, without a certificate or with one it does not trust", async () => {
    for (const who of [{}, as(mallory)]) {
      const reply = await httpsGet(port, { ca: pki.ca, from: CLIENTS[1], ...who });
      expect(reply.status).toBe(400);
      expect(reply.backend).toBeUndefined();
      expect(reply.headers.connection).toBe("close");
      expect(reply.body).toBe(
        "cert" in who
          ? "400 Bad Request: the client certificate was not accepted (UNABLE_TO_VERIFY_LEAF_SIGNATURE)\n"
          : "400 Bad Request: no client certificate was sent (TLS_CLIENT_VERIFY=required)\n",
      );
    }
  });

  it("does the same over HTTP/2, stream by stream", async () => {
    const trusted = await h2Session(port, { ca: pki.ca, from: CLIENTS[2], ...as(bob) });
    const untrusted = await h2Session(port, { ca: pki.ca, from: CLIENTS[2] });
    // Every stream of it would be refused: the connection is told to go (GOAWAY) after the first.
    const goaway = new Promise((resolve) => untrusted.once("goaway", resolve));
    try {
      const [ok, refused] = await Promise.all([
        h2Request(trusted, { ":path": "/whoami", "x-ssl-client-verify": "NONE" }),
        h2Request(untrusted, { ":path": "/whoami" }),
      ]);
      await goaway;
      expect(ok.status).toBe(200);
      expect(toldAbout(ok.body)).toMatchObject({ verify: "SUCCESS", subject: "CN=bob" });
      expect(refused.status).toBe(400);
      expect(refused.backend).toBeUndefined();
      expect(refused.body).toMatch(/no client certificate was sent/);
    } finally {
      trusted.close();
      untrusted.close();
    }
  });

  it("serves a certificate with an empty subject (a SPIFFE workload's) with an empty S-DN", async () => {
    const reply = await httpsGet(port, {
      ca: pki.ca,
      from: CLIENTS[5],
      path: "/whoami",
      ...as(nameless),
    });
    expect(reply.status).toBe(200);
    expect(toldAbout(reply.body)).toMatchObject({
      verify: "SUCCESS",
      subject: "",
      issuer: "CN=stickyring test CA",
    });
  });

  it("keeps its headers when a client's Connection header names them", async () => {
    const reply = await httpsGet(port, {
      ca: pki.ca,
      from: CLIENTS[5],
      path: "/whoami",
      ...as(bob),
      headers: { connection: "keep-alive, X-SSL-Client-Verify, x-ssl-client-i-dn" },
    });
    expect(toldAbout(reply.body)).toMatchObject({
      verify: "SUCCESS",
      issuer: "CN=stickyring test CA",
    });
  });

  it("knows the client of a resumed session (TLS 1.2 and 1.3)", async () => {
    for (const maxVersion of ["TLSv1.2", "TLSv1.3"] as const) {
      const agent = new Agent({ keepAlive: false, ca: pki.ca, maxVersion, ...as(alice) });
      const once = () =>
        new Promise<{ reused: boolean; body: string }>((resolve, reject) => {
          const req = request(
            { host: "127.0.0.1", port, path: "/whoami", servername: "localhost", agent },
            (res) => {
              let body = "";
              res.setEncoding("utf8");
              res.on("data", (chunk: string) => (body += chunk));
              res.on("end", () =>
                resolve({
                  reused: (res.socket as import("node:tls").TLSSocket).isSessionReused(),
                  body,
                }),
              );
            },
          );
          req.on("error", reject);
          req.end();
        });
      const first = await once();
      // A TLS 1.3 ticket comes after the handshake: give it a moment to arrive.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const second = await once();
      expect([first.reused, second.reused]).toEqual([false, true]);
      expect(toldAbout(second.body)).toEqual(toldAbout(first.body));
      expect(toldAbout(second.body).subject).toBe("CN=alice,O=Example\\, Inc.");
      agent.destroy();
    }
  });

  it("refuses a WebSocket upgrade without a certificate with the same 400", async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: "127.0.0.1", port, ca: pki.ca, servername: "localhost" });
      let text = "";
      socket.setEncoding("utf8");
      socket.on("secureConnect", () =>
        socket.write(
          "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        ),
      );
      socket.on("data", (chunk: string) => (text += chunk));
      socket.on("close", () => resolve(text));
      socket.on("error", reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).toMatch(/\r\n\r\n400 Bad Request: no client certificate was sent/);
  });

  it("takes the headers out of requests on the plain port: only a handshake can say them", async () => {
    const reply = await get(running.port, {
      from: CLIENTS[3],
      path: "/whoami",
      headers: { "x-ssl-client-verify": "SUCCESS", "x-ssl-client-sha256": "00" },
    });
    expect(toldAbout(reply.body)).toEqual({
      verify: null,
      subject: null,
      issuer: null,
      sha256: null,
      serial: null,
    });
  });
});

describe("TLS_CLIENT_VERIFY=optional", () => {
  let running: RunningProxy;
  let port: number;
  beforeAll(async () => {
    running = await startProxy(backends, tlsEnv({ TLS_CLIENT_VERIFY: "optional" }));
    port = tlsPortOf(running);
  });
  afterAll(() => running.stop());

  it("serves a client without a certificate as NONE, one with a trusted one as SUCCESS, and refuses an untrusted one", async () => {
    const none = await httpsGet(port, {
      ca: pki.ca,
      from: CLIENTS[4],
      path: "/whoami",
      headers: { "x-ssl-client-s-dn": "CN=alice" },
    });
    expect(none.status).toBe(200);
    expect(toldAbout(none.body)).toEqual({
      verify: "NONE",
      subject: null,
      issuer: null,
      sha256: null,
      serial: null,
    });
    const known = await httpsGet(port, {
      ca: pki.ca,
      from: CLIENTS[4],
      path: "/whoami",
      ...as(bob),
    });
    expect(toldAbout(known.body)).toMatchObject({ verify: "SUCCESS", subject: "CN=bob" });
    const refused = await httpsGet(port, { ca: pki.ca, from: CLIENTS[4], ...as(mallory) });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/the client certificate was not accepted/);
  });
});

describe("balancing on the client certificate (BALANCE=hdr(X-SSL-Client-SHA256))", () => {
  let running: RunningProxy;
  let port: number;
  beforeAll(async () => {
    running = await startProxy(backends, tlsEnv({ BALANCE: "hdr(X-SSL-Client-SHA256)" }));
    port = tlsPortOf(running);
  });
  afterAll(() => running.stop());

  it("sends one certificate to one server from every address, the server its fingerprint hashes to", async () => {
    for (const leaf of [alice, bob]) {
      const expected = ring.pick(leaf.fingerprint.replaceAll(":", "").toLowerCase());
      const seen = new Set<string | undefined>();
      for (const from of CLIENTS.slice(8, 24))
        seen.add((await httpsGet(port, { ca: pki.ca, from, ...as(leaf) })).backend);
      expect([...seen]).toEqual([expected]);
    }
  });
});

describe("TLS_CLIENT_CRL", () => {
  let running: RunningProxy;
  let port: number;
  let crlFile: string;
  beforeAll(async () => {
    crlFile = join(pki.dir, "live-crl.pem");
    copyFileSync(pki.crl("first-crl.pem", [alice]), crlFile);
    running = await startProxy(backends, tlsEnv({ TLS_CLIENT_CRL: crlFile }));
    port = tlsPortOf(running);
  });
  afterAll(() => running.stop());

  it("refuses a revoked certificate, and one revoked later once the CRL is read again", async () => {
    const revoked = await httpsGet(port, { ca: pki.ca, from: CLIENTS[30], ...as(alice) });
    expect(revoked.status).toBe(400);
    expect(revoked.body).toBe(
      "400 Bad Request: the client certificate was not accepted (CERT_REVOKED)\n",
    );
    expect((await httpsGet(port, { ca: pki.ca, from: CLIENTS[30], ...as(bob) })).status).toBe(200);

    copyFileSync(pki.crl("second-crl.pem", [alice, bob]), crlFile);
    expect(running.proxy.reloadCertificates()).toBe("reloaded");
    const now = await httpsGet(port, { ca: pki.ca, from: CLIENTS[30], ...as(bob) });
    expect(now.status).toBe(400);
    expect(now.body).toMatch(/CERT_REVOKED/);
  });
});

describe("TLS_CLIENT_CRL with several CRLs in the file", () => {
  let running: RunningProxy;
  let port: number;
  beforeAll(async () => {
    // Two authorities trusted, a CRL from each in one file: OpenSSL checks a
    // chain only against its own issuer's CRL, and wants one for each.
    const caFile = join(pki.dir, "both-cas.pem");
    writeFileSync(caFile, pki.ca + stranger.ca);
    const crlFile = join(pki.dir, "both-crls.pem");
    writeFileSync(
      crlFile,
      readFileSync(pki.crl("mine.pem", [alice]), "utf8") +
        readFileSync(stranger.crl("theirs.pem", []), "utf8"),
    );
    running = await startProxy(
      backends,
      tlsEnv({ TLS_CLIENT_CA: caFile, TLS_CLIENT_CRL: crlFile }),
    );
    port = tlsPortOf(running);
  });
  afterAll(() => running.stop());

  it("reads every one of them, not only the first", async () => {
    const theirs = await httpsGet(port, { ca: pki.ca, from: CLIENTS[31], ...as(mallory) });
    expect(theirs.status).toBe(200);
    const revoked = await httpsGet(port, { ca: pki.ca, from: CLIENTS[31], ...as(alice) });
    expect(revoked.body).toMatch(/CERT_REVOKED/);
    expect((await httpsGet(port, { ca: pki.ca, from: CLIENTS[31], ...as(bob) })).status).toBe(200);
  });
});

describe("distinguishedName", () => {
  it("writes Node's lines as one RFC 2253 name, the most specific first, escaping what a header cannot carry", () => {
    expect(distinguishedName("C=DE\nO=Example\\, Inc.\nCN=alice")).toBe(
      "CN=alice,O=Example\\, Inc.,C=DE",
    );
    expect(distinguishedName("CN=Zoë\u0007")).toBe("CN=Zo\\C3\\AB\\07");
    // A multi-valued RDN: its attributes joined by a bare +; an escaped + stays.
    expect(distinguishedName("O=Probe\nCN=multi + UID=u\\+1")).toBe("CN=multi+UID=u\\+1,O=Probe");
    expect(distinguishedName("")).toBe("");
  });
});

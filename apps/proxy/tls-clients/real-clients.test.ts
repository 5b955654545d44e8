// The TLS port against real clients: headless Chromium loads a page over
// HTTP/2 (and a wss WebSocket that lands on the same server), h2load runs a
// multiplexed load, and testssl.sh finds no weak protocol, no weak cipher and
// no vulnerability. The certificate is RSA, as most sites' still are, made at
// run time by the test's own CA.

import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { chromium, type Browser } from "playwright-core";
import { createHashRing, sourceKey } from "@stickyring/hashing";
import { startBackend, startProxy, type Backend, type RunningProxy } from "../test/harness.js";
import { createPki, type Pki } from "../test/tls-pki.js";

const run = promisify(execFile);
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ring = createHashRing({ servers: ["app1", "app2", "app3"].map((id) => ({ id })) });
/** Chromium, h2load and testssl connect from 127.0.0.1. */
const expected = ring.pick(sourceKey("127.0.0.1"))!;

let pki: Pki;
let backends: Backend[];
let running: RunningProxy;
let tlsPort: number;

beforeAll(async () => {
  for (const tool of ["h2load", "testssl"])
    await run("sh", ["-c", `command -v ${tool}`]).catch(() => {
      throw new Error(`${tool} not found: apt-get install nghttp2-client testssl.sh`);
    });
  pki = createPki();
  const leaf = pki.leaf("localhost", ["localhost"], { keyType: "rsa" });
  backends = await Promise.all([1, 2, 3].map((n) => startBackend(n)));
  running = await startProxy(backends, {
    TLS_PORT: "0",
    TLS_CERT: leaf.combinedFile,
    HSTS: "max-age=63072000",
  });
  tlsPort = (running.proxy.tlsServer!.address() as { port: number }).port;
});

afterAll(async () => {
  await running?.stop();
  await Promise.all((backends ?? []).map((b) => b.kill()));
  pki?.remove();
});

describe("headless Chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--host-resolver-rules=MAP localhost 127.0.0.1",
      ],
    });
  });
  afterAll(() => browser?.close());

  it("loads a page over HTTP/2 from the client's server, and its wss WebSocket goes there too", async () => {
    // The test's CA is not in Chromium's store: certificate errors are waived for this context only.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const response = await page.goto(`https://localhost:${tlsPort}/page`);
    expect(response!.status()).toBe(200);
    expect(await response!.headerValue("x-backend")).toBe(expected);
    expect(await response!.headerValue("strict-transport-security")).toBe("max-age=63072000");
    // A string: the page's DOM types are not the test's (Node's) types.
    const protocol = await page.evaluate(
      "performance.getEntriesByType('navigation')[0].nextHopProtocol",
    );
    expect(protocol).toBe("h2");
    expect(await page.textContent("body")).toBe(`Hello from App ${expected.slice(3)}`);
    const greeting = await page.evaluate(
      (url) =>
        new Promise<string>((resolve, reject) => {
          const socket = new WebSocket(url);
          // Left open (window.live): the connections are counted while it is.
          (globalThis as unknown as { live: WebSocket }).live = socket;
          socket.onmessage = (event) => resolve(String(event.data));
          socket.onerror = () => reject(new Error("WebSocket failed"));
        }),
      `wss://localhost:${tlsPort}/live`,
    );
    expect(greeting).toBe(`Hello from App ${expected.slice(3)}`);
    // WebSocket over HTTP/2 (RFC 8441): a stream of the page's connection,
    // not a second connection for HTTP/1.1's upgrade.
    const connections = await new Promise<number>((resolve, reject) =>
      running.proxy.tlsServer!.getConnections((error, count) =>
        error ? reject(error) : resolve(count),
      ),
    );
    expect(connections).toBe(1);
    await page.evaluate("window.live.close()");
    await context.close();
  });
});

describe("h2load", () => {
  it("runs 5,000 requests over 10 connections of 10 streams each, every one answered", async () => {
    const { stdout } = await run("h2load", [
      "-n",
      "5000",
      "-c",
      "10",
      "-m",
      "10",
      `https://localhost:${tlsPort}/`,
    ]);
    expect(stdout).toContain("Application protocol: h2");
    expect(stdout).toMatch(
      /requests: 5000 total, 5000 started, 5000 done, 5000 succeeded, 0 failed, 0 errored, 0 timeout/,
    );
    expect(stdout).toMatch(/status codes: 5000 2xx/);
  });
});

describe("testssl.sh", () => {
  interface Finding {
    id: string;
    severity: string;
    finding: string;
  }

  it("finds no weak protocol, no weak cipher and no vulnerability", async () => {
    const json = join(pki.dir, "testssl.json");
    await run(
      "testssl",
      [
        "--quiet",
        "--color",
        "0",
        "--warnings",
        "off",
        "--jsonfile",
        json,
        "--protocols",
        "--std",
        "--each-cipher",
        "--server-preference",
        "--vulnerable",
        `localhost:${tlsPort}`,
      ],
      { timeout: 170_000, maxBuffer: 16 << 20 },
    ).catch((error: { code?: number }) => {
      // testssl's exit code counts its findings; the JSON is what is judged.
      if (typeof error.code !== "number") throw error;
    });
    const findings = JSON.parse(readFileSync(json, "utf8")) as Finding[];
    const byId = new Map(findings.map((f) => [f.id, f]));
    for (const old of ["SSLv2", "SSLv3", "TLS1", "TLS1_1"])
      expect(byId.get(old)?.finding).toMatch(/^not offered/);
    expect(byId.get("TLS1_2")?.finding).toMatch(/^offered/);
    expect(byId.get("TLS1_3")?.finding).toMatch(/^offered/);
    for (const vulnerability of [
      "heartbleed",
      "CCS",
      "ticketbleed",
      "ROBOT",
      "secure_renego",
      "secure_client_renego",
      "CRIME_TLS",
      "POODLE_SSL",
      "fallback_SCSV",
      "SWEET32",
      "FREAK",
      "DROWN",
      "LOGJAM",
      "BEAST",
      "LUCKY13",
      "RC4",
    ])
      expect(byId.has(vulnerability)).toBe(true);
    const bad = findings.filter((f) =>
      ["LOW", "MEDIUM", "HIGH", "CRITICAL", "WARN"].includes(f.severity),
    );
    expect(bad).toEqual([]);
  });
});

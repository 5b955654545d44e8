// Certificates swapped without a restart: under traffic with no failed
// request, open connections untouched, a broken file refused with the old
// certificate kept; SIGHUP in one process and through the multi-core mode's
// primary; a bad certificate at start exits with code 2.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import { waitForPort } from "@stickyring/runtime";
import { loadConfig } from "../src/config.js";
import { createStickyProxy, type StickyProxy } from "../src/proxy.js";
import { clientAddresses, startBackend, waitFor, type Backend } from "./harness.js";
import { h2Request, h2Session, httpsGet, stapledResponse } from "./tls-client.js";
import { createPki, type Leaf, type Pki } from "./tls-pki.js";

const CLIENTS = clientAddresses(64, (24 << 16) + 1024 - 256);
const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

let pki: Pki;
let backends: Backend[];

beforeAll(async () => {
  pki = createPki();
  backends = await Promise.all([1, 2].map((n) => startBackend(n)));
});

afterAll(async () => {
  await Promise.all(backends.map((b) => b.kill()));
  pki.remove();
});

const backendList = () => backends.map((b) => `${b.id}=http://127.0.0.1:${b.port}`).join(",");

/** Replaces a file as deploy tools do: write beside it, then rename over it. */
function replace(file: string, content: string): void {
  writeFileSync(`${file}.tmp`, content);
  renameSync(`${file}.tmp`, file);
}

describe("reload in one process", () => {
  let proxy: StickyProxy;
  let tlsPort: number;
  const lines: Record<string, unknown>[] = [];
  let first: Leaf;
  let certFile: string;
  let keyFile: string;

  beforeAll(async () => {
    first = pki.leaf("first", ["localhost"]);
    certFile = join(pki.dir, "live.pem");
    keyFile = join(pki.dir, "live.key");
    copyFileSync(first.certFile, certFile);
    copyFileSync(first.keyFile, keyFile);
    const config = loadConfig({
      PORT: "0",
      ADMIN_PORT: "0",
      HOST: "127.0.0.1",
      BACKENDS: backendList(),
      TLS_PORT: "0",
      TLS_CERT: certFile,
      TLS_KEY: keyFile,
    });
    const logger = pino(
      { level: "info" },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    );
    proxy = createStickyProxy(config, logger);
    tlsPort = (await proxy.start()).tlsPort!;
  });
  afterAll(() => proxy.stop(2000));

  it("swaps the certificate under traffic when the files change: new handshakes get it, open connections keep theirs, no request fails", async () => {
    const kept = new Agent({ keepAlive: true, maxSockets: 1, ca: pki.ca });
    const before = await httpsGet(tlsPort, { ca: pki.ca, agent: kept, from: CLIENTS[0] });
    expect(before.fingerprint).toBe(first.fingerprint);

    const second = pki.leaf("second", ["localhost"]);
    let failures = 0;
    let requests = 0;
    const seen = new Set<string>();
    let running = true;
    const load = Promise.all(
      CLIENTS.slice(1, 9).map(async (from) => {
        while (running) {
          try {
            const reply = await httpsGet(tlsPort, { ca: pki.ca, from });
            if (reply.status !== 200) failures++;
            seen.add(reply.fingerprint);
          } catch {
            failures++;
          }
          requests++;
        }
      }),
    );
    await waitFor(() => requests > 50);
    // The key first, then the certificate: between the two the pair does not match and is refused.
    replace(keyFile, second.key);
    replace(certFile, second.cert);
    await waitFor(() => seen.has(second.fingerprint), 5000);
    const switched = requests;
    await waitFor(() => requests > switched + 50);
    running = false;
    await load;
    expect(failures).toBe(0);
    expect(seen).toEqual(new Set([first.fingerprint, second.fingerprint]));

    // The connection opened before the swap still has its certificate, and still serves.
    const after = await httpsGet(tlsPort, { ca: pki.ca, agent: kept, from: CLIENTS[0] });
    expect(after.status).toBe(200);
    expect(after.fingerprint).toBe(first.fingerprint);
    kept.destroy();
    const fresh = await httpsGet(tlsPort, { ca: pki.ca });
    expect(fresh.fingerprint).toBe(second.fingerprint);
    expect(lines.some((l) => l.msg === "certificates reloaded" && l.cause === "file change")).toBe(
      true,
    );
  }, 20_000);

  it("refuses a broken file with a line naming it, and keeps the certificate in use", async () => {
    const inUse = (await httpsGet(tlsPort, { ca: pki.ca })).fingerprint;
    lines.length = 0;
    replace(
      certFile,
      "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
    );
    await waitFor(() => lines.some((l) => l.level === 50));
    const refusal = lines.find((l) => l.level === 50)!;
    expect(refusal.msg).toContain(`TLS_CERT=${certFile}`);
    expect(refusal.msg).toContain("the ones in use stay");
    expect(proxy.reloadCertificates()).toBe("refused");
    expect((await httpsGet(tlsPort, { ca: pki.ca })).fingerprint).toBe(inUse);

    // A key that is not the certificate's: refused, naming the key file.
    const other = pki.leaf("other", ["localhost"]);
    replace(certFile, other.cert);
    replace(keyFile, first.key);
    lines.length = 0;
    await waitFor(() => lines.some((l) => l.level === 50));
    expect(lines.find((l) => l.level === 50)!.msg).toContain(
      `TLS_KEY=${keyFile}: the private key does not match`,
    );
    expect((await httpsGet(tlsPort, { ca: pki.ca })).fingerprint).toBe(inUse);
  });

  it("reads again only for its own files, and says a refusal once however often the broken file is written", async () => {
    // From the case before: a certificate and a key that do not match, refused.
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    lines.length = 0;
    for (let i = 0; i < 5; i++) {
      // Another file in the certificates' folder, as a log written beside them.
      writeFileSync(join(pki.dir, "proxy.log"), `line ${i}\n`, { flag: "a" });
      await pause(150);
    }
    await pause(600);
    expect(lines).toEqual([]);
    replace(keyFile, first.key); // the same broken pair, written again
    await pause(800);
    expect(lines.filter((l) => (l.level as number) >= 40)).toEqual([]);
    // Asked (SIGHUP, a request), the answer is always said.
    expect(proxy.reloadCertificates()).toBe("refused");
    expect(lines.filter((l) => l.level === 50)).toHaveLength(1);
    // Fixed: a matching pair again, taken from the file change.
    lines.length = 0;
    replace(certFile, first.cert);
    await waitFor(() => lines.some((l) => l.msg === "certificates reloaded"));
    expect(lines.filter((l) => (l.level as number) >= 40)).toEqual([]);
  });

  it("staples a fresh OCSP response written beside the certificate, without a restart", async () => {
    expect(await stapledResponse(tlsPort, pki.ca, "localhost")).toBeUndefined();
    // A job that fetches a response writes <certificate file>.ocsp.
    pki.ocsp(first, `${certFile}.ocsp.tmp`);
    renameSync(`${certFile}.ocsp.tmp`, `${certFile}.ocsp`);
    await waitFor(async () => (await stapledResponse(tlsPort, pki.ca, "localhost")) !== undefined);
  });
});

/** The built proxy as its own process; resolves once the TLS port listens. */
async function spawnWithLog(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; log: () => string }> {
  let text = "";
  const child = spawn(process.execPath, [MAIN], {
    // The TLS port runs on the fast engine only (config.ts refuses it with HTTP_ENGINE=express).
    env: { ...process.env, LOG_LEVEL: "info", HTTP_ENGINE: "fast", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d: Buffer) => (text += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (text += d.toString()));
  await waitForPort(Number(env.TLS_PORT), { alive: () => child.exitCode === null });
  return { child, log: () => text };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

describe("SIGHUP", () => {
  it.each([
    ["one process", "0", 24410, 1],
    ["the multi-core mode: the primary passes it to every worker", "2", 24420, 2],
  ])(
    "reloads in %s",
    async (_name, workers, port, expected) => {
      const leaf = pki.leaf(`hup${port}`, ["localhost"]);
      const { child, log } = await spawnWithLog({
        PORT: String(port),
        TLS_PORT: String(port + 1),
        ADMIN_PORT: String(port + 2),
        HOST: "127.0.0.1",
        BACKENDS: backendList(),
        TLS_CERT: leaf.combinedFile,
        WORKERS: workers,
        // pino's buffered destination: every line written at once.
        LOG_LEVEL: "info",
      });
      try {
        // Every worker serves TLS, HTTP/1.1 and HTTP/2.
        for (const from of CLIENTS.slice(10, 30)) {
          const reply = await httpsGet(port + 1, { ca: pki.ca, from });
          expect(reply.status).toBe(200);
          const session = await h2Session(port + 1, { ca: pki.ca, from });
          const h2 = await h2Request(session);
          session.close();
          expect(h2.status).toBe(200);
          expect(h2.backend).toBe(reply.backend);
        }
        child.kill("SIGHUP");
        await waitFor(
          () =>
            log()
              .split("\n")
              .filter((l) => l.includes("certificates read again: unchanged")).length === expected,
          5000,
        );
        expect(child.exitCode).toBeNull();
        expect((await httpsGet(port + 1, { ca: pki.ca })).status).toBe(200);
      } finally {
        await stopChild(child);
      }
    },
    20_000,
  );
});

describe("a bad certificate or key at start", () => {
  const start = (env: Record<string, string>) =>
    spawnSync(process.execPath, [MAIN], {
      env: {
        ...process.env,
        PORT: "24430",
        ADMIN_PORT: "24432",
        TLS_PORT: "24431",
        BACKENDS: backendList(),
        ...env,
      },
      encoding: "utf8",
      timeout: 10_000,
    });

  it("exits with code 2 naming the setting and the file", () => {
    const leaf = pki.leaf("start", ["localhost"]);
    const other = pki.leaf("start-other", ["localhost"]);
    const missing = join(pki.dir, "missing.pem");
    const cases: [Record<string, string>, string][] = [
      [{ TLS_CERT: missing }, `TLS_CERT="${missing}": cannot read the file (ENOENT)`],
      [{ TLS_CERT: leaf.keyFile }, `TLS_CERT="${leaf.keyFile}": the file holds no PEM certificate`],
      [
        { TLS_CERT: leaf.certFile, TLS_KEY: other.keyFile },
        `TLS_KEY="${other.keyFile}": the private key does not match the certificate in ${leaf.certFile}`,
      ],
      [
        { TLS_CERT: leaf.certFile },
        `TLS_CERT="${leaf.certFile}": the file holds no private key and TLS_KEY is not set`,
      ],
      [{ TLS_CERTS: join(pki.dir, "nowhere") }, "TLS_CERTS="],
    ];
    for (const [env, message] of cases) {
      const result = start(env);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(message);
    }
  });
});

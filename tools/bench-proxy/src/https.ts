// HTTPS beside HAProxy 2.6: both terminate TLS with the same certificate
// (ECDSA P-256, as Mozilla's intermediate configuration recommends), offer
// h2 and http/1.1 by ALPN and Mozilla intermediate's suites, and forward
// to the same backends over plain HTTP/1.1. Three loads, each alternating
// the two proxies round by round: HTTPS with keep-alive (wrk), HTTP/2 with
// several streams per connection (h2load), and a new TLS connection for
// every request (wrk with Connection: close), whose rate is the handshake
// rate.

import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { waitForPort } from "@stickyring/runtime";
import { h2load } from "./h2load.js";
import { alternate, describeMeasured, median, withCpu, type Measured } from "./measure.js";
import {
  PORT_BASE,
  peakRssMb,
  startHaproxy,
  startStickyring,
  workFile,
  type Started,
} from "./processes.js";
import { wrk, type WrkResult } from "./wrk.js";
import { INTERMEDIATE_CIPHERS } from "@stickyring/proxy/tls-policy";

export interface Load {
  name: string;
  run(target: Started, seconds: number): Promise<WrkResult>;
}

const url = (target: Started) => `https://127.0.0.1:${target.port}/`;

export const LOADS: Load[] = [
  {
    name: "HTTPS keep-alive (wrk, 32 connections)",
    run: (target, seconds) => wrk(target.port, 32, seconds, { url: url(target) }),
  },
  {
    name: "HTTP/2 (h2load, 8 connections x 16 streams)",
    run: (target, seconds) => h2load(url(target), 8, 16, seconds, workFile("h2load.log")),
  },
  {
    name: "new TLS connection per request (wrk, Connection: close, 32 connections)",
    run: (target, seconds) =>
      wrk(target.port, 32, seconds, { url: url(target), headers: ["Connection: close"] }),
  },
];

/** A self-signed ECDSA P-256 certificate and its key in one PEM file, as both proxies take it. */
export function certificate(): string {
  const key = workFile("tls.key");
  const cert = workFile("tls.crt");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost",
    ],
    { stdio: "ignore" },
  );
  const pem = workFile("tls.pem");
  writeFileSync(pem, readFileSync(cert, "utf8") + readFileSync(key, "utf8"));
  return pem;
}

/** Starts HAProxy and stickyring with TLS; each Started's port is its TLS port. */
export async function startTlsCandidates(
  backends: number[],
  pem = certificate(),
): Promise<Started[]> {
  const haproxy = await startHaproxy(PORT_BASE + 230, backends, {
    // stickyring's default TLS 1.2 suites (Mozilla intermediate without DHE): HAProxy gets the same.
    tls: { pem, ciphers: INTERMEDIATE_CIPHERS },
  });
  return [haproxy, await startTlsStickyring(PORT_BASE + 231, backends, pem, 0)];
}

/**
 * stickyring with its TLS port at `port` + 1 (plain port `port`, admin API
 * 100 above); the Started's port is the TLS port.
 */
export async function startTlsStickyring(
  port: number,
  backends: number[],
  pem: string,
  workers: number,
): Promise<Started> {
  const tlsPort = port + 1;
  const sticky = await startStickyring(port, port + 100, backends, workers, undefined, {
    TLS_PORT: String(tlsPort),
    TLS_CERT: pem,
  });
  await waitForPort(tlsPort);
  return { ...sticky, port: tlsPort };
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Runs every load over the candidates (HAProxy first), alternating rounds; returns the report's table. */
export async function runHttps(
  candidates: Started[],
  rounds: number,
  seconds: number,
  loads: readonly Load[] = LOADS,
): Promise<string> {
  const lines = [
    "| load | proxy | requests/s (median) | vs HAProxy | each round | p50 | p99 | p99 vs HAProxy | CPU per request | vs HAProxy | errors |",
    "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const load of loads) {
    const runs = await alternate(
      candidates,
      rounds,
      (c): Promise<Measured> => withCpu(c, () => load.run(c, seconds)),
      { warmUp: (c) => load.run(c, 5), label: load.name, describe: describeMeasured },
    );
    const mid = (name: string, pick: (m: Measured) => number) => median(runs.get(name)!.map(pick));
    const reference = candidates[0]!.name;
    for (const c of candidates) {
      const rps = mid(c.name, (m) => m.requestsPerSecond);
      const p99 = mid(c.name, (m) => m.p99Ms);
      const cpu = mid(c.name, (m) => m.cpuUsPerRequest);
      const each = runs
        .get(c.name)!
        .map((m) => fmt(m.requestsPerSecond))
        .join(" · ");
      const errors = runs.get(c.name)!.reduce((n, m) => n + m.errors, 0);
      lines.push(
        `| ${load.name} | ${c.name} | ${fmt(rps)} | ${fmt(rps / mid(reference, (m) => m.requestsPerSecond), 2)} x | ${each} | ${fmt(
          mid(c.name, (m) => m.p50Ms),
          2,
        )} ms | ${fmt(p99, 2)} ms | ${fmt(p99 / mid(reference, (m) => m.p99Ms), 2)} x | ${fmt(cpu, 1)} µs | ${fmt(cpu / mid(reference, (m) => m.cpuUsPerRequest), 2)} x | ${errors} |`,
      );
    }
  }
  lines.push(
    "",
    `Peak RSS over the whole run (VmHWM): ${candidates.map((c) => `${c.name} ${fmt(peakRssMb(c.pid))} MB`).join(", ")}.`,
  );
  return lines.join("\n") + "\n";
}

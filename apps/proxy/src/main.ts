#!/usr/bin/env node
// Entry: read and validate the configuration, listen, stop cleanly on SIGTERM.
// `--healthcheck` probes a running proxy instead (the image's HEALTHCHECK).

import { parseArgs } from "node:util";
import cluster from "node:cluster";
import { setFlagsFromString } from "node:v8";
import {
  announceHealth,
  createLogger,
  exitWithHealth,
  onShutdownSignal,
} from "@stickyring/runtime";
import { ConfigError, loadConfig } from "./config.js";
import { runCluster } from "./cluster.js";

function readArguments() {
  try {
    const { values } = parseArgs({
      options: { config: { type: "string" }, healthcheck: { type: "boolean" } },
      allowPositionals: false,
    });
    return {
      config: loadConfig(process.env, values.config),
      healthcheck: values.healthcheck === true,
    };
  } catch (error) {
    const message =
      error instanceof ConfigError
        ? error.message
        : `invalid arguments: ${(error as Error).message}`;
    console.error(`stickyring-proxy: ${message}`);
    process.exit(2);
  }
}

// After a full GC V8 lets the old generation grow to as much as 4 x what
// survived before the next one. Our live heap is ~20-30 MB, so under
// sustained load RSS ramped from ~130 to ~195 MB although nothing leaked
// (pnpm soak). Growing by 30% instead held it near its level then (~120 MB);
// full GCs stay a few per ten seconds at a few ms each. The flag is read at every
// GC, so setting it here works however the proxy is started (node cannot
// take it from NODE_OPTIONS).
setFlagsFromString("--heap-growing-percent=30");
const { config, healthcheck } = readArguments();
// V8's middle compiler, Maglev, leaves its working memory in malloc's heap:
// ~6 MB more RSS at idle-to-warm and ~12 MB more under load, which glibc
// cannot give back. Without it the hot path goes from Sparkplug straight to
// TurboFan, and CPU per request under load measured the same. Not with a
// TLS port: node:http2's code is large and polymorphic, and without Maglev
// it spent far longer in baseline code and TurboFan compiles; under h2load
// CPU per request fell by a quarter (220/217/308 -> 168/189/136 µs in
// alternated runs) for 0-14 MB more RSS.
if (config.tls === undefined) setFlagsFromString("--no-maglev");
// Whatever the growing factor, V8 raises the old generation's limit by at
// least 8 MB after each full GC, unless it is saving memory (then 2 MB).
// Our live old generation is ~11 MB, so under load its pages climbed from
// 12 to 16-19 MB after the first full GC, past what the soak allows
// (README, Reliability). Memory saver mode: soak RSS +6-8% instead of
// +9-12% and ~4 MB lower, for ~4-8% more CPU per request. Not with a TLS
// port: node:http2 allocates far more per request, and there the mode
// nearly doubled the CPU per request (a bare node:http2 server under
// h2load: 22 -> 40 µs), for a few MB.
if (config.tls === undefined) setFlagsFromString("--memory-saver-mode");
if (healthcheck) await exitWithHealth(config.admin.host, config.admin.port, "/healthz");

const logger = createLogger("proxy", config.logLevel);
// Once, by the process that read the settings first (a worker reads them again).
if (cluster.isPrimary) for (const notice of config.notices) logger.warn(notice);
try {
  await (config.workers > 0 ? runCluster(config, logger) : runSingle());
} catch (error) {
  logger.fatal({ err: error }, `cannot start: ${startError(error as NodeJS.ErrnoException)}`);
  process.exit(1);
}

/** Names the setting behind a port that cannot be had. */
function startError(error: NodeJS.ErrnoException & { port?: number; hostname?: string }): string {
  if (error.syscall === "getaddrinfo") {
    const setting = error.hostname === config.admin.host ? "ADMIN_HOST" : "HOST";
    return `${setting}=${error.hostname}: not an address of this machine, nor a name that resolves (${error.code})`;
  }
  if (error.syscall !== "listen") return error.message;
  const setting =
    error.port === config.admin.port
      ? "ADMIN_PORT"
      : error.port === config.tls?.port
        ? "TLS_PORT"
        : "PORT";
  const why =
    error.code === "EADDRINUSE"
      ? "another program listens on it"
      : error.code === "EACCES"
        ? "no permission to listen on it"
        : error.code;
  return `${setting}=${error.port}: ${why} (${error.message})`;
}

async function runSingle() {
  // Imported here, not above: a worker of the multi-core mode runs this
  // file too and needs only the data plane (cluster.ts).
  const { createStickyProxy } = await import("./proxy.js");
  const proxy = createStickyProxy(config, logger);
  const { adminPort } = await proxy.start();
  announceHealth(logger, config.admin.host, adminPort, "/healthz");
  // GRACE first (MONITOR_URI says 503 meanwhile), then up to 10 s to drain.
  onShutdownSignal(logger, config.graceMs + 10_000, () => proxy.stop(10_000));
}

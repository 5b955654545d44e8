#!/usr/bin/env node
// Entry: read and validate the configuration, listen, stop cleanly on SIGTERM.
// `--healthcheck` probes a running proxy instead (the image's HEALTHCHECK).

import { parseArgs } from "node:util";
import { createLogger, exitWithHealth, onShutdownSignal } from "@stickyring/runtime";
import { ConfigError, loadConfig } from "./config.js";
import { runCluster } from "./cluster.js";
import { createStickyProxy } from "./proxy.js";

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

const { config, healthcheck } = readArguments();
if (healthcheck) {
  // The admin listener answers /healthz; a wildcard bind is reached on loopback.
  const host = ["0.0.0.0", "::"].includes(config.admin.host) ? "127.0.0.1" : config.admin.host;
  await exitWithHealth(
    `http://${host.includes(":") ? `[${host}]` : host}:${config.admin.port}/healthz`,
  );
}

const logger = createLogger("proxy", config.logLevel);
try {
  await (config.workers > 0 ? runCluster(config, logger) : runSingle());
} catch (error) {
  logger.fatal({ err: error }, "cannot start");
  process.exit(1);
}

async function runSingle() {
  const proxy = createStickyProxy(config, logger);
  await proxy.start();
  onShutdownSignal(logger, 10_000, () => proxy.stop(10_000));
}

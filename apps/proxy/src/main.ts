#!/usr/bin/env node
// Entry: read and validate the configuration, listen, stop cleanly on SIGTERM.

import { parseArgs } from "node:util";
import { createLogger, onShutdownSignal } from "@stickyring/runtime";
import { ConfigError, loadConfig } from "./config.js";
import { createStickyProxy } from "./proxy.js";

function readConfig() {
  try {
    const { values } = parseArgs({
      options: { config: { type: "string" } },
      allowPositionals: false,
    });
    return loadConfig(process.env, values.config);
  } catch (error) {
    const message =
      error instanceof ConfigError
        ? error.message
        : `invalid arguments: ${(error as Error).message}`;
    console.error(`stickyring-proxy: ${message}`);
    process.exit(2);
  }
}

const config = readConfig();
const logger = createLogger("proxy", config.logLevel);
const proxy = createStickyProxy(config, logger);
try {
  await proxy.start();
} catch (error) {
  logger.fatal({ err: error }, "cannot listen");
  process.exit(1);
}
onShutdownSignal(logger, 10_000, () => proxy.stop(10_000));

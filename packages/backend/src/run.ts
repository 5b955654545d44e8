import { createServer } from "node:http";
import {
  announceHealth,
  closeGracefully,
  createLogger,
  exitWithHealth,
  listen,
  onShutdownSignal,
} from "@stickyring/runtime";
import { createBackend } from "./app.js";
import { readBackendConfig } from "./config.js";
import { attachWebSocketEcho } from "./websocket.js";

const SHUTDOWN_TIMEOUT_MS = 4000;

/** Entry of app1..app3: read config, listen, log, stop cleanly on SIGTERM. */
export async function runBackend(n: number): Promise<void> {
  const id = `app${n}`;
  let config;
  try {
    config = readBackendConfig(process.env, 5000 + n);
  } catch (error) {
    console.error(`${id}: ${(error as Error).message}`);
    process.exit(2);
  }
  if (process.argv.includes("--healthcheck"))
    await exitWithHealth(config.host, config.port, "/healthz");
  const name = config.name ?? id;
  const logger = createLogger(name, config.logLevel);
  const greeting = config.name === undefined ? `Hello from App ${n}` : `Hello from ${name}`;
  const server = createServer(createBackend({ id: name, greeting }));
  const wss = attachWebSocketEcho(server, greeting);
  const port = await listen(server, config.port, config.host);
  logger.info({ port }, `${name} listening`);
  announceHealth(logger, config.host, port, "/healthz");
  onShutdownSignal(logger, SHUTDOWN_TIMEOUT_MS, async () => {
    for (const client of wss.clients) client.close(1001, "server shutting down");
    await closeGracefully(server, SHUTDOWN_TIMEOUT_MS);
  });
}

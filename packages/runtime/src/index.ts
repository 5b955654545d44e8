import type { Server } from "node:http";
import {
  connect,
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
} from "node:net";
import { pino, type Logger } from "pino";

export type { Logger };
export { announceHealth, exitWithHealth } from "./health.js";

/** The levels LOG_LEVEL accepts, quietest last. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Lines are written once this many bytes wait, or FLUSH_MS after the first. */
const BUFFER_BYTES = 8 * 1024;
const FLUSH_MS = 100;

/** Every logger's destination, written out when the process exits. */
const destinations = new Set<ReturnType<typeof pino.destination>>();

/**
 * JSON lines on stdout; `pnpm dev` pipes them through pino-pretty. Buffered:
 * under load one write carries dozens of access-log lines instead of one
 * system call each, and no line waits longer than FLUSH_MS. What is still
 * buffered when the process exits is written then: pino does that itself
 * only for an asynchronous destination, and the last lines ("stopped", a
 * fatal error) were lost.
 */
export function createLogger(name: string, level: LogLevel = "info"): Logger {
  const destination = pino.destination({ dest: 1, sync: true, minLength: BUFFER_BYTES });
  setInterval(() => destination.flush(), FLUSH_MS).unref();
  if (destinations.size === 0) process.once("exit", flushAll);
  destinations.add(destination);
  return pino({ name, level, base: { name } }, destination);
}

function flushAll(): void {
  for (const destination of destinations) {
    try {
      destination.flushSync();
    } catch {
      // stdout closed: nothing can be written any more.
    }
  }
}

/** Listens and resolves with the bound port (useful with port 0). */
export function listen(server: NetServer, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Stops accepting, lets in-flight requests finish, closes idle keep-alive
 * connections at once and whatever is left after `timeoutMs`.
 */
export function closeGracefully(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), timeoutMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/**
 * Runs `stop` on the first SIGTERM or SIGINT, then exits: 0 when it finished
 * in time, 1 when it did not finish within `timeoutMs`. Later ones are
 * logged and ignored (SIGKILL stops it at once).
 */
export function onShutdownSignal(
  logger: Logger,
  timeoutMs: number,
  stop: () => Promise<void>,
): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    // A second signal while draining changes nothing: it must not kill the
    // process with its requests (a signal sent to the whole process group,
    // as systemd and `kill -- -PGID` send it, reaches a WORKERS worker twice:
    // from the sender and from the primary). The deadline below ends it.
    if (stopping) return void logger.info({ signal }, "already shutting down");
    stopping = true;
    logger.info({ signal }, "shutting down: draining in-flight requests");
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs }, "shutdown took too long; exiting");
      process.exit(1);
    }, timeoutMs + 1000);
    deadline.unref();
    stop().then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", handle);
  process.on("SIGINT", handle);
}

/**
 * Resolves once something accepts TCP connections on host:port; rejects
 * after `timeoutMs`, or as soon as `alive()` says the process meant to
 * listen there has exited.
 */
export function waitForPort(
  port: number,
  options: { host?: string; timeoutMs?: number; alive?: () => boolean } = {},
): Promise<void> {
  const { host = "127.0.0.1", timeoutMs = 15_000, alive = () => true } = options;
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (!alive()) return reject(new Error(`the process for port ${port} exited`));
      const socket = connect(port, host);
      socket.once("connect", () => {
        socket.destroy();
        resolve();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() > deadline)
          reject(new Error(`nothing listens on ${host}:${port} after ${timeoutMs}ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

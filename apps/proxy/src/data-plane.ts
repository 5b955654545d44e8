// The data plane: the proxy listener. Routes each request on the current
// placement, forwards it, counts and logs it. It reads the placement and
// reports to the control plane through two hooks, so it runs the same in
// one process and in each worker of the multi-core mode.

import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { Socket } from "node:net";
import { closeGracefully, type Logger } from "@stickyring/runtime";
import { watchBodyRate } from "./body-rate.js";
import type { ProxyConfig } from "./config.js";
import { sendError } from "./errors.js";
import { createForwarder } from "./forwarder.js";
import { createKeyPolicy } from "./key-policy.js";
import { createBackendLookup } from "./lookup.js";
import type { Metrics } from "./metrics.js";
import type { Placement } from "./placement.js";
import { createRouter } from "./routing.js";

export interface DataPlaneHooks {
  /** A connection to the server failed: passive health takes it down. */
  markDown(id: string, detail: string): void;
  /** A request to the server finished (answered or not). */
  served(id: string): void;
}

export interface DataPlane {
  readonly server: Server;
  /** Stops accepting, drains in-flight requests, closes upstream pools. */
  close(timeoutMs: number): Promise<void>;
}

/** Answers requests Node's parser refused (malformed, oversized) instead of dropping them silently. */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    error.code === "HPE_HEADER_OVERFLOW"
      ? 431
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? 408
        : 400;
  const body = `${status} ${STATUS_CODES[status]}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export function createDataPlane(options: {
  config: ProxyConfig;
  logger: Logger;
  metrics: Metrics;
  placement: () => Placement;
  hooks: DataPlaneHooks;
  /** Requests in flight per server, kept here; bounded-load hashing reads them. */
  loads: Map<string, number>;
}): DataPlane {
  const { config, logger, metrics, placement, hooks, loads } = options;
  const router = createRouter(
    placement,
    createKeyPolicy(config.balance),
    config.trustedProxies,
    config.balanceFactor === undefined ? undefined : loads,
  );
  const forwarder = createForwarder({
    lookup: createBackendLookup(config.timeouts.connectMs),
    router,
    markDown: hooks.markDown,
    metrics,
    logger,
    trusted: config.trustedProxies,
    timeouts: config.timeouts,
  });

  const bodyRate = {
    graceMs: config.timeouts.clientMs,
    minBytesPerSecond: config.clientMinBodyRate,
  };
  const cutSlowBody = (req: IncomingMessage, res: ServerResponse) => {
    logger.info({ client: req.route?.client, url: req.url }, "request body too slow: cut");
    sendError(
      res,
      408,
      `Request Timeout: the request body arrived slower than ${config.clientMinBodyRate} bytes/s`,
    );
    // The rest of the body will not be read: close the connection once the answer is out.
    res.once("finish", () => req.socket.destroy());
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === "*") {
      // `OPTIONS *` asks about a server, not a resource: no backend can be chosen for it.
      sendError(res, 501, "Not Implemented: OPTIONS * is not forwarded");
      metrics.countRequest("none", 501);
      return;
    }
    const result = router.route(req);
    if ("refused" in result) {
      const status = result.refused === "no-server" ? 503 : 400;
      sendError(
        res,
        status,
        status === 503 ? "Service Unavailable: no server is up" : "Bad Request: no client address",
      );
      metrics.countRequest("none", status);
      if (config.accessLog) logger.info({ method: req.method, url: req.url, status }, "refused");
      return;
    }
    req.route = result;
    if (result.hasBody) watchBodyRate(req, res, bodyRate, () => cutSlowBody(req, res));
    const loadedOn = result.server;
    loads.set(loadedOn, (loads.get(loadedOn) ?? 0) + 1);
    res.once("close", () => {
      loads.set(loadedOn, loads.get(loadedOn)! - 1);
      hooks.served(result.server);
      const status = res.headersSent ? res.statusCode : 499;
      metrics.countRequest(result.server, status);
      if (!config.accessLog) return;
      // One line per request, like HAProxy's `option httplog`.
      logger.info(
        {
          client: result.client,
          key: result.key,
          backend: result.server,
          method: req.method,
          url: req.url,
          status,
          ms: Math.round((performance.now() - result.startedAt) * 100) / 100,
          retries: result.tried.length - 1,
          error: result.error,
        },
        "request",
      );
    });
    forwarder.handle(req, res);
  };

  // Headers must arrive within the client timeout (slowloris); Node checks
  // that every connectionsCheckingInterval, 30 s by default: too coarse.
  const server = createServer(
    {
      headersTimeout: Math.min(config.timeouts.clientMs, 60_000),
      requestTimeout: 0,
      connectionsCheckingInterval: Math.min(Math.max(config.timeouts.clientMs / 4, 100), 5_000),
    },
    handle,
  );
  server.timeout = config.timeouts.clientMs;
  server.on("clientError", answerClientError);
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const result = router.route(req);
    if ("refused" in result) {
      socket.end(
        "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
      );
      return;
    }
    req.route = result;
    forwarder.upgrade(req, socket, head);
  });

  return {
    server,
    async close(timeoutMs) {
      await closeGracefully(server, timeoutMs);
      await forwarder.close();
    },
  };
}

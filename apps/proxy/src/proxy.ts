// Composition root: wires config, membership and health, placement, routing,
// forwarding, admin and metrics. Builds everything without listening, so
// tests drive it on ephemeral ports.

import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { Socket } from "node:net";
import { closeGracefully, listen, type Logger } from "@stickyring/runtime";
import { createAdminApp } from "./admin.js";
import type { ProxyConfig } from "./config.js";
import { watchBodyRate } from "./body-rate.js";
import { sendError } from "./errors.js";
import { createForwarder } from "./forwarder.js";
import { startHealthChecks } from "./health.js";
import { createKeyPolicy } from "./key-policy.js";
import { createLookup } from "./lookup.js";
import { Membership } from "./membership.js";
import { createMetrics } from "./metrics.js";
import { buildPlacement, type Placement } from "./placement.js";
import { createRouter } from "./routing.js";
import { TrafficHistory } from "./traffic.js";

export interface StickyProxy {
  readonly server: Server;
  readonly adminServer: Server;
  readonly membership: Membership;
  placement(): Placement;
  /** Listens on the configured ports (0: any); resolves with the bound ports. */
  start(): Promise<{ port: number; adminPort: number }>;
  /** Stops accepting, drains in-flight requests, closes upstream pools. */
  stop(timeoutMs?: number): Promise<void>;
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

export function createStickyProxy(config: ProxyConfig, logger: Logger): StickyProxy {
  const metrics = createMetrics();
  let current: Placement;
  let version = 0;

  const rebuild = (reason: string) => {
    current = buildPlacement(membership.list(), config, ++version);
    metrics.rebuilds.inc();
    for (const m of membership.list())
      metrics.serverUp.set({ server: m.id }, current.targets.has(m.id) ? 1 : 0);
    logger.info({ reason, version, servers: [...current.targets.keys()] }, "placement rebuilt");
  };
  const membership: Membership = new Membership(config.backends, {
    rise: config.health.rise,
    fall: config.health.fall,
    onChange: (reason) => rebuild(reason),
  });
  rebuild("start");

  const loads = membership.inFlight;
  const router = createRouter(
    () => current,
    createKeyPolicy(config.balance),
    config.trustedProxies,
    config.balanceFactor === undefined ? undefined : loads,
  );
  const lookup = createLookup(Math.min(config.timeouts.connectMs, 2000));
  const forwarder = createForwarder({
    lookup,
    router,
    membership,
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
    const result = router.route(req);
    if ("refused" in result) {
      const status = result.refused === "no-server" ? 503 : 400;
      sendError(
        res,
        status,
        status === 503 ? "Service Unavailable: no server is up" : "Bad Request: no client address",
      );
      metrics.countRequest("none", status);
      logger.info({ method: req.method, url: req.url, status }, "refused");
      return;
    }
    req.route = result;
    if (result.hasBody) watchBodyRate(req, bodyRate, () => cutSlowBody(req, res));
    const loadedOn = result.server;
    loads.set(loadedOn, (loads.get(loadedOn) ?? 0) + 1);
    res.once("close", () => {
      loads.set(loadedOn, loads.get(loadedOn)! - 1);
      const served = membership.get(result.server);
      if (served) served.requests++;
      const status = res.headersSent ? res.statusCode : 499;
      metrics.countRequest(result.server, status);
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

  const traffic = new TrafficHistory();
  const closing = new AbortController();
  const adminServer = createServer(
    createAdminApp({
      config,
      membership,
      metrics,
      placement: () => current,
      traffic,
      closing: closing.signal,
    }),
  );
  let stopChecks: (() => void) | undefined;
  let sampler: NodeJS.Timeout | undefined;

  return {
    server,
    adminServer,
    membership,
    placement: () => current,
    async start() {
      const port = await listen(server, config.port, config.host);
      const adminPort = await listen(adminServer, config.admin.port, config.admin.host);
      stopChecks = startHealthChecks(membership, config.health, lookup);
      const sample = () =>
        traffic.sample(
          membership.list().map((m) => [m.id, m.requests] as const),
          Date.now(),
        );
      sample();
      sampler = setInterval(sample, 1000).unref();
      logger.info({ port, adminPort, adminHost: config.admin.host }, "proxy listening");
      return { port, adminPort };
    },
    async stop(timeoutMs = 10_000) {
      stopChecks?.();
      clearInterval(sampler);
      closing.abort();
      await Promise.all([closeGracefully(server, timeoutMs), closeGracefully(adminServer, 1000)]);
      await forwarder.close();
    },
  };
}

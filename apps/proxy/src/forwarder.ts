// Forwarding: http-proxy-middleware to the routed server over kept-alive
// connections, one retry on the next server when the connection fails, and
// a short clear error otherwise.

import type { EventEmitter } from "node:events";
import { Agent, ServerResponse, type ClientRequest, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "@stickyring/runtime";
import { createProxyMiddleware } from "http-proxy-middleware";
import { hasBody } from "./body-rate.js";
import type { AddressMatcher } from "./cidr.js";
import { parseAddress } from "@stickyring/hashing";
import {
  CONNECT_TIMEOUT,
  SERVER_TIMEOUT,
  errorCode,
  isConnectFailure,
  isRetryable,
  sendError,
} from "./errors.js";
import type { Membership } from "./membership.js";
import type { Metrics } from "./metrics.js";
import type { createLookup } from "./lookup.js";
import type { Router } from "./routing.js";

export interface ForwarderOptions {
  router: Router;
  membership: Membership;
  metrics: Metrics;
  logger: Logger;
  trusted: AddressMatcher | undefined;
  timeouts: { connectMs: number; serverMs: number };
  lookup: ReturnType<typeof createLookup>;
}

export interface Forwarder {
  /** Request handler for the proxy port. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** WebSocket upgrades go to the client's server too. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Closes the upstream connection pool. */
  close(): void;
}

function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * Destroys `proxyReq` with a coded error after `ms`, unless `until` happens
 * on `source` first (or the request closes).
 */
function failAfter(
  proxyReq: ClientRequest,
  ms: number,
  source: EventEmitter,
  until: string,
  code: string,
  what: string,
): void {
  const timer = setTimeout(() => proxyReq.destroy(codedError(code, `${what} ${ms}ms`)), ms);
  source.once(until, () => clearTimeout(timer));
  proxyReq.once("close", () => clearTimeout(timer));
}

/** HAProxy `option forwardfor`, plus -Proto and -Host, trusting only trusted peers' values. */
function addForwardedHeaders(req: IncomingMessage, trusted: AddressMatcher | undefined): void {
  const peer = req.socket.remoteAddress ?? "";
  const bytes = trusted === undefined ? undefined : parseAddress(peer);
  const fromTrusted = bytes !== undefined && trusted!(bytes);
  const previous = req.headers["x-forwarded-for"];
  req.headers["x-forwarded-for"] = previous ? `${String(previous)}, ${peer}` : peer;
  if (!fromTrusted || !req.headers["x-forwarded-proto"]) req.headers["x-forwarded-proto"] = "http";
  if (!fromTrusted || !req.headers["x-forwarded-host"]) {
    if (req.headers.host) req.headers["x-forwarded-host"] = req.headers.host;
    else delete req.headers["x-forwarded-host"];
  }
}

export function createForwarder(options: ForwarderOptions): Forwarder {
  const { router, membership, metrics, logger, trusted, timeouts } = options;
  // One pool for every server, keyed by host:port inside the agent. LIFO
  // reuse keeps few sockets warm instead of cycling through all of them.
  const agent = new Agent({
    keepAlive: true,
    maxFreeSockets: 256,
    scheduling: "lifo",
    lookup: options.lookup as never,
  });

  const proxy = createProxyMiddleware<IncomingMessage, ServerResponse>({
    // The URL object itself: httpxy would parse a string again per request.
    router: (req) => req.route!.target,
    agent,
    changeOrigin: false,
    // Our timer (below) answers 504 while waiting for the response; this
    // idle timeout covers the body afterwards, and requests httpxy does not
    // announce (Expect: 100-continue).
    proxyTimeout: timeouts.serverMs + 1000,
    ejectPlugins: true,
    plugins: [
      (proxyServer) => {
        // httpxy reports upstream failures only through this event (with a
        // listener present it never rejects, so `next` is not called).
        proxyServer.on("error", (error, req, res) => {
          if (req === undefined || res === undefined) return;
          if (res instanceof ServerResponse) fail(error, req, res);
          else res.destroy(); // a WebSocket upgrade: there is no response to write
        });
        proxyServer.on("proxyReq", (proxyReq) => {
          const socket = proxyReq.socket;
          if (socket?.connecting) {
            failAfter(
              proxyReq,
              timeouts.connectMs,
              socket,
              "connect",
              CONNECT_TIMEOUT,
              "connect timeout after",
            );
          }
          // Timers of our own: a socket has one idle timeout, and httpxy's
          // later setTimeout would replace one set here.
          failAfter(
            proxyReq,
            timeouts.serverMs,
            proxyReq,
            "response",
            SERVER_TIMEOUT,
            "no response within",
          );
        });
        proxyServer.on("proxyRes", (_proxyRes, req, res) => {
          const route = req.route!;
          metrics.observeUpstream(route.server, (performance.now() - route.startedAt) / 1000);
          res.setHeader("x-backend", route.server);
        });
      },
    ],
  });

  const fail = (error: unknown, req: IncomingMessage, res: ServerResponse): void => {
    const route = req.route!;
    const code = errorCode(error);
    route.error = code;
    if (isConnectFailure(error)) membership.markDown(route.server, code);
    if (!res.headersSent && isRetryable(error, req.method, hasBody(req))) {
      const from = route.server;
      if (router.reroute(route)) {
        metrics.retries.inc({ from });
        logger.debug({ from, to: route.server, code }, "retrying on the next server");
        forward(req, res);
        return;
      }
    }
    if (code === SERVER_TIMEOUT)
      sendError(res, 504, `Gateway Timeout: ${route.server} did not answer in time`, route.server);
    else sendError(res, 502, `Bad Gateway: ${route.server} failed (${code})`, route.server);
  };

  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    // `next` is reached only when the middleware itself fails (before any
    // upstream traffic); upstream errors arrive through the 'error' event.
    void proxy(req, res, (error?: unknown) => {
      if (error !== undefined)
        sendError(res, 500, "Internal Server Error: the proxy could not forward the request");
    });
  };

  return {
    handle(req, res) {
      addForwardedHeaders(req, trusted);
      forward(req, res);
    },
    upgrade(req, socket, head) {
      socket.on("error", () => socket.destroy());
      addForwardedHeaders(req, trusted);
      void proxy.upgrade?.(req, socket as never, head);
    },
    close() {
      agent.destroy();
    },
  };
}

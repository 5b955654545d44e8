// Forwarding: each request is dispatched on undici's connection pools (one
// per server, kept alive: the client under Node's own fetch, several times
// cheaper per request than http.request), the response relayed with
// backpressure both ways, one retry on the next server when the connection
// fails, and a short clear error otherwise. WebSocket upgrades go through
// http-proxy-middleware (websocket.ts).

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "@stickyring/runtime";
import { Agent, type Dispatcher } from "undici";
import type { AddressMatcher } from "./cidr.js";
import {
  CONNECT_TIMEOUT,
  SERVER_TIMEOUT,
  errorCode,
  isConnectFailure,
  isRetryable,
  sendError,
} from "./errors.js";
import { addForwardedHeaders, endToEndHeaders } from "./forwarded-headers.js";
import type { Metrics } from "./metrics.js";
import type { createLookup } from "./lookup.js";
import type { Route, Router } from "./routing.js";
import { createUpgradeForwarder } from "./websocket.js";

export interface ForwarderOptions {
  router: Router;
  /** Passive health: a server whose connection failed is taken down. */
  markDown(id: string, detail: string): void;
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
  /** Closes the upstream connection pools. */
  close(): Promise<void>;
}

/** undici's names for what errors.ts classifies. */
const UNDICI_CODES: Record<string, string> = {
  UND_ERR_CONNECT_TIMEOUT: CONNECT_TIMEOUT,
  UND_ERR_HEADERS_TIMEOUT: SERVER_TIMEOUT,
  // "other side closed": a kept-alive connection the server had closed.
  UND_ERR_SOCKET: "ECONNRESET",
};

function normalized(error: Error): Error {
  const mapped = UNDICI_CODES[errorCode(error)];
  return mapped ? Object.assign(new Error(error.message), { code: mapped }) : error;
}

/**
 * One upstream exchange: undici calls these as the response arrives. A class
 * rather than an object of closures: every request has the same shape.
 */
class Relay implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private started = false;
  private done = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly route: Route,
    private readonly forwarder: UndiciForwarder,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.res.destroyed) controller.abort(new Error("client went away"));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (status < 200) return; // 1xx informational: the final answer follows
    const { res, route } = this;
    this.started = true;
    this.forwarder.metrics.observeUpstream(
      route.server,
      (performance.now() - route.startedAt) / 1000,
    );
    const list = endToEndHeaders(headers);
    list.push("x-backend", route.server);
    res.writeHead(status, statusMessage || undefined, list);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.res.write(chunk)) return;
    // The client reads slower than the server sends: hold the server back
    // until it catches up. Most answers never get here, so the listener is
    // added only now.
    controller.pause();
    this.res.once("drain", () => controller.resume());
  }

  onResponseEnd(): void {
    this.done = true;
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.done = true;
    if (this.res.destroyed) return; // the client left first: nothing to answer
    if (this.started) {
      // Part of the answer is out: cut the connection so the client sees it broken.
      this.route.error = errorCode(error);
      this.res.destroy();
      return;
    }
    this.forwarder.fail(normalized(error), this.req, this.res);
  }

  /** The client closed before the answer was complete: stop the upstream exchange too. */
  abort(): void {
    // 'close' follows every response: only an unfinished exchange is aborted.
    if (!this.done && this.controller && !this.controller.aborted)
      this.controller.abort(new Error("client went away"));
  }
}

class UndiciForwarder implements Forwarder {
  private readonly agent: Agent;
  private readonly upgrades;
  readonly metrics: Metrics;

  constructor(private readonly options: ForwarderOptions) {
    this.metrics = options.metrics;
    const { timeouts } = options;
    this.agent = new Agent({
      pipelining: 1,
      // No response headers within the server timeout: 504. The same limit
      // applies between chunks of the body afterwards.
      headersTimeout: timeouts.serverMs,
      bodyTimeout: timeouts.serverMs,
      connect: { timeout: timeouts.connectMs, lookup: options.lookup as never },
    });
    this.upgrades = createUpgradeForwarder(options.lookup);
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    addForwardedHeaders(req, this.options.trusted);
    if (!req.route!.hasBody) return this.forward(req, res);
    // Node's parser may still refuse this request's framing (an obfuscated
    // Transfer-Encoding) just after handing it over; it answers 400 itself.
    // Dispatch only once it has had that chance, so nothing reaches a server.
    queueMicrotask(() => {
      if (!req.socket.destroyed && !req.socket.writableEnded) this.forward(req, res);
    });
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const route = req.route!;
    const relay = new Relay(req, res, route, this);
    res.once("close", () => relay.abort());
    this.agent.dispatch(
      {
        origin: route.target.origin,
        // Node keeps the request target as sent; undici wants origin-form.
        path: req.url!.charCodeAt(0) === 47 /* / */ ? req.url! : originForm(req.url!),
        method: req.method as Dispatcher.HttpMethod,
        headers: endToEndHeaders(req.headers),
        body: route.hasBody ? req : null,
      },
      relay,
    );
  }

  fail(error: Error, req: IncomingMessage, res: ServerResponse): void {
    const { router, metrics, logger } = this.options;
    const route = req.route!;
    const code = errorCode(error);
    route.error = code;
    if (isConnectFailure(error)) this.options.markDown(route.server, code);
    if (!res.headersSent && isRetryable(error, req.method, route.hasBody)) {
      const from = route.server;
      if (router.reroute(route)) {
        metrics.retries.inc({ from });
        logger.debug({ from, to: route.server, code }, "retrying on the next server");
        this.forward(req, res);
        return;
      }
    }
    if (code === SERVER_TIMEOUT)
      sendError(res, 504, `Gateway Timeout: ${route.server} did not answer in time`, route.server);
    else sendError(res, 502, `Bad Gateway: ${route.server} failed (${code})`, route.server);
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    addForwardedHeaders(req, this.options.trusted);
    this.upgrades.upgrade(req, socket, head);
  }

  async close(): Promise<void> {
    this.upgrades.close();
    await this.agent.destroy();
  }
}

/** `http://host/p?q` (absolute-form) to what an origin server expects (`/p?q`). */
function originForm(target: string): string {
  try {
    const url = new URL(target);
    return url.pathname + url.search;
  } catch {
    return `/${target}`;
  }
}

export function createForwarder(options: ForwarderOptions): Forwarder {
  return new UndiciForwarder(options);
}

// Forwarding: each request goes out on a kept-alive connection to its server
// (the engine's client, given: upstream/ on net sockets with Node's strict
// response parser, or node:http's with HTTP_ENGINE=express), the response
// relayed with backpressure both ways, one retry on the next server when the
// connection fails, and a short clear error otherwise.
// WebSocket upgrades go through http-proxy-middleware (websocket.ts).

import type { LookupFunction, Socket } from "node:net";
import type { Logger } from "@stickyring/runtime";
import type { ClientRequest } from "../http/downstream/request.js";
import type { ResponseWriter } from "../http/downstream/response-writer.js";
import {
  describeFailure,
  failureStatus,
  isConnectFailure,
  isIdempotent,
  isRetryable,
  rawAnswer,
  sendError,
} from "./errors.js";
import {
  addForwardedHeaders,
  endToEndHeaders,
  endToEndRawHeaders,
  trailerFields,
} from "./forwarded-headers.js";
import type { Route, Router } from "./routing.js";
import {
  CONNECT_TIMEOUT,
  SERVER_DOWN,
  UpstreamError,
  isLocalShortage,
  type ConnectionCounts,
  type Exchange,
  type Upstream,
  type UpstreamLink,
} from "../http/upstream/exchange.js";
import type { ServerSlots, Waiter } from "./server-slots.js";
import { createUpgradeForwarder } from "./websocket.js";

/** What the forwarder counts. */
export interface RequestMetrics {
  /** Time from routing to the server's response head. */
  observeUpstream(backend: string, seconds: number): void;
  /** A request went to the next server after `from` failed. */
  countRetry(from: string): void;
  /** A request waited for a slot on `server` (granted, timed out or moved on). */
  observeQueue(server: string, seconds: number): void;
}

export interface ForwarderOptions {
  router: Router;
  /** Passive health: a server whose connection failed is taken down. */
  markDown(id: string, detail: string): void;
  metrics: RequestMetrics;
  logger: Logger;
  timeouts: { connectMs: number; serverMs: number; tunnelMs: number };
  lookup: LookupFunction;
  /** Servers' maxconn and queues. */
  slots: ServerSlots;
  /** The engine's HTTP/1.1 client: connections to the servers (../http/upstream/exchange.ts). */
  upstream: Upstream;
  /** REQUEST_ID_HEADER, lower case: answers carry the request's id in it. */
  requestIdHeader: string | undefined;
  /**
   * ON_MARKED_DOWN=shutdown-sessions: requests a server holds unanswered
   * are cut when it is marked down (markedDown()).
   */
  cutOnDown: boolean;
}

export interface Forwarder {
  /** Forwards a routed request. */
  handle(req: ClientRequest, res: ResponseWriter, route: Route): void;
  /** WebSocket upgrades go to the client's server too. */
  upgrade(req: ClientRequest, route: Route, socket: Socket, head: Buffer): void;
  /** Connections open to each server address (host:port), busy and idle. */
  upstreamCounts(): Map<string, ConnectionCounts>;
  /** What every answer to a routed request carries: X-Backend, and the request id when there is one. */
  answerHeaders(route: Route): string[];
  /**
   * `server` was marked down: with cutOnDown, the requests it holds whose
   * answer has not begun are cut, an idempotent one sent to the next
   * server (HAProxy's `on-marked-down shutdown-sessions`).
   */
  markedDown(server: string): void;
  /** Closes the upstream connections. */
  close(): Promise<void>;
}

/**
 * One upstream exchange, relayed to the client as it arrives. A class rather
 * than an object of closures: every request has the same shape.
 */
class Relay implements Exchange {
  private done = false;
  /** The server is held back until the client drains. */
  private holding = false;
  /**
   * Body pieces of the read being parsed, written once it is: a read of
   * many small chunks is one write to the client, not one each.
   */
  private pending: Buffer | Buffer[] | undefined;
  /** The server's head has come. */
  private answered = false;
  /** The client left before the head: called once the server is done (abandon). */
  private abandoned: (() => void) | undefined;

  /** The server it waits on, while it may be cut (ON_MARKED_DOWN); else undefined. */
  private held: string | undefined;

  constructor(
    private readonly req: ClientRequest,
    private readonly res: ResponseWriter,
    private readonly route: Route,
    private readonly connection: UpstreamLink,
    private readonly forwarder: Forwarding,
  ) {
    if (forwarder.cutOnDown) {
      this.held = route.server;
      forwarder.hold(route.server, this);
    }
  }

  /** No longer a request its server holds unanswered. */
  private unhold(): void {
    if (this.held === undefined) return;
    this.forwarder.unhold(this.held, this);
    this.held = undefined;
  }

  /**
   * Its server was marked down before answering: the exchange is cut and
   * fails as a broken connection would (an idempotent request goes to the
   * next server); one whose client already left just frees its slot.
   */
  cut(): void {
    this.unhold();
    if (this.done || this.answered) return;
    this.connection.abort();
    if (this.abandoned !== undefined) return this.settle();
    const error = new UpstreamError(
      `${this.route.server} was marked down while it held the request`,
      SERVER_DOWN,
    );
    // Sent whole or not, a body may have gone: it is never sent again.
    error.bodyTaken = this.req.body !== undefined;
    this.onError(error);
  }

  onInterim(status: number, statusMessage: string, rawHeaders: string[]): void {
    if (this.abandoned !== undefined) return;
    this.res.writeInterim(status, statusMessage || undefined, endToEndRawHeaders(rawHeaders));
  }

  onHead(status: number, statusMessage: string, rawHeaders: string[]): void {
    this.answered = true;
    this.unhold();
    if (this.abandoned !== undefined) {
      // Nobody to relay it to: the server has answered, its slot is free.
      this.connection.abort();
      this.settle();
      return;
    }
    const { res, route } = this;
    this.forwarder.metrics.observeUpstream(
      route.server,
      (performance.now() - route.startedAt) / 1000,
    );
    let list = endToEndRawHeaders(rawHeaders);
    // The server's own copy of the id (one echoed, or its own) gives way to the proxy's.
    const idHeader = this.forwarder.requestIdHeader;
    if (idHeader !== undefined && route.requestId !== undefined)
      list = withoutField(list, idHeader);
    list.push(...this.forwarder.answerHeaders(route));
    if (route.setCookie !== undefined) list.push("set-cookie", route.setCookie);
    res.writeHead(status, statusMessage || undefined, list);
  }

  onBody(chunk: Buffer): void {
    const pending = this.pending;
    if (pending === undefined) this.pending = chunk;
    else if (Array.isArray(pending)) pending.push(chunk);
    else this.pending = [pending, chunk];
  }

  private flush(): void {
    const pending = this.pending;
    if (pending === undefined) return;
    this.pending = undefined;
    const chunk = Array.isArray(pending) ? Buffer.concat(pending) : pending;
    if (this.res.write(chunk) || this.holding) return;
    // The client reads slower than the server sends: hold the server back
    // until it catches up. Most answers never get here, so the listener is
    // added only now.
    this.holding = true;
    this.connection.pause();
    this.res.onceDrain(() => {
      this.holding = false;
      // Once the answer is complete the connection may carry another exchange.
      if (!this.done) this.connection.resume();
    });
  }

  onEnd(trailers: string[] | undefined): void {
    this.flush();
    this.done = true;
    this.res.end(undefined, trailers && trailerFields(trailers));
  }

  onReadEnd(): void {
    if (this.abandoned !== undefined) return;
    this.flush();
    // A head whose body did not come in the same read goes out alone (server-sent events, long polls).
    this.res.flushHead();
  }

  onError(error: UpstreamError): void {
    this.unhold();
    if (this.abandoned !== undefined) return this.settle();
    this.done = true;
    if (this.res.done) return; // the client left first: nothing to answer
    if (this.res.headersSent) {
      // Part of the answer is out: what came of the body before the fault
      // goes too (a bad trailer must not take the body with it, as HAProxy
      // relays it), then the connection is cut so the client sees it broken.
      this.route.error = error.code;
      const pending = this.pending;
      this.pending = undefined;
      if (pending !== undefined)
        this.res.write(Array.isArray(pending) ? Buffer.concat(pending) : pending);
      this.res.destroy();
      return;
    }
    this.forwarder.fail(error, this.req, this.res, this.route);
  }

  /**
   * The client closed ('close' follows every response: a finished exchange
   * has nothing left to do). One whose request went whole and whose answer
   * has not begun goes on until the server's head or failure (the server
   * timeout bounds it), as HAProxy's does without `option abortonclose`:
   * the server is still working on it, so it keeps its slot and the server
   * never sees more than MAXCONN at once. Returns whether `settled` will be
   * called then; any other unfinished exchange is cut now.
   */
  abandon(settled: () => void): boolean {
    if (this.done) return false;
    if (!this.answered && this.req.complete) {
      this.abandoned = settled;
      return true;
    }
    this.unhold();
    this.done = true;
    this.connection.abort();
    return false;
  }

  private settle(): void {
    this.unhold();
    this.done = true;
    const settled = this.abandoned!;
    this.abandoned = undefined;
    settled();
  }
}

/** A request waiting in its server's queue. */
class QueuedRequest implements Waiter {
  constructor(
    private readonly forwarder: Forwarding,
    private readonly req: ClientRequest,
    private readonly res: ResponseWriter,
    private readonly route: Route,
    private readonly fresh: boolean,
  ) {}

  granted(waitedMs: number): void {
    this.forwarder.metrics.observeQueue(this.route.server, waitedMs / 1000);
    this.route.slot = this.route.server;
    this.forwarder.dispatch(this.req, this.res, this.route, this.fresh);
  }

  expired(waitedMs: number): void {
    const { route } = this;
    this.forwarder.metrics.observeQueue(route.server, waitedMs / 1000);
    this.res.queued = false;
    route.error = "queue timeout";
    sendError(
      this.res,
      503,
      `Service Unavailable: ${route.server} is at its connection limit and the request waited ${Math.round(waitedMs)} ms in its queue`,
      this.forwarder.answerHeaders(route),
    );
  }

  stays(): boolean {
    return this.route.persisted;
  }

  orphaned(waitedMs: number): void {
    this.forwarder.metrics.observeQueue(this.route.server, waitedMs / 1000);
    this.forwarder.orphaned(this.req, this.res, this.route);
  }
}

class Forwarding implements Forwarder {
  private readonly upstream;
  private readonly upgrades;
  readonly metrics: RequestMetrics;
  /** When the proxy last warned that it ran short (at most every 10 s). */
  private shortageTold = -Infinity;
  readonly cutOnDown: boolean;
  /** With cutOnDown: the exchanges each server holds unanswered. */
  private readonly holding = new Map<string, Set<Relay>>();

  constructor(private readonly options: ForwarderOptions) {
    this.cutOnDown = options.cutOnDown;
    this.metrics = options.metrics;
    this.upstream = options.upstream;
    this.upgrades = createUpgradeForwarder(
      options.lookup,
      options.timeouts.serverMs,
      options.timeouts.tunnelMs,
    );
  }

  get requestIdHeader(): string | undefined {
    return this.options.requestIdHeader;
  }

  hold(server: string, relay: Relay): void {
    let set = this.holding.get(server);
    if (set === undefined) this.holding.set(server, (set = new Set()));
    set.add(relay);
  }

  unhold(server: string, relay: Relay): void {
    const set = this.holding.get(server);
    if (set?.delete(relay) && set.size === 0) this.holding.delete(server);
  }

  markedDown(server: string): void {
    const set = this.holding.get(server);
    if (set === undefined) return;
    for (const relay of [...set]) relay.cut();
  }

  answerHeaders(route: Route): string[] {
    const name = this.options.requestIdHeader;
    return name === undefined || route.requestId === undefined
      ? ["x-backend", route.server]
      : ["x-backend", route.server, name, route.requestId];
  }

  handle(req: ClientRequest, res: ResponseWriter, route: Route): void {
    addForwardedHeaders(req, route.peerTrusted);
    const { slots } = this.options;
    const release = () => {
      if (route.slot !== undefined) slots.release(route.slot);
      else if (route.waiting !== undefined) slots.cancel(route.server, route.waiting);
    };
    // The exchange is cut (or left to finish) before the slot goes to the next in the queue.
    res.onClose(() => route.exchange?.abandon(release) || release());
    this.forward(req, res, route, false);
  }

  /** Sends the request to `route.server` once it holds a slot there (maxconn). */
  private forward(req: ClientRequest, res: ResponseWriter, route: Route, fresh: boolean): void {
    const { slots } = this.options;
    if (route.slot !== route.server) {
      if (route.slot !== undefined) slots.release(route.slot);
      route.slot = undefined;
      if (!slots.take(route.server)) {
        res.queued = true;
        route.waiting = new QueuedRequest(this, req, res, route, fresh);
        slots.wait(route.server, route.waiting);
        return;
      }
      route.slot = route.server;
    }
    this.dispatch(req, res, route, fresh);
  }

  dispatch(req: ClientRequest, res: ResponseWriter, route: Route, fresh: boolean): void {
    route.waiting = undefined;
    route.exchange = undefined;
    const connection = this.upstream.connection(route.target, fresh);
    res.queued = connection === undefined;
    if (connection === undefined) {
      // Many connections to the server are being opened: wait for one to
      // come back or connect (pool.ts), unless the client leaves first. A
      // wait past the connect timeout with no connection made or given back
      // meanwhile is one: the server is not reachable in time (a server that
      // takes connections but never completes them would otherwise hold the
      // waiters a connect timeout per 64 of them). While connections come,
      // the wait is the proxy's own backlog (thousands of clients at once):
      // no verdict on the server, which it would take down, healthy.
      const connectMs = this.options.timeouts.connectMs;
      /** The wait ended: a connection may be had, or the client left. */
      let over = false;
      // Judged after this loop's poll, which may hold the connects that
      // ended while a busy loop ran late (UpstreamConnection.onTimeout).
      const expire = () => setImmediate(judge);
      const judge = () => {
        if (over) return;
        if (this.upstream.progressed(route.target, connectMs)) {
          timer = setTimeout(expire, connectMs);
          return;
        }
        over = true;
        cancel();
        res.queued = false;
        const error = new UpstreamError(`no connection within ${connectMs} ms`, CONNECT_TIMEOUT);
        this.fail(error, req, res, route);
      };
      let timer = setTimeout(expire, connectMs);
      const cancel = this.upstream.wait(route.target, () => {
        over = true;
        clearTimeout(timer);
        if (!res.done) this.dispatch(req, res, route, fresh);
      });
      res.onClose(() => {
        over = true;
        clearTimeout(timer);
        cancel();
      });
      return;
    }
    const relay = new Relay(req, res, route, connection, this);
    route.exchange = relay;
    // A body received chunked has no known length: it goes on chunked.
    const chunked = req.body !== undefined && req.headers["content-length"] === undefined;
    const idHeader = this.options.requestIdHeader;
    const headers = endToEndHeaders(req.headers, idHeader);
    // HTTP/1.0 needs no Host; the HTTP/1.1 that goes to the server does.
    if (req.headers.host === undefined) headers.push("host", route.target.host);
    const body = req.body;
    connection.dispatch(relay, {
      method: req.method,
      target: req.url,
      headers,
      body,
      chunked,
      trailers: chunked
        ? () => body!.trailers && trailerFields(body!.trailers, idHeader)
        : undefined,
      headOnly: req.method === "HEAD",
    });
  }

  fail(error: UpstreamError, req: ClientRequest, res: ResponseWriter, route: Route): void {
    const { router, metrics, logger } = this.options;
    const { code } = error;
    const hasBody = req.body !== undefined;
    // A kept-alive connection the server had closed while it idled: most
    // likely nothing was processed, so an idempotent request goes again, to
    // the same server. Another may have been; it is never sent twice.
    if (error.stale && !hasBody && isIdempotent(req.method)) {
      logger.debug({ server: route.server }, "kept-alive connection was closed: sending again");
      this.forward(req, res, route, true);
      return;
    }
    route.error = code;
    if (isConnectFailure(error)) this.options.markDown(route.server, code);
    else if (isLocalShortage(code) && performance.now() - this.shortageTold > 10_000) {
      this.shortageTold = performance.now();
      logger.warn(
        { server: route.server, code },
        "the proxy is out of file descriptors or local ports: requests get 503 (raise ulimit -n, or lower CLIENT_MAXCONN)",
      );
    }
    // A body partly sent is gone: the request cannot go to another server whole.
    if (!res.headersSent && !error.bodyTaken && isRetryable(error, req.method)) {
      const from = route.server;
      if (router.reroute(route)) {
        metrics.countRetry(from);
        logger.debug({ from, to: route.server, code }, "retrying on the next server");
        this.forward(req, res, route, false);
        return;
      }
    }
    sendError(
      res,
      failureStatus(code),
      describeFailure(route.server, code),
      this.answerHeaders(route),
    );
  }

  /**
   * The request's server left the placement while it waited for a slot: it
   * goes to the next server, as one whose connection never opened does
   * (none of it was sent, its body is still the client's; HAProxy's `option
   * redispatch` moves a down server's queue); with no server left, 503.
   */
  orphaned(req: ClientRequest, res: ResponseWriter, route: Route): void {
    route.waiting = undefined;
    const from = route.server;
    if (this.options.router.reroute(route)) {
      this.metrics.countRetry(from);
      this.forward(req, res, route, false);
      return;
    }
    route.error = "server left";
    sendError(
      res,
      503,
      `Service Unavailable: ${from} left while the request waited in its queue`,
      this.answerHeaders(route),
    );
  }

  /**
   * A WebSocket tunnel holds a slot on its server while it is open, as
   * HAProxy counts it against the server's maxconn; it waits in the queue as
   * a request does, the client's socket unread meanwhile.
   */
  upgrade(req: ClientRequest, route: Route, socket: Socket, head: Buffer): void {
    addForwardedHeaders(req, route.peerTrusted);
    const { slots } = this.options;
    const go = () => {
      const server = route.server;
      socket.once("close", () => slots.release(server));
      this.upgrades.upgrade(req, route, socket, head);
    };
    const refuse = (text: string) => {
      route.upgradeStatus = 503;
      if (!socket.destroyed) socket.end(rawAnswer("503 Service Unavailable", text));
    };
    // Set while the upgrade waits in its server's queue.
    let waiting = false;
    const waiter: Waiter = {
      stays: () => route.persisted,
      granted: (ms) => {
        waiting = false;
        this.metrics.observeQueue(route.server, ms / 1000);
        go();
      },
      expired: (ms) => {
        waiting = false;
        this.metrics.observeQueue(route.server, ms / 1000);
        refuse(
          `${route.server} is at its connection limit and the upgrade waited ${Math.round(ms)} ms in its queue`,
        );
      },
      orphaned: (ms) => {
        waiting = false;
        this.metrics.observeQueue(route.server, ms / 1000);
        const from = route.server;
        if (!this.options.router.reroute(route))
          return refuse(`${from} left while the upgrade waited in its queue`);
        this.metrics.countRetry(from);
        if (slots.take(route.server)) return go();
        waiting = true;
        slots.wait(route.server, waiter);
      },
    };
    if (slots.take(route.server)) return go();
    waiting = true;
    slots.wait(route.server, waiter);
    socket.pause();
    socket.once("close", () => {
      if (waiting) slots.cancel(route.server, waiter);
    });
  }

  upstreamCounts(): Map<string, ConnectionCounts> {
    return this.upstream.counts();
  }

  async close(): Promise<void> {
    this.upgrades.close();
    this.upstream.close();
  }
}

export function createForwarder(options: ForwarderOptions): Forwarder {
  return new Forwarding(options);
}

/** A raw [name, value, ...] list without the fields named `lower` (in any case). */
function withoutField(list: string[], lower: string): string[] {
  const kept: string[] = [];
  for (let i = 0; i < list.length; i += 2)
    if (list[i]!.toLowerCase() !== lower) kept.push(list[i]!, list[i + 1]!);
  return kept;
}

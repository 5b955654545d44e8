// The data plane: the proxy listener. Routes each request on the current
// placement, forwards it, counts and logs it. It reads the placement and
// reports to the control plane through two hooks, so it runs the same in
// one process and in each worker of the multi-core mode.

import type { LookupFunction, Server, Socket } from "node:net";
import type { Logger } from "@stickyring/runtime";
import { watchBodyRate } from "./body-rate.js";
import type { ClientRequest } from "../http/downstream/request.js";
import type { RejectedRequest } from "../http/downstream/connection.js";
import type { ConnectionCounts } from "../http/upstream/exchange.js";
import type { ResponseWriter } from "../http/downstream/response-writer.js";
import { redirectToHttps, redirectUpgradeToHttps } from "./https-redirect.js";
import { createTlsPort, type ReloadOutcome, type TlsSettings } from "./tls-port.js";
import { rawAnswer, sendError, sendText } from "./errors.js";
import { tellClientIdentity } from "./client-identity.js";
import { describeRate, RateLimiter, type ClientRate } from "./client-rate.js";
import { assignRequestId } from "./request-id.js";
import type { AddressMatcher } from "./cidr.js";
import {
  chooseEngine,
  createEngineServer,
  createEngineUpstream,
  type EngineName,
} from "./engine.js";
import { createForwarder, type RequestMetrics } from "./forwarder.js";
import { createKeyPolicy, type Balance } from "./key-policy.js";
import type { Placement } from "./placement.js";
import { createRouter, type Route } from "./routing.js";
import { ServerSlots } from "./server-slots.js";
import { createClientGate, type ClientGateCounts } from "../http/downstream/client-gate.js";

/** HAProxy's timeouts, in ms. */
export interface Timeouts {
  connectMs: number;
  serverMs: number;
  clientMs: number;
  /** An open tunnel (WebSocket) silent both ways. */
  tunnelMs: number;
  /** HAProxy `timeout queue`: how long a request waits for a server's free slot. */
  queueMs: number;
}

/** The settings the data plane reads (config.ts validates them). */
export interface DataPlaneSettings {
  balance: Balance;
  balanceFactor: number | undefined;
  trustedProxies: AddressMatcher | undefined;
  cookie: string | undefined;
  timeouts: Timeouts;
  /** Idle kept-alive connections kept per server. */
  maxIdlePerServer: number;
  /** Client connections served at once by this process (client-gate.ts). */
  clientMaxconn: number;
  /** Connections one client address may hold at once in this process; 0: no cap. */
  clientAddressMaxconn: number;
  clientMinBodyRate: number;
  /** CLIENT_RATE: requests a client may send; undefined: no limit. */
  clientRate: ClientRate | undefined;
  /** REQUEST_ID_HEADER in lower case; undefined: no request ids. */
  requestIdHeader: string | undefined;
  accessLog: boolean;
  acceptProxy: boolean;
  /** ABORT_ON_CLOSE: a half-close drops a request still waiting for its server. */
  abortOnClose: boolean;
  /** ON_MARKED_DOWN: `shutdown-sessions` cuts a downed server's unanswered requests. */
  onMarkedDown: "none" | "shutdown-sessions";
  /** HAProxy `monitor-uri`: this path is answered by the proxy itself. */
  monitorUri: string | undefined;
  /** After close() is called, how long to keep accepting (the monitor says 503) before draining. */
  graceMs: number;
  /** The TLS port, when there is one. */
  tls: TlsSettings | undefined;
  /** The plain port answers 308 to the https URL. */
  httpsRedirect: boolean;
  /** HTTP_ENGINE: what reads and writes HTTP/1.1 (engine.ts). */
  engine: EngineName;
}

/** What the data plane counts: its requests, and the retries and answer times the forwarder sees. */
export interface DataPlaneMetrics extends RequestMetrics {
  countRequest(backend: string, code: number): void;
  /** Where the gauges of queues, server connections and client connections are read at scrape time. */
  watchLoad(load: () => LoadView): void;
}

/** What the data plane holds for one server: busy/queued/limit are requests holding a slot, waiting, maxconn (0: none). */
export interface ServerLoad {
  busy: number;
  /** The most requests it held slots for at once, since it joined the placement. */
  busyPeak: number;
  queued: number;
  limit: number;
  /** Connections to the server. */
  connections: ConnectionCounts;
}

/** What the data plane holds now, per server and in all. */
export interface LoadView {
  servers: Map<string, ServerLoad>;
  clients: ClientGateCounts;
}

export interface DataPlaneHooks {
  /** A connection to the server failed: passive health takes it down. */
  markDown(id: string, detail: string): void;
  /** A request to the server finished (answered or not). */
  served(id: string): void;
}

export interface DataPlane {
  readonly server: Server;
  /** Listens on the proxy port (0: any); resolves with the port. */
  listen(port: number, host: string | undefined): Promise<number>;
  /** The TLS port's listener, with TLS_PORT. */
  readonly tlsServer: Server | undefined;
  /** Reads the certificate files again; new handshakes use them if they are whole. */
  reloadCertificates(cause: string): ReloadOutcome;
  /** The session ticket key (ticket-keys.ts). */
  setTicketKeys(keys: Buffer): void;
  /** A new placement is in use: queued requests of servers that left it move on or get 503. */
  placementChanged(): void;
  /** Requests holding and waiting for slots, connections to servers, client connections. */
  load(): LoadView;
  /** Requests waiting in `server`'s queue. */
  queued(server: string): number;
  /** This process's share of CLIENT_MAXCONN (multi-core mode). */
  setClientLimit(limit: number): void;
  /** Stops accepting, drains in-flight requests, closes upstream pools. */
  close(timeoutMs: number): Promise<void>;
}

/** How long an idle kept-alive client connection stays open (node:http's default). */
const KEEP_ALIVE_MS = 5_000;

export function createDataPlane(options: {
  config: DataPlaneSettings;
  logger: Logger;
  metrics: DataPlaneMetrics;
  placement: () => Placement;
  hooks: DataPlaneHooks;
  /** Requests in flight per server, kept here; bounded-load hashing reads them. */
  loads: Map<string, number>;
  /** Resolves backend names for the connections to them (lookup.ts). */
  lookup: LookupFunction;
  /** Tests only: stands in for engine.ts's check of what the fast engine needs. */
  fastEngineProblem?: () => string | undefined;
}): DataPlane {
  const { config, logger, metrics, placement, hooks, loads } = options;
  const engine = chooseEngine(config.engine, logger, options.fastEngineProblem);
  const router = createRouter(
    placement,
    createKeyPolicy(config.balance),
    config.trustedProxies,
    config.balanceFactor === undefined ? undefined : loads,
    config.cookie,
  );
  const slots = new ServerSlots(
    (server) => placement().maxconn.get(server) ?? 0,
    config.timeouts.queueMs,
  );
  const forwarder = createForwarder({
    slots,
    lookup: options.lookup,
    router,
    markDown: hooks.markDown,
    metrics,
    logger,
    timeouts: config.timeouts,
    upstream: createEngineUpstream(
      engine,
      { lookup: options.lookup, ...config.timeouts },
      config.maxIdlePerServer,
    ),
    requestIdHeader: config.requestIdHeader,
    cutOnDown: config.onMarkedDown === "shutdown-sessions",
  });
  const requestIdHeader = config.requestIdHeader;
  /** The servers down in the last placement seen: those newly down have their requests cut. */
  let wasDown: ReadonlySet<string> = new Set();

  const bodyRate = {
    graceMs: config.timeouts.clientMs,
    minBytesPerSecond: config.clientMinBodyRate,
  };
  const cutSlowBody = (req: ClientRequest, res: ResponseWriter, route: Route) => {
    logger.info({ client: route.client, url: req.url }, "request body too slow: cut");
    // The connection closes once the answer is out; the rest of the body is not read.
    sendError(
      res,
      408,
      `Request Timeout: the request body arrived slower than ${config.clientMinBodyRate} bytes/s`,
      forwarder.answerHeaders(route),
      true,
    );
  };

  let draining = false;
  /**
   * The monitor URI: 200 while some server takes keys and the proxy is not
   * stopping, else 503, so a balancer in front (or a Kubernetes readiness
   * probe) stops sending before the process goes. Never reaches a server.
   */
  const monitor = (res: ResponseWriter) => {
    const why = draining ? "stopping" : placement().unavailable;
    sendText(res, why === undefined ? 200 : 503, `${why ?? "ok"}\n`);
  };

  /**
   * Counts and logs a request the proxy answered itself, routed or not: one
   * the listener refused while reading it (HAProxy's <BADREQ>) has no
   * method or URL, which may be what could not be read.
   */
  const rejected = (request: RejectedRequest & { method?: string; url?: string }) => {
    metrics.countRequest("none", request.status);
    if (config.accessLog) logger.info(request, "refused");
  };

  /** The same for a request read whole. */
  const refused = (req: ClientRequest, status: number, reason: string) =>
    rejected({
      client: req.remoteAddress,
      method: req.method,
      url: req.url,
      proto: `HTTP/${req.httpVersion}`,
      tls: req.tlsVersion,
      status,
      reason,
    });

  /**
   * A request answered by the proxy itself. A body still coming in is not
   * waited for: the connection closes after the answer (a slow body would
   * otherwise hold it open, the body-rate watch being for routed requests).
   */
  const refuse = (
    req: ClientRequest,
    res: ResponseWriter,
    status: number,
    text: string,
    close = false,
    extra: readonly string[] = [],
  ) => {
    if (close || (req.body !== undefined && !req.complete)) res.keepAlive = false;
    sendText(res, status, `${status} ${text}\n`, extra);
    refused(req, status, text);
  };

  /** The same for an upgrade: the answer is written on the socket, which closes. */
  const refuseUpgrade = (
    req: ClientRequest,
    socket: Socket,
    status: string,
    text: string,
    extra: readonly string[] = [],
  ) => {
    socket.end(rawAnswer(status, text, extra));
    refused(req, Number(status.slice(0, 3)), text);
  };

  // CLIENT_RATE: this process's buckets (with WORKERS, each worker has its own).
  const limiter = config.clientRate === undefined ? undefined : new RateLimiter(config.clientRate);
  const tooMany = (client: string) =>
    `${client} sent more than ${config.clientRate!.burst} at once or ${describeRate(config.clientRate!.perSecond)} (CLIENT_RATE)`;

  // With TLS_CLIENT_CA: X-SSL-Client-* set from the handshake, or the refusal.
  const checkClient = config.tls?.clientVerify === undefined ? undefined : tellClientIdentity;

  /** One access-log line per routed request, like HAProxy's `option httplog`. */
  const logRequest = (
    req: ClientRequest,
    route: Route,
    status: number,
    more: Record<string, unknown>,
  ) =>
    logger.info(
      {
        client: route.client,
        key: route.key,
        backend: route.server,
        method: req.method,
        url: req.url,
        // As HAProxy's %HV and %sslv, nginx's $server_protocol and $ssl_protocol.
        proto: `HTTP/${req.httpVersion}`,
        tls: req.tlsVersion,
        status,
        ms: Math.round((performance.now() - route.startedAt) * 100) / 100,
        ...more,
      },
      "request",
    );

  /** Counts one more in flight on `server` (GET /api/servers, BALANCE_FACTOR); the returned function counts it out. */
  const holdLoad = (server: string) => {
    loads.set(server, (loads.get(server) ?? 0) + 1);
    return () => void loads.set(server, loads.get(server)! - 1);
  };

  const handle = (req: ClientRequest, res: ResponseWriter) => {
    if (req.url === config.monitorUri) return monitor(res);
    if (config.httpsRedirect && !req.secure) return redirectToHttps(req, res, tlsPort());
    const unverified = checkClient?.(req);
    // Never reaches a server; the connection is closed after it.
    if (unverified !== undefined) return refuse(req, res, 400, `Bad Request: ${unverified}`, true);
    const result = router.route(req);
    if ("refused" in result) {
      if (result.refused === "no-server")
        return refuse(req, res, 503, `Service Unavailable: ${result.why}`);
      return refuse(req, res, 400, "Bad Request: no client address");
    }
    const wait = limiter?.take(result.client, performance.now());
    if (wait) {
      const retryAfter = String(Math.ceil(wait));
      return refuse(req, res, 429, `Too Many Requests: ${tooMany(result.client)}`, false, [
        "retry-after",
        retryAfter,
      ]);
    }
    if (requestIdHeader !== undefined)
      result.requestId = assignRequestId(req.headers, requestIdHeader, result.peerTrusted);
    if (req.body !== undefined)
      watchBodyRate(req, res, bodyRate, () => cutSlowBody(req, res, result));
    const unload = holdLoad(result.server);
    res.onClose(() => {
      unload();
      hooks.served(result.server);
      const status = res.headersSent ? res.statusCode : 499;
      metrics.countRequest(result.server, status);
      if (!config.accessLog) return;
      logRequest(req, result, status, {
        retries: result.tried.length - 1,
        error: result.error,
        id: result.requestId,
      });
    });
    forwarder.handle(req, res, result);
  };

  const upgrade = (req: ClientRequest, socket: Socket, head: Buffer) => {
    if (config.httpsRedirect && !req.secure) return redirectUpgradeToHttps(req, socket, tlsPort());
    const unverified = checkClient?.(req);
    if (unverified !== undefined) return refuseUpgrade(req, socket, "400 Bad Request", unverified);
    const result = router.route(req);
    if ("refused" in result)
      return result.refused === "no-server"
        ? refuseUpgrade(req, socket, "503 Service Unavailable", result.why)
        : refuseUpgrade(req, socket, "400 Bad Request", "no client address");
    const wait = limiter?.take(result.client, performance.now());
    if (wait)
      return refuseUpgrade(req, socket, "429 Too Many Requests", tooMany(result.client), [
        "retry-after",
        String(Math.ceil(wait)),
      ]);
    if (requestIdHeader !== undefined)
      result.requestId = assignRequestId(req.headers, requestIdHeader, result.peerTrusted);
    // A tunnel is in flight on its server until it closes, as a request is
    // until answered: it holds a MAXCONN slot, and BALANCE_FACTOR weighs it.
    socket.once("close", holdLoad(result.server));
    // One line when the tunnel ends, as HAProxy logs a WebSocket: the
    // server's answer (101 once open; 499 when the client left before it)
    // and the tunnel's whole life.
    if (config.accessLog)
      socket.once("close", () =>
        logRequest(req, result, result.upgradeStatus ?? 499, {
          upgrade: "websocket",
          id: result.requestId,
        }),
      );
    forwarder.upgrade(req, result, socket, head);
  };

  let addressFullLogged = 0;
  const gate = createClientGate(config.clientMaxconn, {
    clientMs: config.timeouts.clientMs,
    perAddress: config.clientAddressMaxconn,
    claimOnAdmit: !config.acceptProxy,
    addressFull(address, perAddress) {
      // At most a line every 10 s: this is what a flood from one address looks like.
      if (performance.now() - addressFullLogged < 10_000 && addressFullLogged !== 0) return;
      addressFullLogged = performance.now();
      logger.warn(
        { client: address, perAddress, refused: gate.counts().refusedPerAddress },
        "a client address holds CLIENT_ADDRESS_MAXCONN connections: more from it are closed at once",
      );
    },
    full(full, counts) {
      if (full)
        logger.warn(
          { limit: counts.limit, waiting: counts.waiting },
          "client connection limit reached (CLIENT_MAXCONN): new connections wait until one closes",
        );
      else logger.info({ limit: counts.limit }, "client connections below the limit again");
    },
  });

  // Headers must arrive within the client timeout (slowloris).
  const port = createEngineServer(
    engine,
    { request: handle, upgrade, rejected },
    {
      headersMs: Math.min(config.timeouts.clientMs, 60_000),
      keepAliveMs: KEEP_ALIVE_MS,
      clientMs: config.timeouts.clientMs,
      acceptProxy: config.acceptProxy,
      abortOnClose: config.abortOnClose,
      gate,
    },
  );

  const http = port.http;
  if (config.tls && port.engine !== "fast")
    // config.ts refuses TLS_PORT with HTTP_ENGINE=express: this is the fallback's case.
    throw new Error(
      "TLS_PORT needs HTTP_ENGINE=fast (HTTP/1.1 over TLS runs on it), and this Node cannot run it: unset TLS_PORT",
    );
  const tls =
    config.tls && port.engine === "fast"
      ? createTlsPort({
          settings: config.tls,
          http: port.http,
          handlers: { request: handle, upgrade, rejected },
          clientMs: config.timeouts.clientMs,
          acceptProxy: config.acceptProxy,
          gate,
          logger,
        })
      : undefined;
  const tlsPort = () => tls!.port();

  // Every server of the membership (down or in maintenance too), and any
  // other still holding or awaiting a slot: a scrape shows the same series
  // whether or not requests came, and whatever the server's state.
  const load = (): LoadView => {
    const current = placement();
    const pools = forwarder.upstreamCounts();
    const counts = slots.counts();
    const servers: LoadView["servers"] = new Map();
    const ids = new Set(current.known.keys());
    for (const [server, c] of counts) if (c.busy > 0 || c.queued > 0) ids.add(server);
    for (const server of ids) {
      const known = current.known.get(server);
      const host = current.targets.get(server)?.host ?? known?.host;
      const c = counts.get(server);
      servers.set(server, {
        busy: c?.busy ?? 0,
        busyPeak: slots.peak(server),
        queued: c?.queued ?? 0,
        limit: current.maxconn.get(server) ?? known?.maxconn ?? 0,
        connections: (host && pools.get(host)) || { busy: 0, idle: 0, peak: 0 },
      });
    }
    return { servers, clients: gate.counts() };
  };
  metrics.watchLoad(load);

  return {
    server: http.server,
    listen: (port, host) => http.listen(port, host),
    tlsServer: tls?.server,
    reloadCertificates: (cause) => tls?.reloadCertificates(cause) ?? "unchanged",
    setTicketKeys(keys) {
      tls?.setTicketKeys(keys);
    },
    placementChanged() {
      const current = placement();
      const taking = new Set(current.ring.servers.filter((s) => s.weight > 0).map((s) => s.id));
      slots.placementChanged(
        (server) => current.targets.has(server),
        (server) => taking.has(server),
      );
      for (const server of current.down) if (!wasDown.has(server)) forwarder.markedDown(server);
      wasDown = current.down;
    },
    load,
    queued: (server) => slots.queued(server),
    setClientLimit: (limit) => gate.setLimit(limit),
    async close(timeoutMs) {
      draining = true;
      if (config.graceMs > 0) await new Promise((r) => setTimeout(r, config.graceMs));
      await Promise.all([http.close(timeoutMs), tls?.close(timeoutMs)]);
      await forwarder.close();
    },
  };
}

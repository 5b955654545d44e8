// The control plane: membership, active health checks, the placement built
// from them, and the admin listener (API, dashboard, metrics). One per
// proxy, whether the data plane runs beside it or in worker processes.

import { readFileSync } from "node:fs";
import { createServer, type RequestListener, type Server } from "node:http";
import type { LookupFunction } from "node:net";
import { closeGracefully, listen, type Logger } from "@stickyring/runtime";
import { startHealthChecks } from "./health.js";
import type { AdminOptions, ControlPlaneSettings, MetricsText } from "./describe.js";
import { Membership } from "./membership.js";
import { maxconnOf } from "./servers.js";
import type { Metrics } from "./metrics.js";
import { buildPlacement, type MemberState, type Placement } from "../data-plane/placement.js";
import { TrafficHistory } from "./traffic.js";
import { createDiscovery } from "./discovery/discovery.js";
import { createGroupResolver } from "./discovery/resolve.js";
import { parseResolvConf, type SearchRules } from "./discovery/resolv-conf.js";

/** How long start waits for DNS groups' first answers before listening without them. */
const FIRST_LOOKUP_MS = 3000;

/** Admin API connections open at once; past it new ones are closed (config.ts keeps descriptors for them). */
export const ADMIN_MAXCONN = 64;
/** An admin request's head arrives within this, or its connection is closed (408). */
export const ADMIN_HEAD_MS = 5000;

export interface ControlPlane {
  readonly membership: Membership;
  readonly adminServer: Server;
  placement(): Placement;
  /** Listens for admin requests, starts checks and traffic sampling; resolves with the admin port. */
  start(): Promise<number>;
  close(): Promise<void>;
}

export function createControlPlane(options: {
  config: ControlPlaneSettings;
  logger: Logger;
  metrics: Metrics;
  metricsText: MetricsText;
  /** Resolves backend names for the health checks (lookup.ts). */
  lookup: LookupFunction;
  /** The search rules DNS names are looked up with; default: /etc/resolv.conf's. */
  searchRules?: SearchRules;
  /** Called with every new placement (the first included) and the members it was built from. */
  onPlacement?: (placement: Placement, members: readonly MemberState[]) => void;
  /** Requests waiting in a server's queue (MAXCONN), wherever the data plane runs. */
  queued?: (id: string) => number;
}): ControlPlane {
  const { config, logger, metrics } = options;
  let current: Placement;
  let version = 0;

  /** `step`: a slow start's routine step, logged at debug rather than info. */
  const rebuild = (reason: string, step = false) => {
    const members = membership.list();
    current = buildPlacement(members, config, ++version);
    metrics.rebuilds.inc();
    metrics.keepServers(members.map((m) => m.id));
    for (const m of members)
      metrics.serverUp.set({ server: m.id }, current.targets.has(m.id) ? 1 : 0);
    const fields = { reason, version, servers: [...current.targets.keys()] };
    if (step) logger.debug(fields, "placement rebuilt");
    else logger.info(fields, "placement rebuilt");
    options.onPlacement?.(current, members);
    armRamps();
  };
  // SLOWSTART: a timer for the next step of any ramp, re-armed after every
  // change (a ramp that starts or ends) and every step. Each ramp steps a
  // second after its own change, as HAProxy's do: a timer shared by all
  // ramps stepped each one up to a second late, depending on when it began.
  let live = false;
  let ramps: NodeJS.Timeout | undefined;
  function armRamps(): void {
    clearTimeout(ramps);
    const wait = live ? membership.nextStepIn() : undefined;
    if (wait === undefined) return;
    // +1 ms: node's timers count whole milliseconds and may fire a fraction
    // of one early; a step found not yet due is armed for again.
    ramps = setTimeout(() => {
      membership.stepRamps();
      armRamps();
    }, wait + 1).unref();
  }
  const membership: Membership = new Membership(config.backends, {
    rise: config.health.rise,
    fall: config.health.fall,
    onChange: (reason, step) => rebuild(reason, step),
    slowStartMs: config.slowStartMs,
    maxconnOf: (id, source) => maxconnOf(config.maxconn, id, source),
  });
  rebuild("start");

  const discovery = createDiscovery({
    groups: config.discovery,
    resolver: createGroupResolver({
      servers: config.dns.servers,
      // A lookup must end well inside a refresh (c-ares tries twice).
      timeoutMs: Math.min(2000, Math.max(100, config.dns.refreshMs / 2)),
      rules: options.searchRules ?? systemSearchRules(config.discovery.length > 0),
    }),
    membership,
    refreshMs: config.dns.refreshMs,
    holdMs: config.dns.holdMs,
    logger,
    metrics,
  });

  const traffic = new TrafficHistory();
  const closing = new AbortController();
  const adminOptions: AdminOptions = {
    config,
    membership,
    discovery: () => discovery.groups(),
    metricsText: options.metricsText,
    placement: () => current,
    traffic,
    closing: closing.signal,
    queued: options.queued ?? (() => 0),
  };
  // The admin app (Express, its routes, the dashboard) is loaded by the first
  // admin request: a proxy nobody administers or scrapes is ~8 MB smaller.
  let adminApp: Promise<RequestListener> | undefined;
  const loadAdminApp = async (): Promise<RequestListener> => {
    const { createAdminApp } = await import("./admin.js");
    return createAdminApp(adminOptions) as RequestListener;
  };
  // A connection must send its request's head within ADMIN_HEAD_MS (checked
  // every second): with node's defaults (60 s, checked every 30 s) 64 silent
  // connections held every place for a minute, metrics scrapes and the
  // container's health check included.
  const adminServer = createServer(
    {
      headersTimeout: ADMIN_HEAD_MS,
      requestTimeout: 2 * ADMIN_HEAD_MS,
      connectionsCheckingInterval: 1000,
    },
    (req, res) => {
      (adminApp ??= loadAdminApp()).then(
        (handle) => handle(req, res),
        (error: unknown) => {
          logger.error({ err: error }, "admin API failed to load");
          res.writeHead(500, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: "admin API failed to load" }));
        },
      );
    },
  );
  // Admin connections are few (scrapes, the dashboard's streams, operators):
  // bounded, they cannot take the descriptors client connections are sized by.
  adminServer.maxConnections = ADMIN_MAXCONN;
  let stopChecks: (() => void) | undefined;
  let sampler: NodeJS.Timeout | undefined;

  return {
    membership,
    adminServer,
    placement: () => current,
    async start() {
      if (config.discovery.length > 0) {
        let waited: NodeJS.Timeout | undefined;
        await Promise.race([
          discovery.start(),
          new Promise((r) => (waited = setTimeout(r, FIRST_LOOKUP_MS))),
        ]);
        clearTimeout(waited);
      }
      const adminPort = await listen(adminServer, config.admin.port, config.admin.host);
      // Servers known by now are the start's; later ones warm up (SLOWSTART).
      membership.goLive();
      live = true;
      stopChecks = startHealthChecks(membership, config.health, options.lookup);
      const sample = () =>
        traffic.sample(
          membership.list().map((m) => [m.id, m.requests] as const),
          Date.now(),
        );
      sample();
      sampler = setInterval(sample, 1000).unref();
      return adminPort;
    },
    async close() {
      discovery.stop();
      stopChecks?.();
      clearInterval(sampler);
      live = false;
      clearTimeout(ramps);
      closing.abort();
      await closeGracefully(adminServer, 1000);
    },
  };
}

/** The search domains and ndots of /etc/resolv.conf, read once; none without the file. */
function systemSearchRules(wanted: boolean): SearchRules {
  if (!wanted) return { search: [], ndots: 1 };
  try {
    return parseResolvConf(readFileSync("/etc/resolv.conf", "utf8"));
  } catch {
    return { search: [], ndots: 1 };
  }
}

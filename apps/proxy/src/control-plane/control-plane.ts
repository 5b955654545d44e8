// The control plane: membership, active health checks, the placement built
// from them, and the admin listener (API, dashboard, metrics). One per
// proxy, whether the data plane runs beside it or in worker processes.

import { createServer, type RequestListener, type Server } from "node:http";
import type { LookupFunction } from "node:net";
import { closeGracefully, listen, type Logger } from "@stickyring/runtime";
import { startHealthChecks } from "./health.js";
import type { AdminOptions, ControlPlaneSettings, MetricsText } from "./describe.js";
import { Membership } from "./membership.js";
import type { Metrics } from "./metrics.js";
import { buildPlacement, type MemberState, type Placement } from "../data-plane/placement.js";
import { TrafficHistory } from "./traffic.js";

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
  /** Called with every new placement (the first included) and the members it was built from. */
  onPlacement?: (placement: Placement, members: readonly MemberState[]) => void;
}): ControlPlane {
  const { config, logger, metrics } = options;
  let current: Placement;
  let version = 0;

  const rebuild = (reason: string) => {
    const members = membership.list();
    current = buildPlacement(members, config, ++version);
    metrics.rebuilds.inc();
    metrics.keepServers(members.map((m) => m.id));
    for (const m of members)
      metrics.serverUp.set({ server: m.id }, current.targets.has(m.id) ? 1 : 0);
    logger.info({ reason, version, servers: [...current.targets.keys()] }, "placement rebuilt");
    options.onPlacement?.(current, members);
  };
  const membership: Membership = new Membership(config.backends, {
    rise: config.health.rise,
    fall: config.health.fall,
    onChange: (reason) => rebuild(reason),
  });
  rebuild("start");

  const traffic = new TrafficHistory();
  const closing = new AbortController();
  const adminOptions: AdminOptions = {
    config,
    membership,
    metricsText: options.metricsText,
    placement: () => current,
    traffic,
    closing: closing.signal,
  };
  // The admin app (Express, its routes, the dashboard) is loaded by the first
  // admin request: a proxy nobody administers or scrapes is ~8 MB smaller.
  let adminApp: Promise<RequestListener> | undefined;
  const loadAdminApp = async (): Promise<RequestListener> => {
    const { createAdminApp } = await import("./admin.js");
    return createAdminApp(adminOptions) as RequestListener;
  };
  const adminServer = createServer((req, res) => {
    (adminApp ??= loadAdminApp()).then(
      (handle) => handle(req, res),
      (error: unknown) => {
        logger.error({ err: error }, "admin API failed to load");
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: "admin API failed to load" }));
      },
    );
  });
  let stopChecks: (() => void) | undefined;
  let sampler: NodeJS.Timeout | undefined;

  return {
    membership,
    adminServer,
    placement: () => current,
    async start() {
      const adminPort = await listen(adminServer, config.admin.port, config.admin.host);
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
      stopChecks?.();
      clearInterval(sampler);
      closing.abort();
      await closeGracefully(adminServer, 1000);
    },
  };
}

// Composition root of the single-process proxy: the control plane and the
// data plane side by side. Builds everything without listening, so tests
// drive it on ephemeral ports. (cluster.ts puts the data plane in workers.)

import type { Server as HttpServer } from "node:http";
import type { Server } from "node:net";
import { listen, type Logger } from "@stickyring/runtime";
import type { ProxyConfig } from "./config.js";
import { createControlPlane } from "./control-plane/control-plane.js";
import { createDataPlane } from "./data-plane/data-plane.js";
import type { ReloadOutcome } from "./data-plane/tls-port.js";
import { createBackendLookup } from "./data-plane/lookup.js";
import { watchCertificates } from "./certificate-reload.js";
import { rotateTicketKeys } from "./http/tls/ticket-keys.js";
import type { Membership } from "./control-plane/membership.js";
import { createMetrics } from "./control-plane/metrics.js";
import type { Placement } from "./data-plane/placement.js";

export interface StickyProxy {
  readonly server: Server;
  /** The TLS port's listener, with TLS_PORT. */
  readonly tlsServer: Server | undefined;
  readonly adminServer: HttpServer;
  readonly membership: Membership;
  placement(): Placement;
  /** Requests waiting in a server's queue (MAXCONN). */
  queued(id: string): number;
  /** Reads the certificates again (as SIGHUP and a change of their files do). */
  reloadCertificates(): ReloadOutcome;
  /** Listens on the configured ports (0: any); resolves with the bound ports (tlsPort: with TLS_PORT). */
  start(): Promise<{ port: number; adminPort: number; tlsPort: number | undefined }>;
  /** Stops accepting, drains in-flight requests, closes upstream pools. */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * `fastEngineProblem`: tests only, stands in for the check of what the fast
 * engine needs (data-plane/engine.ts), to see the proxy fall back.
 */
export function createStickyProxy(
  config: ProxyConfig,
  logger: Logger,
  fastEngineProblem?: () => string | undefined,
): StickyProxy {
  const metrics = createMetrics();
  // One resolver for the health checks and the connections alike.
  const lookup = createBackendLookup(config.timeouts.connectMs);
  // The data plane is built after the control plane, whose first placement comes at once.
  let placementChanged = () => {};
  const control = createControlPlane({
    onPlacement: () => placementChanged(),
    config,
    logger,
    metrics,
    lookup,
    queued: (id) => data.queued(id),
    metricsText: async () => ({
      contentType: metrics.registry.contentType,
      text: await metrics.registry.metrics(),
    }),
  });
  const { membership } = control;
  const data = createDataPlane({
    config,
    logger,
    metrics,
    lookup,
    placement: control.placement,
    loads: membership.inFlight,
    fastEngineProblem,
    hooks: {
      markDown: (id, detail) => membership.markDown(id, detail),
      served: (id) => membership.countServed(id),
    },
  });

  placementChanged = () => data.placementChanged();

  const stops: (() => void)[] = [];

  return {
    server: data.server,
    tlsServer: data.tlsServer,
    reloadCertificates: () => data.reloadCertificates("request"),
    adminServer: control.adminServer,
    membership,
    placement: control.placement,
    queued: (id) => data.queued(id),
    async start() {
      // The control plane first: DNS groups get their first answer before clients come.
      const adminPort = await control.start();
      const port = await data.listen(config.port, config.host);
      let tlsPort: number | undefined;
      if (config.tls !== undefined) {
        tlsPort = await listen(data.tlsServer!, config.tls.port, config.host);
        stops.push(
          watchCertificates(config.tls.sources, (cause) => data.reloadCertificates(cause), logger),
          rotateTicketKeys((keys) => data.setTicketKeys(keys)),
        );
      }
      logger.info({ port, tlsPort, adminPort, adminHost: config.admin.host }, "proxy listening");
      return { port, adminPort, tlsPort };
    },
    async stop(timeoutMs = 10_000) {
      for (const stop of stops.splice(0)) stop();
      await Promise.all([data.close(timeoutMs), control.close()]);
    },
  };
}

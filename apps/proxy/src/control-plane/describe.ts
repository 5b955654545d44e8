// What the admin API and the dashboard say about the servers: one snapshot
// of membership, health and placement.

import type { Balance } from "../data-plane/key-policy.js";
import {
  rampedLimit,
  shareOfLimit,
  type HashType,
  type Placement,
} from "../data-plane/placement.js";
import type { Membership } from "./membership.js";
import type { DnsGroupSpec, MaxconnSettings, ServerSpec } from "./servers.js";
import type { GroupView, ServersView } from "./views.js";
import type { TrafficHistory } from "./traffic.js";

export type MetricsText = () => Promise<{ contentType: string; text: string }>;

/** The settings the control plane reads (config.ts validates them). */
export interface ControlPlaneSettings {
  backends: ServerSpec[];
  discovery: DnsGroupSpec[];
  dns: { refreshMs: number; holdMs: number; servers: string[] | undefined };
  balance: Balance;
  hashType: HashType;
  balanceFactor: number | undefined;
  health: { path: string; interMs: number; timeoutMs: number; rise: number; fall: number };
  /** SLOWSTART: a server back up (or joining) reaches its full weight over this (0: at once). */
  slowStartMs: number;
  admin: { host: string; port: number; token: string | undefined };
  maxconn: MaxconnSettings;
  /** WORKERS: data-plane processes, each holding its share of every maxconn (1 when absent). */
  workers?: number;
}

export interface AdminOptions {
  config: ControlPlaneSettings;
  membership: Membership;
  /** The DNS groups and what they last said. */
  discovery: () => GroupView[];
  /** The Prometheus exposition: this process's registry, or every process's in the multi-core mode. */
  metricsText: MetricsText;
  placement: () => Placement;
  traffic: TrafficHistory;
  /** Aborted when the proxy stops: long-lived admin streams end then. */
  closing: AbortSignal;
  /** Requests waiting in a server's queue (MAXCONN). */
  queued: (id: string) => number;
}

export function describeServers({
  config,
  membership,
  placement,
  discovery,
  queued,
}: AdminOptions): ServersView {
  const current = placement();
  const shares = current.ring.shares();
  return {
    balance: config.balance,
    hashType: config.hashType,
    balanceFactor: config.balanceFactor ?? null,
    placementVersion: current.version,
    discovery: discovery(),
    servers: membership.list().map((m) => ({
      id: m.id,
      numericId: m.numericId,
      url: m.url.origin,
      source: m.source ?? "static",
      weight: m.weight,
      rampPercent: Math.round(m.ramp * 1000) / 10,
      state: m.admin,
      health: m.up ? "up" : "down",
      inPlacement: current.targets.has(m.id),
      share: shares.get(m.id) ?? 0,
      requests: m.requests,
      inFlight: membership.inFlight.get(m.id) ?? 0,
      queued: queued(m.id),
      maxconn: m.maxconn,
      maxconnNow: limitNow(m.maxconn, m.rampConns, config.workers ?? 1),
      checks: m.history,
    })),
  };
}

/**
 * A server's maxconn as it applies now, over all workers: each worker ramps
 * its own share in a slow start (at least 1), so the sum is what the
 * servers can see.
 */
function limitNow(maxconn: number, conns: number, workers: number): number {
  if (workers <= 1) return rampedLimit(maxconn, conns);
  let sum = 0;
  for (let i = 0; i < workers; i++) sum += rampedLimit(shareOfLimit(maxconn, i, workers), conns);
  return sum;
}

// The placement: an immutable hash table over the servers that can take
// traffic now, built from a membership snapshot and swapped in whole.
// Requests only ever read the current one; they never wait on a rebuild.

import {
  createHashRing,
  haproxyStringHash,
  type Algorithm,
  type HashRing,
} from "@stickyring/hashing";
import type { AdminState, Balance } from "./policy.js";

/** HAProxy's `hash-type` and the others: how keys map to servers. */
export const HASH_TYPES = ["consistent", "maglev", "map-based", "haproxy", "nginx"] as const;
export type HashType = (typeof HASH_TYPES)[number];

export type { AdminState };

const ALGORITHM: Record<HashType, Algorithm> = {
  consistent: "ring",
  maglev: "maglev",
  "map-based": "modulo",
  haproxy: "haproxy",
  nginx: "nginx",
};

export interface Placement {
  readonly ring: HashRing;
  /** Where to send a request for each server in the ring. */
  readonly targets: ReadonlyMap<string, URL>;
  /** Increases with every rebuild. */
  readonly version: number;
  /**
   * Why no server takes new clients (none up, or every one up drained or at
   * weight 0), as the 503 and the monitor URI say it; undefined while some
   * server does: up, not in maintenance, not drained, weight above 0.
   */
  readonly unavailable: string | undefined;
  /**
   * HAProxy's server `maxconn`: requests in flight to a server at most, the
   * rest wait in its queue (server-slots.ts). Servers without a limit are absent.
   */
  readonly maxconn: ReadonlyMap<string, number>;
  /** Servers out because their health says down (not maintenance, not removed). */
  readonly down: ReadonlySet<string>;
  /**
   * Every server of the membership, in the placement or not (down, in
   * maintenance), with its address (host:port) and maxconn (0: none): the
   * servers a scrape shows, so a server's series do not vanish while it is out.
   */
  readonly known: ReadonlyMap<string, { readonly host: string; readonly maxconn: number }>;
}

/** What a placement is built from: a server as the control plane sees it. */
export interface MemberState {
  readonly id: string;
  readonly url: URL;
  /** 1, 2, 3 ... in the order servers were declared or added; never reused (HAProxy's server id). */
  readonly numericId: number;
  weight: number;
  admin: AdminState;
  up: boolean;
  /** Requests in flight at most (0: no limit). */
  maxconn: number;
  /**
   * Slow start (SLOWSTART): the part of its weight a server takes while it
   * warms up after coming back, above 0 up to 1; 1 otherwise.
   */
  ramp: number;
  /** Slow start: the percent of its maxconn it takes meanwhile (at least 1 connection); 100 otherwise. */
  rampConns: number;
}

/**
 * Down and maintenance servers are left out; drained servers stay in with
 * weight 0 so they take no keys. The table depends only on the (id, weight)
 * set, so every replica given the same membership places clients alike.
 */
export function buildPlacement(
  members: readonly MemberState[],
  options: { hashType: HashType; balance: Balance; balanceFactor: number | undefined },
  version: number,
): Placement {
  const usable = members.filter((m) => m.up && m.admin !== "maint");
  const ring = createHashRing({
    algorithm: ALGORITHM[options.hashType],
    balanceFactor: options.balanceFactor,
    // The haproxy algorithm's default hash reads an address as `balance
    // source` does; `uri` and `hdr()` keys are text even when they look like one.
    hash:
      options.hashType === "haproxy" && options.balance.kind !== "source"
        ? haproxyStringHash
        : undefined,
    servers: usable.map((m) => ({
      id: m.id,
      weight: m.admin === "drain" ? 0 : m.weight * m.ramp,
      // Compatible placements identify servers as HAProxy (numeric id) and
      // nginx (host:port as written) do.
      numericId: m.numericId,
      address: m.url.host,
    })),
  });
  return Object.freeze({
    ring,
    targets: new Map(usable.map((m) => [m.id, m.url])),
    version,
    unavailable: whyNoneServes(members, usable),
    // HAProxy's slowstart grows a server's maxconn from 1 (rampConns, by the seconds turned).
    maxconn: new Map(
      usable.filter((m) => m.maxconn > 0).map((m) => [m.id, rampedLimit(m.maxconn, m.rampConns)]),
    ),
    down: new Set(members.filter((m) => !m.up && m.admin !== "maint").map((m) => m.id)),
    known: new Map(members.map((m) => [m.id, { host: m.url.host, maxconn: m.maxconn }])),
  });
}

/** A server's maxconn (0: none) as `conns` percent of it applies in a slow start: at least 1. */
export function rampedLimit(maxconn: number, conns: number): number {
  if (maxconn === 0 || conns >= 100) return maxconn;
  return Math.max(1, Math.floor((maxconn * conns) / 100));
}

/**
 * Worker `index`'s part of `limit` (0: no limit): the parts of all workers
 * add up to the limit, the first `limit % workers` workers holding one more.
 * A limit below the number of workers still gives each worker one slot, so
 * every worker can reach every server: the total is then `workers`.
 */
export function shareOfLimit(limit: number, index: number, workers: number): number {
  if (limit === 0) return 0;
  return Math.max(1, Math.floor(limit / workers) + (index < limit % workers ? 1 : 0));
}

/** Why none of `members` takes new clients, or undefined when one does. */
function whyNoneServes(
  members: readonly MemberState[],
  /** Those up and not in maintenance (buildPlacement's `usable`). */
  up: readonly MemberState[],
): string | undefined {
  const count = (test: (m: MemberState) => boolean, what: string) => {
    const n = members.filter(test).length;
    return n === 0 ? [] : [`${n} ${what}`];
  };
  if (up.some((m) => m.admin !== "drain" && m.weight > 0)) return undefined;
  if (members.length === 0) return "no server is up (none configured)";
  const out = [
    ...count((m) => !m.up && m.admin !== "maint", "down"),
    ...count((m) => m.admin === "maint", "in maintenance"),
  ];
  if (up.length === 0) return `no server is up (${out.join(", ")})`;
  const idle = [
    ...count((m) => m.up && m.admin === "drain", "draining"),
    ...count((m) => m.up && m.admin === "ready" && m.weight === 0, "at weight 0"),
  ];
  return `no server takes new clients (${[...idle, ...out].join(", ")})`;
}

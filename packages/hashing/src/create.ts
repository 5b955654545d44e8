// createHashRing: a key hash composed with a placement table, plus the two
// things every table shares: fallback order and bounded loads.

import { crc32, haproxyKeyHash } from "./compat-hashes.js";
import { hashString } from "./hash.js";
import { buildHaproxy } from "./haproxy.js";
import { buildNginx } from "./nginx.js";
import { buildMaglev, DEFAULT_MAGLEV_SIZE } from "./maglev.js";
import { buildModulo } from "./modulo.js";
import { buildRing, DEFAULT_POINTS_PER_WEIGHT } from "./ring.js";
import { normalizeServers, type Server, type ServerSpec } from "./servers.js";
import type { Table } from "./table.js";

export const ALGORITHMS = ["ring", "maglev", "modulo", "haproxy", "nginx"] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

export interface HashRingOptions {
  servers: readonly ServerSpec[];
  /**
   * `ring` (default), `maglev`, `modulo` (map-based), or the placements of
   * HAProxy 2.6 (`haproxy`) and nginx 1.22 (`nginx`): see the README.
   */
  algorithm?: Algorithm;
  /** ring: virtual nodes per unit of weight (default 1000). */
  pointsPerWeight?: number;
  /** maglev: prime table size (default 65537; grown to >= 100 x servers). */
  tableSize?: number;
  /**
   * Bounded loads: when `pick` is given the current loads, it never returns a
   * server whose load would then exceed ceil(balanceFactor x mean load),
   * weighted. 1.25 is HAProxy's `hash-balance-factor 125`. Must be >= 1.
   */
  balanceFactor?: number;
  /**
   * The key hash, a 32-bit unsigned integer. Default: MurmurHash3 of the
   * UTF-8 key; for `haproxy`, HAProxy's (an address as `balance source`,
   * other text as `balance uri`); for `nginx`, CRC-32.
   */
  hash?: (key: string) => number;
}

/** Current load (e.g. requests in flight) per server id; absent means 0. */
export type Loads = ReadonlyMap<string, number>;

export interface HashRing {
  readonly algorithm: Algorithm;
  /** The servers, sorted by id, with their weights (0 = drained). */
  readonly servers: readonly Server[];
  readonly balanceFactor: number | undefined;
  /** The key's position: an unsigned 32-bit hash. */
  hashKey(key: string): number;
  /** The server for `key`, or undefined when no server takes keys. Never throws. */
  pick(key: string, loads?: Loads): string | undefined;
  /** The owner of a position on the ring (what `hashKey` returns), ignoring loads. */
  pickHash(hash: number): string | undefined;
  /** Up to `count` distinct servers in order of preference: the owner, then where a retry goes. */
  pickN(key: string, count: number): string[];
  /** Fraction of the keyspace each server owns (sums to 1 when any server takes keys). */
  shares(): Map<string, number>;
}

const DEFAULT_HASH: Record<Algorithm, (key: string) => number> = {
  ring: hashString,
  maglev: hashString,
  modulo: hashString,
  haproxy: haproxyKeyHash,
  nginx: crc32,
};

function checkOptions(options: HashRingOptions): void {
  if (options === null || typeof options !== "object") {
    throw new TypeError("createHashRing: expected an options object { servers, algorithm? }");
  }
  const { algorithm, pointsPerWeight, balanceFactor, hash } = options;
  if (algorithm !== undefined && !ALGORITHMS.includes(algorithm)) {
    throw new TypeError(
      `algorithm must be one of ${ALGORITHMS.join(", ")}, got ${JSON.stringify(algorithm)}`,
    );
  }
  if (
    pointsPerWeight !== undefined &&
    (!Number.isInteger(pointsPerWeight) || pointsPerWeight < 1 || pointsPerWeight > 65536)
  ) {
    throw new TypeError(
      `pointsPerWeight must be an integer from 1 to 65536, got ${pointsPerWeight}`,
    );
  }
  if (balanceFactor !== undefined && !(Number.isFinite(balanceFactor) && balanceFactor >= 1)) {
    throw new TypeError(`balanceFactor must be a number >= 1, got ${balanceFactor}`);
  }
  if (hash !== undefined && typeof hash !== "function") {
    throw new TypeError("hash must be a function (key: string) => number");
  }
}

function buildTable(servers: readonly Server[], options: HashRingOptions): Table {
  switch (options.algorithm ?? "ring") {
    case "haproxy":
      return buildHaproxy(servers);
    case "nginx":
      return buildNginx(servers);
    case "ring":
      return buildRing(servers, options.pointsPerWeight ?? DEFAULT_POINTS_PER_WEIGHT);
    case "maglev":
      return buildMaglev(servers, options.tableSize ?? DEFAULT_MAGLEV_SIZE);
    case "modulo":
      return buildModulo(servers);
  }
}

export function createHashRing(options: HashRingOptions): HashRing {
  checkOptions(options);
  const servers = normalizeServers(options.servers);
  const table = buildTable(servers, options);
  const hash = options.hash ?? DEFAULT_HASH[options.algorithm ?? "ring"];
  const factor = options.balanceFactor;
  const ids = servers.map((s) => s.id);
  const hashKey = (key: string): number => (typeof key === "string" ? hash(key) >>> 0 : 0);

  const pickBounded = (h: number, loads: Loads): string | undefined => {
    let total = 0;
    let weights = 0;
    for (const s of servers) {
      if (s.weight === 0) continue;
      total += loads.get(s.id) ?? 0;
      weights += s.weight;
    }
    let chosen: string | undefined;
    table.walk(h, (index) => {
      const server = servers[index]!;
      const cap = Math.ceil((factor! * (total + 1) * server.weight) / weights);
      if ((loads.get(server.id) ?? 0) + 1 > cap) return false;
      chosen = server.id;
      return true;
    });
    return chosen;
  };

  return Object.freeze({
    algorithm: options.algorithm ?? "ring",
    servers,
    balanceFactor: factor,
    hashKey,
    pick(key: string, loads?: Loads) {
      const h = hashKey(key);
      if (factor !== undefined && loads !== undefined) {
        const bounded = pickBounded(h, loads);
        if (bounded !== undefined) return bounded;
      }
      const index = table.first(h);
      return index < 0 ? undefined : ids[index];
    },
    pickHash(hash: number) {
      const index = table.first(hash >>> 0);
      return index < 0 ? undefined : ids[index];
    },
    pickN(key: string, count: number) {
      const ids: string[] = [];
      if (!(count > 0)) return ids;
      table.walk(hashKey(key), (index) => {
        ids.push(servers[index]!.id);
        return ids.length >= count;
      });
      return ids;
    },
    shares() {
      const share = table.shares();
      return new Map(servers.map((s, i) => [s.id, share[i]!]));
    },
  });
}

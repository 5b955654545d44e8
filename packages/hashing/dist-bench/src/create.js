// createHashRing: a key hash composed with a placement table, plus the two
// things every table shares: fallback order and bounded loads.
import { crc32, haproxyKeyHash } from "./compat-hashes.js";
import { hashString } from "./hash.js";
import { buildHaproxy } from "./haproxy.js";
import { buildNginx } from "./nginx.js";
import { buildMaglev, DEFAULT_MAGLEV_SIZE } from "./maglev.js";
import { buildModulo } from "./modulo.js";
import { buildRing, DEFAULT_POINTS_PER_WEIGHT } from "./ring.js";
import { normalizeServers } from "./servers.js";
export const ALGORITHMS = ["ring", "maglev", "modulo", "haproxy", "nginx"];
const DEFAULT_HASH = {
  ring: hashString,
  maglev: hashString,
  modulo: hashString,
  haproxy: haproxyKeyHash,
  nginx: crc32,
};
function checkOptions(options) {
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
function buildTable(servers, options) {
  switch (options.algorithm ?? "ring") {
    case "haproxy": {
      // HAProxy numbers servers 1, 2, 3 ... in declaration order.
      const ids = new Map(options.servers.map((s, i) => [s.id, s.numericId ?? i + 1]));
      return buildHaproxy(servers, ids);
    }
    case "nginx":
      return buildNginx(servers, new Map(options.servers.map((s) => [s.id, s.address ?? s.id])));
    case "ring":
      return buildRing(servers, options.pointsPerWeight ?? DEFAULT_POINTS_PER_WEIGHT);
    case "maglev":
      return buildMaglev(servers, options.tableSize ?? DEFAULT_MAGLEV_SIZE);
    case "modulo":
      return buildModulo(servers);
  }
}
export function createHashRing(options) {
  checkOptions(options);
  const servers = normalizeServers(options.servers);
  const table = buildTable(servers, options);
  const hash = options.hash ?? DEFAULT_HASH[options.algorithm ?? "ring"];
  const factor = options.balanceFactor;
  const ids = servers.map((s) => s.id);
  const hashKey = (key) => (typeof key === "string" ? hash(key) >>> 0 : 0);
  const pickBounded = (h, loads) => {
    let total = 0;
    let weights = 0;
    for (const s of servers) {
      if (s.weight === 0) continue;
      total += loads.get(s.id) ?? 0;
      weights += s.weight;
    }
    let chosen;
    table.walk(h, (index) => {
      const server = servers[index];
      const cap = Math.ceil((factor * (total + 1) * server.weight) / weights);
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
    pick(key, loads) {
      const h = hashKey(key);
      if (factor !== undefined && loads !== undefined) {
        const bounded = pickBounded(h, loads);
        if (bounded !== undefined) return bounded;
      }
      const index = table.first(h);
      return index < 0 ? undefined : ids[index];
    },
    pickN(key, count) {
      const ids = [];
      if (!(count > 0)) return ids;
      table.walk(hashKey(key), (index) => {
        ids.push(servers[index].id);
        return ids.length >= count;
      });
      return ids;
    },
    shares() {
      const share = table.shares();
      return new Map(servers.map((s, i) => [s.id, share[i]]));
    },
  });
}

// The classic consistent-hash ring (Karger et al.), with virtual nodes.
//
// Each server owns `weight x pointsPerWeight` points; point n of a server is
// hashWords(hash(id), n), so a server's points depend on nothing but its own
// id. A key belongs to the first point at or after its hash, wrapping. Hence:
// removing a server removes only its points (only its keys move), and adding
// one only inserts points (keys move only onto it).

import { hashString, hashWords } from "./hash.js";
import { packPoint, pointTable, SortedPoints } from "./points.js";
import { pointCount, type Server } from "./servers.js";
import type { Table } from "./table.js";

/**
 * Virtual nodes per unit of weight. With 3 equal servers, 1,000 points each
 * keeps the largest share within about 5% of the mean (the spread of a share
 * falls as 1/sqrt(points)); HAProxy uses 16 and nginx 160.
 */
export const DEFAULT_POINTS_PER_WEIGHT = 1000;
/** Upper bound on the whole ring, so a mistaken weight cannot exhaust memory. */
export const MAX_RING_POINTS = 1 << 23;

export function buildRing(servers: readonly Server[], pointsPerWeight: number): Table {
  let total = 0;
  for (const s of servers) total += pointCount(s.weight, pointsPerWeight);
  if (total > MAX_RING_POINTS) {
    throw new TypeError(
      `pointsPerWeight: ${pointsPerWeight} points per weight unit gives ${total} ring points ` +
        `(limit ${MAX_RING_POINTS}); lower pointsPerWeight or the weights`,
    );
  }
  // Equal hashes order by server index, which is id order: every process
  // resolves a collision the same way.
  const packed = new Float64Array(total);
  let p = 0;
  servers.forEach((server, index) => {
    const base = hashString(server.id);
    const count = pointCount(server.weight, pointsPerWeight);
    for (let n = 0; n < count; n++) packed[p++] = packPoint(hashWords(base, n), index);
  });
  return pointTable(servers, new SortedPoints(packed, false));
}

// HAProxy 2.6 `hash-type consistent` placement (the default `hash-key id`).
//
// Server n (its numeric id: 1, 2, 3 ... in declaration order unless set)
// owns weight x 16 points; point k is avalanche(n x 4096 + k). A key hash
// goes to the nearer of the first point at or after it and the point before
// it (unsigned distance; the previous one on a tie). With one usable server,
// no hashing happens at all.

import { haproxyAvalanche } from "./compat-hashes.js";
import { packPoint, SortedPoints } from "./points.js";
import { pointCount, type Server } from "./servers.js";
import { NO_SERVER, VisitStamps, walkDistinct, type Table } from "./table.js";

/** HAProxy scales user weights by 16 (BE_WEIGHT_SCALE) and spaces server ids 4096 apart. */
const POINTS_PER_WEIGHT = 16;
const ID_SPACING = 4096;

export function buildHaproxy(servers: readonly Server[]): Table {
  const packed: number[] = [];
  const active: number[] = [];
  servers.forEach((server, index) => {
    if (server.weight === 0) return;
    active.push(index);
    const count = pointCount(server.weight, POINTS_PER_WEIGHT);
    for (let k = 0; k < count; k++) {
      packed.push(packPoint(haproxyAvalanche(server.numericId * ID_SPACING + k), index));
    }
  });
  const points = new SortedPoints(Float64Array.from(packed), false);
  const { hashes, owners, total } = points;

  /** The point HAProxy picks: the nearer of the next point and the one before it. */
  const chosenPoint = (hash: number): number => {
    const next = points.next(hash);
    const prev = next === 0 ? total - 1 : next - 1;
    if (owners[next] === owners[prev]) return next;
    const toPrev = (hash - hashes[prev]!) >>> 0;
    const toNext = (hashes[next]! - hash) >>> 0;
    return toPrev <= toNext ? prev : next;
  };
  const stamps = new VisitStamps(servers.length);

  return {
    servers,
    first(hash) {
      if (active.length === 0) return NO_SERVER;
      return active.length === 1 ? active[0]! : owners[chosenPoint(hash)]!;
    },
    walk(hash, visit) {
      if (active.length > 0) walkDistinct(owners, chosenPoint(hash), active.length, stamps, visit);
    },
    shares() {
      // Each point owns the hashes nearer to it than to its neighbours: half
      // of the gap on either side.
      const share = new Float64Array(servers.length);
      if (active.length === 1) share[active[0]!] = 1;
      else {
        for (let i = 0; i < total; i++) {
          const before = (hashes[i]! - hashes[(i + total - 1) % total]!) >>> 0;
          const after = (hashes[(i + 1) % total]! - hashes[i]!) >>> 0;
          share[owners[i]!]! += (before + after) / 2 / 2 ** 32;
        }
      }
      return share;
    },
  };
}

// The classic consistent-hash ring (Karger et al.), with virtual nodes.
//
// Each server owns `weight x pointsPerWeight` points; point n of a server is
// hashWords(hash(id), n), so a server's points depend on nothing but its own
// id. A key belongs to the first point at or after its hash, wrapping. Hence:
// removing a server removes only its points (only its keys move), and adding
// one only inserts points (keys move only onto it).

import { hashString, hashWords } from "./hash.js";
import type { Server } from "./servers.js";
import { NO_SERVER, VisitStamps, type Table } from "./table.js";

/**
 * Virtual nodes per unit of weight. With 3 equal servers, 1,000 points each
 * keeps the largest share within about 5% of the mean (the spread of a share
 * falls as 1/sqrt(points)); HAProxy uses 16 and nginx 160.
 */
export const DEFAULT_POINTS_PER_WEIGHT = 1000;
/** Upper bound on the whole ring, so a mistaken weight cannot exhaust memory. */
export const MAX_RING_POINTS = 1 << 23;

/** Bits of the hash that index the prefix table: about 4 buckets per point. */
function prefixBitsFor(points: number): number {
  let bits = 8;
  while (bits < 20 && 1 << bits < points * 4) bits++;
  return bits;
}

/** In `direct`: the bucket holds points of several servers; search it. */
const SEARCH = 0xffff;

export function buildRing(servers: readonly Server[], pointsPerWeight: number): Table {
  let total = 0;
  for (const s of servers) total += s.weight * pointsPerWeight;
  if (total > MAX_RING_POINTS) {
    throw new TypeError(
      `pointsPerWeight: ${pointsPerWeight} points per weight unit gives ${total} ring points ` +
        `(limit ${MAX_RING_POINTS}); lower pointsPerWeight or the weights`,
    );
  }

  // Sort (hash, server index) pairs in one native Float64Array sort: the
  // index lives below the hash, so equal hashes order by server id and every
  // process resolves a collision the same way.
  const packed = new Float64Array(total);
  let p = 0;
  servers.forEach((server, index) => {
    const base = hashString(server.id);
    const count = server.weight * pointsPerWeight;
    for (let n = 0; n < count; n++) packed[p++] = hashWords(base, n) * 65536 + index;
  });
  packed.sort();

  /** Point hashes in ascending order. */
  const hashes = new Uint32Array(total);
  /** owners[i]: index into `servers` of the server that owns hashes[i]. */
  const owners = new Uint16Array(total);
  for (let i = 0; i < total; i++) {
    const v = packed[i]!;
    const owner = v % 65536;
    owners[i] = owner;
    hashes[i] = (v - owner) / 65536;
  }

  // prefix[b] is the first point whose top bits are >= b, so a lookup only
  // searches the few points that share the key's top bits.
  const bits = prefixBitsFor(total);
  const shift = 32 - bits;
  const buckets = 1 << bits;
  const prefix = new Uint32Array(buckets + 1);
  let cursor = 0;
  for (let b = 0; b <= buckets; b++) {
    while (cursor < total && hashes[cursor]! >>> shift < b) cursor++;
    prefix[b] = cursor;
  }

  // direct[b] is the owner of every hash in bucket b when that is one server
  // (the bucket's points and the first point after it agree): most lookups
  // end with this one read.
  const direct = new Uint16Array(buckets).fill(SEARCH);
  for (let b = 0; b < buckets && total > 0; b++) {
    const end = prefix[b + 1]!;
    const owner = owners[end === total ? 0 : end]!;
    let same = true;
    for (let i = prefix[b]!; i < end && same; i++) same = owners[i] === owner;
    if (same) direct[b] = owner;
  }

  /** Index of the first point at or after `hash`, wrapping to 0. */
  const pointFor = (hash: number): number => {
    const bucket = hash >>> shift;
    let lo = prefix[bucket]!;
    let hi = prefix[bucket + 1]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hashes[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === total ? 0 : lo;
  };

  const stamps = new VisitStamps(servers.length);
  const active = servers.filter((s) => s.weight > 0).length;

  return {
    servers,
    first(hash) {
      if (total === 0) return NO_SERVER;
      const owner = direct[hash >>> shift]!;
      return owner !== SEARCH ? owner : owners[pointFor(hash)]!;
    },
    walk(hash, visit) {
      if (total === 0) return;
      stamps.reset();
      const start = pointFor(hash);
      let seen = 0;
      for (let step = 0; step < total && seen < active; step++) {
        const owner = owners[(start + step) % total]!;
        if (!stamps.mark(owner)) continue;
        seen++;
        if (visit(owner)) return;
      }
    },
    shares() {
      const share = new Float64Array(servers.length);
      for (let i = 0; i < total; i++) {
        // Point i owns the arc from the previous point (exclusive) to itself.
        const previous = i === 0 ? hashes[total - 1]! - 2 ** 32 : hashes[i - 1]!;
        share[owners[i]!]! += (hashes[i]! - previous) / 2 ** 32;
      }
      return share;
    },
  };
}

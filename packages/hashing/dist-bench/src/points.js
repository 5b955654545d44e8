// Sorted ring points and the lookup "first point at or after a hash,
// wrapping", shared by the ring and the nginx-compatible placement.
import { NO_SERVER, VisitStamps, walkDistinct } from "./table.js";
/** In `direct`: the bucket holds points of several servers; search it. */
const SEARCH = 0xffff;
/** Bits of the hash that index the prefix table: about 4 buckets per point. */
function prefixBitsFor(points) {
  let bits = 8;
  while (bits < 20 && 1 << bits < points * 4) bits++;
  return bits;
}
/** Packs a point so that one native sort orders by hash, then by server index. */
export function packPoint(hash, serverIndex) {
  return hash * 65536 + serverIndex;
}
export class SortedPoints {
  /** Point hashes in ascending order. */
  hashes;
  /** owners[i]: index into the server list of the server that owns hashes[i]. */
  owners;
  total;
  shift;
  /** prefix[b]: the first point whose top bits are >= b. */
  prefix;
  /** direct[b]: the owner of every hash in bucket b when that is one server, else SEARCH. */
  direct;
  /** `packed` holds packPoint() values; with `dedupe`, only the first of equal hashes is kept. */
  constructor(packed, dedupe) {
    packed.sort();
    const hashes = [];
    const owners = [];
    for (const value of packed) {
      const owner = value % 65536;
      const hash = (value - owner) / 65536;
      if (dedupe && hashes.length > 0 && hashes[hashes.length - 1] === hash) continue;
      hashes.push(hash);
      owners.push(owner);
    }
    this.hashes = Uint32Array.from(hashes);
    this.owners = Uint16Array.from(owners);
    const total = (this.total = hashes.length);
    const bits = prefixBitsFor(total);
    this.shift = 32 - bits;
    const buckets = 1 << bits;
    this.prefix = new Uint32Array(buckets + 1);
    let cursor = 0;
    for (let b = 0; b <= buckets; b++) {
      while (cursor < total && this.hashes[cursor] >>> this.shift < b) cursor++;
      this.prefix[b] = cursor;
    }
    // A bucket whose points, and the first point after it, share an owner
    // answers every lookup with one read: most buckets, with 4 per point.
    this.direct = new Uint16Array(buckets).fill(SEARCH);
    for (let b = 0; b < buckets && total > 0; b++) {
      const end = this.prefix[b + 1];
      const owner = this.owners[end === total ? 0 : end];
      let same = true;
      for (let i = this.prefix[b]; i < end && same; i++) same = this.owners[i] === owner;
      if (same) this.direct[b] = owner;
    }
  }
  /** Index of the first point at or after `hash`, wrapping to 0. */
  next(hash) {
    let lo = this.prefix[hash >>> this.shift];
    let hi = this.prefix[(hash >>> this.shift) + 1];
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.hashes[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.total ? 0 : lo;
  }
  /** Owner of the first point at or after `hash`. */
  ownerOf(hash) {
    const owner = this.direct[hash >>> this.shift];
    return owner !== SEARCH ? owner : this.owners[this.next(hash)];
  }
}
/** A Table whose key belongs to the first point at or after its hash. */
export function pointTable(servers, points) {
  const active = servers.filter((s) => s.weight > 0).length;
  const stamps = new VisitStamps(servers.length);
  return {
    servers,
    first(hash) {
      return points.total === 0 ? NO_SERVER : points.ownerOf(hash);
    },
    walk(hash, visit) {
      if (points.total > 0) walkDistinct(points.owners, points.next(hash), active, stamps, visit);
    },
    shares() {
      const { hashes, owners, total } = points;
      const share = new Float64Array(servers.length);
      for (let i = 0; i < total; i++) {
        // Point i owns the arc from the previous point (exclusive) to itself.
        const previous = i === 0 ? hashes[total - 1] - 2 ** 32 : hashes[i - 1];
        share[owners[i]] += (hashes[i] - previous) / 2 ** 32;
      }
      return share;
    },
  };
}

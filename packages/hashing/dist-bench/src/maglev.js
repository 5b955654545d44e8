// Maglev hashing (Eisenbud et al., NSDI 2016): a lookup table of prime size M
// filled by letting each server claim slots along its own permutation of the
// table in turn. Near-perfect balance and an O(1) lookup, at the price of a
// little extra movement on membership changes (a removed server's slots are
// refilled, and a few other slots shift).
import { hashString } from "./hash.js";
import { NO_SERVER, VisitStamps, walkDistinct } from "./table.js";
export const DEFAULT_MAGLEV_SIZE = 65537;
const EMPTY = 0xffff;
const OFFSET_SEED = 0x2545f491;
const SKIP_SEED = 0x9e3779b9;
export function isPrime(n) {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}
function nextPrime(n) {
  let candidate = Math.max(2, Math.ceil(n));
  while (!isPrime(candidate)) candidate++;
  return candidate;
}
/** The table size used for `serverCount` servers: the requested prime, grown to >= 100 per server. */
export function maglevSize(serverCount, requested = DEFAULT_MAGLEV_SIZE) {
  return requested >= 100 * serverCount ? requested : nextPrime(100 * serverCount);
}
export function buildMaglev(servers, requestedSize) {
  if (!isPrime(requestedSize)) {
    throw new TypeError(`tableSize must be a prime number, got ${String(requestedSize)}`);
  }
  const active = [];
  servers.forEach((s, index) => {
    if (s.weight > 0) active.push(index);
  });
  const size = maglevSize(active.length, requestedSize);
  /** slots[h % size]: index into `servers` of the owner of that slot. */
  const slots = new Uint16Array(size).fill(EMPTY);
  if (active.length > 0) {
    const offset = active.map((i) => hashString(servers[i].id, OFFSET_SEED) % size);
    const skip = active.map((i) => (hashString(servers[i].id, SKIP_SEED) % (size - 1)) + 1);
    const next = new Array(active.length).fill(0); // position along each permutation
    const maxWeight = Math.max(...active.map((i) => servers[i].weight));
    let filled = 0;
    // In round r a server of weight w claims a slot when floor(r*w/max)
    // grows, so claims are proportional to weight and interleaved.
    for (let round = 0; filled < size; round++) {
      for (let a = 0; a < active.length && filled < size; a++) {
        const weight = servers[active[a]].weight;
        if (
          Math.floor(((round + 1) * weight) / maxWeight) ===
          Math.floor((round * weight) / maxWeight)
        ) {
          continue;
        }
        let slot;
        do {
          slot = (offset[a] + next[a] * skip[a]) % size;
          next[a]++;
        } while (slots[slot] !== EMPTY);
        slots[slot] = active[a];
        filled++;
      }
    }
  }
  const stamps = new VisitStamps(servers.length);
  // Slot of a hash: floor(hash x size / 2^32), exact in a double, which V8
  // computes far faster than `hash % size` on an unsigned 32-bit value.
  const slotOf = (hash) => ((hash * size) / 4294967296) | 0;
  return {
    servers,
    first(hash) {
      return active.length === 0 ? NO_SERVER : slots[slotOf(hash)];
    },
    walk(hash, visit) {
      // Fallbacks are the next distinct owners along the table: as spread as
      // the table itself, so a dead server's keys scatter over the others.
      if (active.length > 0) walkDistinct(slots, slotOf(hash), active.length, stamps, visit);
    },
    shares() {
      const share = new Float64Array(servers.length);
      for (let i = 0; i < size; i++) share[slots[i]] += 1 / size;
      return share;
    },
  };
}

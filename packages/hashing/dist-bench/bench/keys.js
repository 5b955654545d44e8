// Benchmark and simulator fixtures.
/**
 * `count` distinct IPv4 addresses from a fixed seed. Built with `join`, which
 * yields flat strings like the ones a socket reports; template literals would
 * give V8 rope strings that are slower to read for every library alike.
 */
export function distinctIPv4(count, seed = 0x5eed) {
  const seen = new Set();
  const keys = [];
  let state = seed >>> 0 || 1;
  while (keys.length < count) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const x = state >>> 0;
    if (seen.has(x)) continue;
    seen.add(x);
    keys.push([x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join("."));
  }
  return keys;
}
/** Keys per owner. */
export function countOwners(owners) {
  const counts = new Map();
  for (const o of owners) counts.set(String(o), (counts.get(String(o)) ?? 0) + 1);
  return counts;
}
/** Fraction of keys whose owner differs. */
export function movedFraction(before, after) {
  let moved = 0;
  for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) moved++;
  return moved / before.length;
}
/** Number of keys that moved between two servers that both exist before and after. */
export function movedBetweenSurvivors(before, after, survivors) {
  let moved = 0;
  for (let i = 0; i < before.length; i++) {
    if (before[i] !== after[i] && survivors.has(before[i]) && survivors.has(after[i])) moved++;
  }
  return moved;
}

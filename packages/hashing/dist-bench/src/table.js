// The narrow interface every placement algorithm implements, and what they
// share. Keys arrive already hashed to 32 bits; a table only answers "which
// server".
export const NO_SERVER = -1;
/**
 * Remembers which servers a walk has already visited without allocating a
 * set per call: a slot counts as visited when it holds the current stamp.
 */
export class VisitStamps {
  stamps;
  stamp = 0;
  constructor(size) {
    this.stamps = new Uint32Array(size);
  }
  /** Starts a new walk. */
  reset() {
    this.stamp++;
    if (this.stamp === 0xffffffff) {
      this.stamps.fill(0);
      this.stamp = 1;
    }
  }
  /** Marks `index` visited; returns false when it already was in this walk. */
  mark(index) {
    if (this.stamps[index] === this.stamp) return false;
    this.stamps[index] = this.stamp;
    return true;
  }
}
/**
 * Visits the distinct owners of a circular sequence (ring points, Maglev or
 * map slots) from `start`, until `visit` returns true or all `active`
 * servers were seen.
 */
export function walkDistinct(owners, start, active, stamps, visit) {
  const length = owners.length;
  stamps.reset();
  let seen = 0;
  for (let step = 0; step < length && seen < active; step++) {
    const owner = owners[(start + step) % length];
    if (!stamps.mark(owner)) continue;
    seen++;
    if (visit(owner)) return;
  }
}

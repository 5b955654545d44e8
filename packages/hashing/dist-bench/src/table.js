// The narrow interface every placement algorithm implements. Keys arrive
// already hashed to 32 bits; the table only answers "which server".
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

// The narrow interface every placement algorithm implements, and what they
// share. Keys arrive already hashed to 32 bits; a table only answers "which
// server".

import type { Server } from "./servers.js";

export const NO_SERVER = -1;

export interface Table {
  /** All servers sorted by id, drained ones (weight 0) included. */
  readonly servers: readonly Server[];
  /** Index into `servers` of the owner of `hash`, or NO_SERVER when none takes keys. */
  first(hash: number): number;
  /**
   * Calls `visit` with each distinct server that takes keys, in this hash's
   * order of preference (owner first, then the fallbacks a retry should use),
   * until `visit` returns true or the servers run out.
   */
  walk(hash: number, visit: (index: number) => boolean): void;
  /** Fraction of the 32-bit keyspace owned by each server, indexed like `servers`. */
  shares(): Float64Array;
}

/**
 * Remembers which servers a walk has already visited without allocating a
 * set per call: a slot counts as visited when it holds the current stamp.
 */
export class VisitStamps {
  private readonly stamps: Uint32Array;
  private stamp = 0;

  constructor(size: number) {
    this.stamps = new Uint32Array(size);
  }

  /** Starts a new walk. */
  reset(): void {
    this.stamp++;
    if (this.stamp === 0xffffffff) {
      this.stamps.fill(0);
      this.stamp = 1;
    }
  }

  /** Marks `index` visited; returns false when it already was in this walk. */
  mark(index: number): boolean {
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
export function walkDistinct(
  owners: Uint16Array,
  start: number,
  active: number,
  stamps: VisitStamps,
  visit: (index: number) => boolean,
): void {
  const length = owners.length;
  stamps.reset();
  let seen = 0;
  for (let step = 0; step < length && seen < active; step++) {
    const owner = owners[(start + step) % length]!;
    if (!stamps.mark(owner)) continue;
    seen++;
    if (visit(owner)) return;
  }
}

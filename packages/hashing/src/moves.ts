// What a change of servers does to the keyspace: which fraction of keys
// changes owner, from which server to which. Both tables are sampled at the
// same evenly spaced positions, so the answer is exact to 1/samples and
// costs two table lookups per sample, whatever the algorithm.

import type { HashRing } from "./create.js";

export interface KeyspaceFlow {
  /** Owner before the change; undefined when no server took keys. */
  readonly from: string | undefined;
  /** Owner after the change; undefined when no server takes keys. */
  readonly to: string | undefined;
  /** Fraction of the whole keyspace that moves this way. */
  readonly share: number;
}

export interface KeyspaceMoves {
  /** Fraction of the keyspace whose owner changes (0..1). */
  readonly moved: number;
  /** The moves, largest first; keys that stay put are not listed. */
  readonly flows: readonly KeyspaceFlow[];
}

/** 65,536 samples: 1.5e-5 resolution, a few milliseconds for any table. */
export const DEFAULT_MOVE_SAMPLES = 1 << 16;

export function keyspaceMoves(
  before: HashRing,
  after: HashRing,
  samples: number = DEFAULT_MOVE_SAMPLES,
): KeyspaceMoves {
  if (!Number.isInteger(samples) || samples < 1 || samples > 1 << 24) {
    throw new TypeError(`samples must be an integer from 1 to ${1 << 24}, got ${samples}`);
  }
  const step = 2 ** 32 / samples;
  // Pairs are few (servers before x servers after), keyed by the two ids.
  const counts = new Map<string, { from: string | undefined; to: string | undefined; n: number }>();
  let moved = 0;
  for (let i = 0; i < samples; i++) {
    // The middle of each slice, so no sample sits on a table boundary by construction.
    const hash = Math.floor((i + 0.5) * step);
    const from = before.pickHash(hash);
    const to = after.pickHash(hash);
    if (from === to) continue;
    moved++;
    const pair = JSON.stringify([from ?? null, to ?? null]);
    const entry = counts.get(pair);
    if (entry) entry.n++;
    else counts.set(pair, { from, to, n: 1 });
  }
  const flows = [...counts.values()]
    .map(({ from, to, n }) => ({ from, to, share: n / samples }))
    .sort((a, b) => b.share - a.share);
  return { moved: moved / samples, flows };
}

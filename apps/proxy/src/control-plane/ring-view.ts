// The placement as arcs of the keyspace, for drawing: the ring is sampled at
// evenly spaced positions and runs of one owner merged. Pure.

import type { HashRing } from "@stickyring/hashing";
import type { Arc } from "./views.js";

/** 1,440 samples: a quarter of a degree each, finer than the drawing shows. */
export const ARC_SAMPLES = 1440;

export function ringArcs(ring: HashRing, samples = ARC_SAMPLES): Arc[] {
  const arcs: Arc[] = [];
  const step = 2 ** 32 / samples;
  for (let i = 0; i < samples; i++) {
    const server = ring.pickHash(Math.floor((i + 0.5) * step)) ?? null;
    const last = arcs[arcs.length - 1];
    if (last !== undefined && last.server === server) last.to = (i + 1) / samples;
    else arcs.push({ server, from: i / samples, to: (i + 1) / samples });
  }
  return arcs;
}

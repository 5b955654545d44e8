// Fixtures shared by the placement tests.
import fc from "fast-check";
import type { ServerSpec } from "../src/servers.js";

/** `count` distinct random IPv4 addresses as flat strings, from a fixed seed. */
export function ipv4Keys(count: number, seed = 1): string[] {
  let state = seed >>> 0 || 1;
  const keys = new Set<string>();
  while (keys.size < count) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const x = state >>> 0;
    keys.add([x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join("."));
  }
  return [...keys];
}

/** Where each key goes. */
export function placements(pick: (key: string) => string | undefined, keys: readonly string[]) {
  return keys.map((k) => pick(k));
}

/** Largest share divided by the mean share over the servers named. */
export function maxOverMean(
  owners: readonly (string | undefined)[],
  ids: readonly string[],
): number {
  const counts = new Map(ids.map((id) => [id, 0]));
  for (const o of owners) if (o !== undefined) counts.set(o, (counts.get(o) ?? 0) + 1);
  return Math.max(...counts.values()) / (owners.length / ids.length);
}

/** 2..12 servers with distinct ids and weights 1..8. */
export const serverSets = fc
  .uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 2, maxLength: 12 })
  .chain((ids) =>
    fc.tuple(...ids.map((id) => fc.integer({ min: 1, max: 8 }).map((weight) => ({ id, weight })))),
  )
  .map((servers): ServerSpec[] => servers);

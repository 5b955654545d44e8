// Map-based placement (HAProxy `hash-type map-based`): hash modulo a table of
// weight-many slots. Perfectly stable while the servers do not change, and
// reshuffles almost every key when they do: kept to show what consistent
// hashing avoids.

import type { Server } from "./servers.js";
import { NO_SERVER, VisitStamps, walkDistinct, type Table } from "./table.js";

export function buildModulo(servers: readonly Server[]): Table {
  const fractional = servers.find((s) => !Number.isInteger(s.weight));
  if (fractional !== undefined)
    throw new TypeError(
      `server "${fractional.id}": algorithm modulo takes whole weights (a slot per unit), got ${fractional.weight}`,
    );
  // Smooth weighted round-robin over the servers in id order spreads each
  // server's slots through the table instead of in one block.
  const credit = servers.map(() => 0);
  const totalWeight = servers.reduce((sum, s) => sum + s.weight, 0);
  /** slots[h % length]: index into `servers`. */
  const slots = new Uint16Array(totalWeight);
  for (let slot = 0; slot < totalWeight; slot++) {
    let best = -1;
    servers.forEach((s, i) => {
      credit[i]! += s.weight;
      if (s.weight > 0 && (best < 0 || credit[i]! > credit[best]!)) best = i;
    });
    credit[best]! -= totalWeight;
    slots[slot] = best;
  }
  const active = servers.filter((s) => s.weight > 0).length;
  const stamps = new VisitStamps(servers.length);

  return {
    servers,
    first(hash) {
      return totalWeight === 0 ? NO_SERVER : slots[hash % totalWeight]!;
    },
    walk(hash, visit) {
      if (totalWeight > 0) walkDistinct(slots, hash % totalWeight, active, stamps, visit);
    },
    shares() {
      const share = new Float64Array(servers.length);
      servers.forEach((s, i) => (share[i] = totalWeight === 0 ? 0 : s.weight / totalWeight));
      return share;
    },
  };
}

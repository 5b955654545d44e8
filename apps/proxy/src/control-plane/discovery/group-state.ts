// What a DNS group publishes, given its last state and a new answer: pure,
// so every rule below is tested without a DNS server or a clock.
//
// - An answer with servers publishes them (status ok).
// - DNS that cannot answer (timeout, SERVFAIL, REFUSED) never empties a
//   group: the last good set stays published (HAProxy's `hold obsolete`),
//   status stale, since the first failure.
// - A name with no records (NXDOMAIN, NODATA) keeps its servers for the
//   hold time, then publishes none (status empty). The hold counts from the
//   first such answer after the last good one: failures in between do not
//   start it again.
// - A name that has never answered publishes none (status unresolved).
// - One address family answering while the other's query fails (resolve.ts
//   fills that family in from its last answer, name by name) publishes
//   what it says, status stale: a dual-stack group does not lose half its
//   servers to one AAAA timeout, and an IPv4-only one is not held up by it.
// - The same address and port named twice (two SRV records) is one server,
//   with the records' weights added.

import type { GroupView } from "../views.js";
import type { Answer, Endpoint } from "./resolve.js";

export type GroupStatus = GroupView["status"];

export interface GroupState {
  status: GroupStatus;
  /** The servers the group publishes now, sorted by address and port. */
  endpoints: Endpoint[];
  /** When the status began (ms since the epoch). */
  since: number;
  /** What DNS said last when it was not a plain answer. */
  detail: string;
  /** The first "no records" answer since the last good one (ms since the epoch): the hold's start. */
  noRecordsSince?: number;
}

export const INITIAL: GroupState = { status: "unresolved", endpoints: [], since: 0, detail: "" };

const byAddress = (a: Endpoint, b: Endpoint) =>
  a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port;

/** One endpoint per address and port, weights added, sorted. */
function merged(endpoints: readonly Endpoint[]): Endpoint[] {
  const byKey = new Map<string, Endpoint>();
  for (const e of endpoints) {
    const key = `${e.address} ${e.port}`;
    const seen = byKey.get(key);
    byKey.set(key, seen === undefined ? { ...e } : { ...seen, weight: seen.weight + e.weight });
  }
  return [...byKey.values()].sort(byAddress);
}

export function nextState(
  state: GroupState,
  answer: Answer,
  now: number,
  holdMs: number,
): GroupState {
  const since = (status: GroupStatus) => (state.status === status ? state.since : now);
  switch (answer.kind) {
    case "ok":
      return {
        status: "ok",
        endpoints: merged(answer.endpoints),
        since: since("ok"),
        detail: "",
      };
    case "partial":
      return {
        status: "stale",
        endpoints: merged(answer.endpoints),
        since: since("stale"),
        detail: answer.detail,
      };
    case "error":
      if (state.status === "unresolved")
        return { ...state, since: since("unresolved"), detail: answer.detail };
      return {
        status: "stale",
        endpoints: state.endpoints,
        since: since("stale"),
        detail: answer.detail,
        noRecordsSince: state.noRecordsSince,
      };
    case "empty": {
      if (state.status === "unresolved")
        return { ...state, since: since("unresolved"), detail: answer.detail };
      const held = state.noRecordsSince ?? now;
      return {
        status: "empty",
        endpoints: now - held >= holdMs ? [] : state.endpoints,
        since: since("empty"),
        detail: answer.detail,
        noRecordsSince: held,
      };
    }
  }
}

/**
 * Server weights from SRV weights: divided by their greatest common divisor
 * (Kubernetes gives every endpoint the same weight: all 1) and capped at
 * `max`. A weight of 0 stays 0 (no keys) unless every weight is 0, which
 * RFC 2782 reads as "no preference": then all are 1.
 */
export function serverWeights(weights: readonly number[], max: number): number[] {
  const positive = weights.filter((w) => w > 0);
  if (positive.length === 0) return weights.map(() => 1);
  const gcd = positive.reduce((a, b) => {
    while (b !== 0) [a, b] = [b, a % b];
    return a;
  });
  return weights.map((w) => Math.min(max, w / gcd));
}

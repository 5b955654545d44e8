// Looking up a DNS group with node:dns's Resolver (c-ares): every A and
// AAAA address of a name, or the targets of its SRV records with their
// ports and weights. Off the request path; the discovery loop (discovery.ts)
// calls it every DNS_REFRESH.

import { promises as dns } from "node:dns";
import { isIP } from "node:net";
import type { DnsGroupSpec } from "../servers.js";
import { candidateNames, type SearchRules } from "./resolv-conf.js";

/** One server a lookup found. */
export interface Endpoint {
  address: string;
  port: number;
  /** SRV weight (1 for A/AAAA). */
  weight: number;
}

/**
 * What a lookup says: the servers; that the name has none (NXDOMAIN, or no
 * records of the type: the group may really be empty); or that DNS could
 * not say (a timeout, SERVFAIL, REFUSED...: the last good set stands).
 */
export type Answer =
  | { kind: "ok"; endpoints: Endpoint[]; name: string }
  /**
   * One address family of a name answered and the other could not (an AAAA
   * query timing out while A answers): the family that answered as it said,
   * the other as it last answered for that name (none if it never did).
   */
  | { kind: "partial"; endpoints: Endpoint[]; name: string; detail: string }
  | { kind: "empty"; detail: string }
  | { kind: "error"; detail: string };

/** Codes that mean "no such name" or "no such record": an answer, not a failure. */
const NO_RECORDS = new Set(["ENOTFOUND", "ENODATA"]);

/** Servers found, and what failed while the rest answered (a partial answer). */
interface Found {
  endpoints: Endpoint[];
  failed?: string | undefined;
}

/** Names whose last answers are remembered, per family (the oldest forgotten past this). */
const REMEMBERED_NAMES = 4096;

export interface GroupResolver {
  resolve(group: DnsGroupSpec): Promise<Answer>;
}

export function createGroupResolver(options: {
  /** Name servers (ip or ip:port); undefined: the system's. */
  servers: string[] | undefined;
  /** How long one query may take (c-ares tries twice). */
  timeoutMs: number;
  rules: SearchRules;
}): GroupResolver {
  // c-ares takes whole milliseconds only (half of DNS_REFRESH may not be one).
  const resolver = new dns.Resolver({ timeout: Math.ceil(options.timeoutMs), tries: 2 });
  if (options.servers) resolver.setServers(options.servers);

  /** Each name's last answer per family ([A, AAAA]), for a family that fails while the other answers. */
  const lastAnswers = new Map<string, [string[] | undefined, string[] | undefined]>();

  /**
   * A server on `port` at every address of `name`, IPv4 and IPv6 (none when
   * it has none). When one family's query fails and the other's answers,
   * that family's addresses are the name's last ones, and `failed` says so.
   * Throws when DNS could say nothing.
   */
  const addresses = async (name: string, port: number, weight: number): Promise<Found> => {
    const at = (found: string[]) => found.map((address) => ({ address, port, weight }));
    if (isIP(name)) return { endpoints: at([name]) };
    const results = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
    const last = lastAnswers.get(name) ?? [undefined, undefined];
    const now: [string[] | undefined, string[] | undefined] = [undefined, undefined];
    let failed: string | undefined;
    let error: unknown;
    results.forEach((result, i) => {
      const code = (result as PromiseRejectedResult).reason?.code as string | undefined;
      if (result.status === "fulfilled") now[i] = result.value;
      else if (NO_RECORDS.has(code ?? "")) now[i] = [];
      else {
        error ??= result.reason;
        failed = `${i === 0 ? "A" : "AAAA"} of ${name}: ${code ?? "EUNKNOWN"}`;
      }
    });
    const answered = now.filter((list) => list !== undefined);
    // Both failed, or one failed and the other named nothing: DNS said nothing.
    if (answered.length === 0 || (failed !== undefined && answered[0]!.length === 0)) throw error;
    const found = [...(now[0] ?? last[0] ?? []), ...(now[1] ?? last[1] ?? [])];
    lastAnswers.delete(name);
    lastAnswers.set(name, [now[0] ?? last[0], now[1] ?? last[1]]);
    if (lastAnswers.size > REMEMBERED_NAMES) lastAnswers.delete(lastAnswers.keys().next().value!);
    return { endpoints: at(found), failed };
  };

  /** The SRV targets of `name` of the most preferred priority (RFC 2782: the others are backups). */
  const srvEndpoints = async (name: string): Promise<Found> => {
    const records = await resolver.resolveSrv(name);
    if (records.length === 0) return { endpoints: [] };
    const first = Math.min(...records.map((r) => r.priority));
    const chosen = records.filter((r) => r.priority === first);
    const resolved = await Promise.all(chosen.map((r) => addresses(r.name, r.port, r.weight)));
    return {
      endpoints: resolved.flatMap((r) => r.endpoints),
      // Every target's failure, in one order whatever the order of the answer.
      failed:
        resolved
          .flatMap((r) => (r.failed === undefined ? [] : [r.failed]))
          .sort()
          .join("; ") || undefined,
    };
  };

  return {
    async resolve(group) {
      // An address is its own answer: no search domain applies to it.
      if (group.kind === "a" && isIP(group.host))
        return {
          kind: "ok",
          endpoints: [{ address: group.host, port: group.port, weight: 1 }],
          name: group.host,
        };
      let failure: string | undefined;
      let missing = "";
      for (const name of candidateNames(group.host, options.rules)) {
        try {
          const { endpoints, failed } =
            group.kind === "srv" ? await srvEndpoints(name) : await addresses(name, group.port, 1);
          if (failed !== undefined) return { kind: "partial", endpoints, name, detail: failed };
          if (endpoints.length > 0) return { kind: "ok", endpoints, name };
          missing = `${name}: no records`;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? "EUNKNOWN";
          if (NO_RECORDS.has(code)) missing = `${name}: ${code}`;
          // A failure on one name means the answer is unknown, even when the
          // next search domain says NXDOMAIN: the group keeps its servers.
          else failure ??= `${name}: ${code}`;
        }
      }
      if (failure !== undefined) return { kind: "error", detail: failure };
      return { kind: "empty", detail: missing };
    },
  };
}

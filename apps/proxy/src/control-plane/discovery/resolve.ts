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
   * One address family answered and the other could not (an AAAA query
   * timing out while A answers): the servers of the family that answered;
   * those of the other are the last good ones (group-state.ts).
   */
  | { kind: "partial"; endpoints: Endpoint[]; name: string; failed: 4 | 6; detail: string }
  | { kind: "empty"; detail: string }
  | { kind: "error"; detail: string };

/** Codes that mean "no such name" or "no such record": an answer, not a failure. */
const NO_RECORDS = new Set(["ENOTFOUND", "ENODATA"]);

/** A family whose query failed while the other's answered. */
interface FamilyFailure {
  family: 4 | 6;
  detail: string;
}

interface Addresses {
  found: string[];
  failed?: FamilyFailure;
}

interface Found {
  endpoints: Endpoint[];
  failed?: FamilyFailure | undefined;
}

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
  const resolver = new dns.Resolver({ timeout: options.timeoutMs, tries: 2 });
  if (options.servers) resolver.setServers(options.servers);

  /**
   * Every address of `name`, IPv4 and IPv6 (empty when it has none), and the
   * family whose query failed while the other's answered. Throws when DNS
   * could say nothing.
   */
  const addresses = async (name: string): Promise<Addresses> => {
    if (isIP(name)) return { found: [name] };
    const results = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
    const found: string[] = [];
    const failures: { family: 4 | 6; error: NodeJS.ErrnoException }[] = [];
    results.forEach((result, i) => {
      if (result.status === "fulfilled") found.push(...result.value);
      else if (!NO_RECORDS.has((result.reason as NodeJS.ErrnoException).code ?? ""))
        failures.push({ family: i === 0 ? 4 : 6, error: result.reason as NodeJS.ErrnoException });
    });
    if (failures.length === 2 || (failures.length === 1 && found.length === 0))
      throw failures[0]!.error;
    if (failures.length === 0) return { found };
    const { family, error } = failures[0]!;
    return {
      found,
      failed: {
        family,
        detail: `${family === 4 ? "A" : "AAAA"} of ${name}: ${error.code ?? "EUNKNOWN"}`,
      },
    };
  };

  /** The SRV targets of `name` of the most preferred priority (RFC 2782: the others are backups). */
  const srvEndpoints = async (name: string): Promise<Found> => {
    const records = await resolver.resolveSrv(name);
    if (records.length === 0) return { endpoints: [] };
    const first = Math.min(...records.map((r) => r.priority));
    const chosen = records.filter((r) => r.priority === first);
    const resolved = await Promise.all(
      chosen.map(async (r) => {
        const { found, failed } = await addresses(r.name);
        const endpoints = found.map((address) => ({ address, port: r.port, weight: r.weight }));
        return { endpoints, failed };
      }),
    );
    return {
      endpoints: resolved.flatMap((r) => r.endpoints),
      failed: resolved.find((r) => r.failed !== undefined)?.failed,
    };
  };

  const hostEndpoints = async (name: string, port: number): Promise<Found> => {
    const { found, failed } = await addresses(name);
    return { endpoints: found.map((address) => ({ address, port, weight: 1 })), failed };
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
            group.kind === "srv" ? await srvEndpoints(name) : await hostEndpoints(name, group.port);
          if (failed !== undefined)
            return {
              kind: "partial",
              endpoints,
              name,
              failed: failed.family,
              detail: failed.detail,
            };
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

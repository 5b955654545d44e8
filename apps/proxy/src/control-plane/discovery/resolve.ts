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
  | { kind: "empty"; detail: string }
  | { kind: "error"; detail: string };

/** Codes that mean "no such name" or "no such record": an answer, not a failure. */
const NO_RECORDS = new Set(["ENOTFOUND", "ENODATA"]);

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

  /** Every address of `name`, IPv4 and IPv6; empty when it has none. */
  const addresses = async (name: string): Promise<string[]> => {
    if (isIP(name)) return [name];
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
    const found: string[] = [];
    for (const result of [v4, v6]) {
      if (result.status === "fulfilled") found.push(...result.value);
      else if (!NO_RECORDS.has((result.reason as NodeJS.ErrnoException).code ?? ""))
        throw result.reason;
    }
    return found;
  };

  /** The SRV targets of `name` of the most preferred priority (RFC 2782: the others are backups). */
  const srvEndpoints = async (name: string): Promise<Endpoint[]> => {
    const records = await resolver.resolveSrv(name);
    if (records.length === 0) return [];
    const first = Math.min(...records.map((r) => r.priority));
    const chosen = records.filter((r) => r.priority === first);
    const resolved = await Promise.all(
      chosen.map(async (r) =>
        (await addresses(r.name)).map((address) => ({ address, port: r.port, weight: r.weight })),
      ),
    );
    return resolved.flat();
  };

  return {
    async resolve(group) {
      let failure: string | undefined;
      let missing = "";
      for (const name of candidateNames(group.host, options.rules)) {
        try {
          const endpoints =
            group.kind === "srv"
              ? await srvEndpoints(name)
              : (await addresses(name)).map((address) => ({
                  address,
                  port: group.port,
                  weight: 1,
                }));
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

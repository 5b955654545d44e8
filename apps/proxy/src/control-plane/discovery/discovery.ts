// DNS discovery: every DNS_REFRESH each group is looked up again (never on
// the request path), its next state worked out (group-state.ts), and the
// servers it publishes handed to membership, which rebuilds the placement
// once per change. A discovery source is one more input to membership, as
// the admin API and health checks are.

import type { Logger } from "@stickyring/runtime";
import { MAX_WEIGHT } from "@stickyring/hashing";
import type { Membership } from "../membership.js";
import { discoveredId, type DnsGroupSpec } from "../servers.js";
import { INITIAL, nextState, serverWeights, type GroupState } from "./group-state.js";
import type { Answer, GroupResolver } from "./resolve.js";
import type { GroupView } from "../views.js";

/** What discovery counts (control-plane/metrics.ts keeps it for Prometheus). */
export interface DiscoveryMetrics {
  countLookup(group: string, result: Answer["kind"]): void;
  groupState(group: string, servers: number, stale: boolean): void;
}

export interface Discovery {
  /** Looks every group up once (resolves when all have answered or failed), then every refreshMs. */
  start(): Promise<void>;
  stop(): void;
  groups(): GroupView[];
}

export function createDiscovery(options: {
  groups: readonly DnsGroupSpec[];
  resolver: GroupResolver;
  membership: Membership;
  refreshMs: number;
  holdMs: number;
  logger: Logger;
  metrics: DiscoveryMetrics;
  now?: () => number;
}): Discovery {
  const { resolver, membership, logger, metrics } = options;
  const now = options.now ?? Date.now;
  const states = new Map<string, GroupState>(options.groups.map((g) => [g.name, INITIAL]));
  const inFlight = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const refresh = async (group: DnsGroupSpec): Promise<void> => {
    // One lookup per group at a time: a slow name server does not pile them up.
    if (inFlight.has(group.name)) return;
    inFlight.add(group.name);
    const answer = await resolver.resolve(group);
    inFlight.delete(group.name);
    if (stopped) return;
    const before = states.get(group.name)!;
    const after = nextState(before, answer, now(), options.holdMs);
    states.set(group.name, after);
    metrics.countLookup(group.name, answer.kind);
    metrics.groupState(group.name, after.endpoints.length, after.status === "stale");
    if (after.status !== before.status) report(group, after);
    const weights = serverWeights(
      after.endpoints.map((e) => e.weight),
      MAX_WEIGHT,
    );
    membership.sync(
      group.name,
      after.endpoints.map((e, i) => ({
        id: discoveredId(group.name, e.address, e.port),
        url: new URL(`http://${e.address.includes(":") ? `[${e.address}]` : e.address}:${e.port}`),
        weight: weights[i]!,
      })),
    );
  };

  /** One line per change of state, not per lookup. */
  const report = (group: DnsGroupSpec, state: GroupState) => {
    const fields = { group: group.name, url: group.url, servers: state.endpoints.length };
    if (state.status === "ok") logger.info(fields, "DNS group resolved");
    else if (state.status === "stale")
      logger.warn(
        { ...fields, detail: state.detail },
        "DNS failing: keeping the last servers it named",
      );
    else if (state.status === "empty")
      logger.warn(
        { ...fields, detail: state.detail, holdMs: options.holdMs },
        "DNS names no servers for this group: they leave after DNS_HOLD",
      );
    else
      logger.warn(
        { ...fields, detail: state.detail },
        "DNS group has never resolved: it has no servers until it does",
      );
  };

  const round = () => Promise.all(options.groups.map(refresh)).then(() => undefined);

  return {
    async start() {
      await round();
      for (const group of options.groups)
        if (states.get(group.name)!.status === "unresolved") report(group, states.get(group.name)!);
      timer = setInterval(() => void round(), options.refreshMs);
      timer.unref();
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
    groups() {
      return options.groups.map((g) => {
        const state = states.get(g.name)!;
        return {
          name: g.name,
          url: g.url,
          status: state.status,
          since: state.since,
          detail: state.detail,
          servers: state.endpoints.length,
        };
      });
    },
  };
}

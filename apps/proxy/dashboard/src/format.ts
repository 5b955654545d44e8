// Words and numbers for the page. Pure: tested without a browser.

import type { Flow, GroupView, ServerView } from "../../src/control-plane/views.js";

export function percent(fraction: number): string {
  const p = fraction * 100;
  if (p === 0) return "0%";
  if (p < 0.1) return "<0.1%";
  return p >= 10 ? `${Math.round(p)}%` : `${p.toFixed(1)}%`;
}

export function rate(perSecond: number): string {
  return perSecond >= 100 ? `${Math.round(perSecond)}/s` : `${perSecond.toFixed(1)}/s`;
}

/** "a", "a and b", "a, b and c" (or "a, b or c"). */
export function list(items: readonly string[], conjunction = "and"): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} ${conjunction} ${items[items.length - 1]}`;
}

const named = (id: string | null) => id ?? "no server";

/** Sums the flows by one end, largest first. */
function totals(flows: readonly Flow[], end: "from" | "to"): [string, number][] {
  const sums = new Map<string, number>();
  for (const f of flows) sums.set(named(f[end]), (sums.get(named(f[end])) ?? 0) + f.share);
  return [...sums].sort((a, b) => b[1] - a[1]);
}

/**
 * "About 33% of clients move, all from app2, to app1 (17%) and app3 (16%);
 * no client of app1 or app3 moves." `servers` are those taking keys before.
 */
export function describeMoves(
  moved: number,
  flows: readonly Flow[],
  servers: readonly string[],
): string {
  if (flows.length === 0 || moved === 0) return "No client moves.";
  const from = totals(flows, "from");
  const to = totals(flows, "to");
  const part = (entries: [string, number][]) =>
    list(entries.map(([id, s]) => `${id} (${percent(s)})`));
  const fromText = from.length === 1 ? `all from ${from[0]![0]}` : `from ${part(from)}`;
  const toText = to.length === 1 ? `all to ${to[0]![0]}` : `to ${part(to)}`;
  const moving = new Set(from.map(([id]) => id));
  const staying = servers.filter((id) => !moving.has(id));
  const stay = staying.length > 0 ? `; no client of ${list(staying, "or")} moves` : "";
  return `About ${percent(moved)} of clients move, ${fromText}, ${toText}${stay}.`;
}

/** What the page calls a server's condition. */
export function stateOf(server: ServerView): "up" | "down" | "drained" | "disabled" {
  if (server.state === "maint") return "disabled";
  if (server.health === "down") return "down";
  return server.state === "drain" ? "drained" : "up";
}

export function balanceText(balance: { kind: string; header?: string }): string {
  return balance.kind === "hdr" ? `balance hdr(${balance.header})` : `balance ${balance.kind}`;
}

/** Where a server came from: listed in BACKENDS or by the admin API, or found by a DNS group. */
export function sourceText(server: ServerView): string {
  return server.source === "static" ? "listed" : `found by DNS (${server.source})`;
}

/**
 * One line per DNS group: what it found, or since when DNS has failed it
 * ("discovery stale since 12:03:04", when its last servers are kept).
 */
export function discoveryText(group: GroupView, time: (at: number) => string): string {
  const servers = `${group.servers} server${group.servers === 1 ? "" : "s"}`;
  const since = group.since > 0 ? ` since ${time(group.since)}` : "";
  switch (group.status) {
    case "ok":
      return `${group.url}: ${servers}`;
    case "stale":
      return `${group.url}: discovery stale${since}, keeping its ${servers} (${group.detail})`;
    case "empty":
      return `${group.url}: DNS names no servers${since} (${group.detail}); ${servers} kept until DNS_HOLD`;
    case "unresolved":
      return `${group.url}: not resolved yet (${group.detail || "waiting"})`;
  }
}

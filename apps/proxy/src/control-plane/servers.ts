// What a server is, as an operator names it: its id, its URL, its weight,
// checked the same way wherever they come from (BACKENDS, the admin API).

import { isIP } from "node:net";
import { z } from "zod";
import { MAX_WEIGHT, parseAddress } from "@stickyring/hashing";

/** A server as configured: its id, where it listens, its weight. */
export interface ServerSpec {
  id: string;
  url: URL;
  weight: number;
}

export interface MaxconnSettings {
  fallback: number;
  /** By server id or DNS group name. */
  byName: ReadonlyMap<string, number>;
}

/** A server's maxconn: its own, else its DNS group's, else the default. */
export function maxconnOf(
  settings: MaxconnSettings,
  id: string,
  source: string | undefined,
): number {
  return (
    settings.byName.get(id) ??
    (source === undefined ? undefined : settings.byName.get(source)) ??
    settings.fallback
  );
}

/** A server id as an operator writes it (BACKENDS, the admin API). */
export const SERVER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const WEIGHT_RULE = `expected an integer from 0 to ${MAX_WEIGHT}`;
/** A server weight given as JSON (config file, admin API). */
export const weightSchema = z
  .number({ error: WEIGHT_RULE })
  .int(WEIGHT_RULE)
  .min(0, WEIGHT_RULE)
  .max(MAX_WEIGHT, WEIGHT_RULE);

/** `http://host:port` and nothing else, or a message saying what is wrong with it. */
export function parseBackendUrl(id: string, raw: string): URL | string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `backend "${id}": "${raw}" is not a URL (expected http://host:port)`;
  }
  if (url.protocol !== "http:")
    return `backend "${id}": only http:// backends are supported, got ${url.protocol}`;
  if (url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
    return `backend "${id}": expected http://host:port with no path, query or credentials, got ${raw}`;
  }
  if (!isHostName(url.hostname))
    return `backend "${id}": "${url.hostname}" is not an IP address or a DNS name`;
  return url;
}

/**
 * An IP address or a DNS name: labels of letters, digits, '-' and '_'
 * (container names have them), 63 characters at most, 253 in all.
 */
export function isHostName(host: string): boolean {
  if (host.startsWith("[")) return parseAddress(host.slice(1, -1)) !== undefined;
  if (parseAddress(host) !== undefined) return true;
  return (
    host.length <= 253 &&
    host
      .replace(/\.$/, "")
      .split(".")
      .every((label) => /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(label))
  );
}

/**
 * A group of servers found by DNS (HAProxy's `server-template` with
 * `resolvers`; Envoy's STRICT_DNS cluster): every address of `host` on
 * `port` (`dns://host:port`), or every target of an SRV name with its port
 * and weight (`dns+srv://_service._proto.name`).
 */
export interface DnsGroupSpec {
  /** Names the group's servers: `<name>@<address>:<port>`. */
  name: string;
  kind: "a" | "srv";
  /** The name looked up (search domains of /etc/resolv.conf apply). */
  host: string;
  /** `a` only: the port every address listens on. */
  port: number;
  /** How the operator wrote it, for messages and the admin API. */
  url: string;
}

/** `dns://` and `dns+srv://` entries of BACKENDS. */
export const DNS_SCHEMES = /^dns(\+srv)?:\/\//i;

/**
 * A `dns://host[:port]` or `dns+srv://name` entry, or a message saying what
 * is wrong with it. Without a name, a group is named after the host's first
 * label that is not an SRV service or protocol label (`web` for both
 * `dns://web:5000` and `dns+srv://_http._tcp.web.default.svc.cluster.local`).
 */
export function parseDnsGroup(name: string | undefined, raw: string): DnsGroupSpec | string {
  const srv = raw.toLowerCase().startsWith("dns+srv://");
  const rest = raw.slice(srv ? 10 : 6);
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^/:?#[\]]+))(?::(\d{1,5}))?$/.exec(rest);
  const where = name === undefined ? `"${raw}"` : `group "${name}"`;
  const form = srv ? "dns+srv://_service._proto.name" : "dns://host:port";
  if (!match) return `${where}: expected ${form} with no path or query, got ${raw}`;
  const ipv6 = match[1];
  // A final dot stays: the name is then asked only as written (no search domains).
  const written = match[2]?.replace(/\.$/, "");
  if (ipv6 !== undefined ? isIP(ipv6) !== 6 : !isHostName(written!))
    return `${where}: "${ipv6 ?? written}" is not a DNS name`;
  // An IPv6 address as DNS answers give it (::1, not 0:0:0:0:0:0:0:1), so ids match.
  const host = ipv6 !== undefined ? new URL(`http://[${ipv6}]/`).hostname.slice(1, -1) : match[2]!;
  if (srv && (ipv6 !== undefined || !/^_[^.]+\._[^.]+\.[^.]/.test(host)))
    return `${where}: an SRV name reads _service._proto.name (for example _http._tcp.web), got ${host}`;
  if (srv && match[3] !== undefined)
    return `${where}: an SRV record gives the port; write ${raw.replace(/:\d+$/, "")}`;
  const port = match[3] === undefined ? 80 : Number(match[3]);
  if (port < 1 || port > 65535) return `${where}: port ${match[3]} is not from 1 to 65535`;
  // An address names itself (one server); a name by its first label that is not _service or _proto.
  const group =
    name ??
    (isIP(host) !== 0
      ? host
      : (written!.split(".").find((label) => !label.startsWith("_")) ?? written!));
  if (!SERVER_ID.test(group))
    return `${where}: "${group}" cannot name a group (letters, digits, '.', '_' or '-', at most 64); write name=${raw}`;
  return { name: group, kind: srv ? "srv" : "a", host, port, url: raw };
}

/** The id of a server a DNS group found: the group, then where it listens. */
export function discoveredId(group: string, address: string, port: number): string {
  return `${group}@${address.includes(":") ? `[${address}]` : address}:${port}`;
}

// What a server is, as an operator names it: its id, its URL, its weight,
// checked the same way wherever they come from (BACKENDS, the admin API).

import { z } from "zod";
import { MAX_WEIGHT, parseAddress } from "@stickyring/hashing";

/** A server as configured: its id, where it listens, its weight. */
export interface ServerSpec {
  id: string;
  url: URL;
  weight: number;
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

// Cookie persistence, as HAProxy's `cookie <name> insert indirect`: the
// proxy names the client's server in a cookie of its own, and a request that
// carries it goes back to that server, whatever its address or key says,
// while the server is in the placement. Pure text handling here; routing.ts
// decides, forwarder.ts adds the Set-Cookie.

import type { Headers } from "../http/downstream/request.js";

/** A cookie name (RFC 6265: an HTTP token). */
export const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;

/**
 * Cookie `name` split out of a Cookie header in one pass: its value (the
 * first copy wins; undefined when absent) and the header without any copy
 * of it (undefined when nothing else is left).
 */
export function splitCookie(
  header: string,
  name: string,
): { value: string | undefined; rest: string | undefined } {
  let value: string | undefined;
  const kept: string[] = [];
  for (const pair of header.split(";")) {
    const text = pair.trim();
    if (text.startsWith(name) && text[name.length] === "=") value ??= text.slice(name.length + 1);
    else if (text !== "") kept.push(text);
  }
  return { value, rest: kept.length > 0 ? kept.join("; ") : undefined };
}

/**
 * The server cookie `name` names, taken out of the request's Cookie header
 * on the way (HAProxy's `indirect`: the server never sees it).
 */
export function takeCookie(headers: Headers, name: string): string | undefined {
  const header = headers.cookie;
  if (typeof header !== "string" || !header.includes(name)) return undefined;
  const { value, rest } = splitCookie(header, name);
  if (value === undefined) return undefined;
  if (rest === undefined) delete headers.cookie;
  else headers.cookie = rest;
  return value;
}

/** What the response sets so the client comes back to `server`. */
export function persistenceCookie(name: string, server: string): string {
  return `${name}=${server}; path=/`;
}

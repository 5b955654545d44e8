// Cookie persistence, as HAProxy's `cookie <name> insert indirect`: the
// proxy names the client's server in a cookie of its own, and a request that
// carries it goes back to that server, whatever its address or key says,
// while the server is in the placement. Pure text handling here; routing.ts
// decides, forwarder.ts adds the Set-Cookie.

import type { Headers } from "./downstream/request.js";

/** A cookie name (RFC 6265: an HTTP token). */
export const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;

/** The value of cookie `name` in a Cookie header, undefined when absent (the first wins). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined || !header.includes(name)) return undefined;
  for (const pair of header.split(";")) {
    const text = pair.trim();
    if (text.length > name.length && text[name.length] === "=" && text.startsWith(name))
      return text.slice(name.length + 1);
  }
  return undefined;
}

/**
 * The Cookie header without cookie `name` (HAProxy's `indirect`: the server
 * never sees the proxy's cookie); undefined when nothing else is left.
 */
export function withoutCookie(header: string, name: string): string | undefined {
  const kept = header
    .split(";")
    .map((pair) => pair.trim())
    .filter((pair) => pair !== "" && !(pair.startsWith(name) && pair[name.length] === "="));
  return kept.length > 0 ? kept.join("; ") : undefined;
}

/**
 * The server cookie `name` names, taken out of the request's Cookie header
 * on the way (HAProxy's `indirect`: the server never sees it).
 */
export function takeCookie(headers: Headers, name: string): string | undefined {
  const header = headers.cookie;
  if (typeof header !== "string") return undefined;
  const named = cookieValue(header, name);
  if (named === undefined) return undefined;
  const rest = withoutCookie(header, name);
  if (rest === undefined) delete headers.cookie;
  else headers.cookie = rest;
  return named;
}

/** What the response sets so the client comes back to `server`. */
export function persistenceCookie(name: string, server: string): string {
  return `${name}=${server}; path=/`;
}

// Cookie persistence, as HAProxy's `cookie <name> insert indirect`: the
// proxy names the client's server in a cookie of its own, and a request that
// carries it goes back to that server, whatever its address or key says,
// while the server is in the placement. Pure text handling here; routing.ts
// decides, forwarder.ts adds the Set-Cookie.

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

/** What the response sets so the client comes back to `server`. */
export function persistenceCookie(name: string, server: string): string {
  return `${name}=${server}; path=/`;
}

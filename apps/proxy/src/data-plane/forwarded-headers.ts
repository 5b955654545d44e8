// What a proxy adds to and removes from the headers it passes on.

import type { Headers } from "../http/downstream/request.js";
import { CLIENT_CERTIFICATE_HEADERS } from "../http/tls/client-certificate.js";

/**
 * HAProxy `option forwardfor`, plus -Proto (https when the request came
 * over TLS) and -Host; a peer's own -Proto and -Host are kept only when it
 * is a trusted proxy (`fromTrusted`).
 */
export function addForwardedHeaders(
  req: { remoteAddress: string | undefined; headers: Headers; secure: boolean },
  fromTrusted: boolean,
): void {
  const peer = req.remoteAddress ?? "";
  // A client's X-Forwarded-For that its Connection header names is for this hop alone.
  const named = connectionTokens(req.headers.connection);
  const previous = named?.has("x-forwarded-for") ? undefined : req.headers["x-forwarded-for"];
  req.headers["x-forwarded-for"] = previous ? `${String(previous)}, ${peer}` : peer;
  if (!fromTrusted || !req.headers["x-forwarded-proto"])
    req.headers["x-forwarded-proto"] = req.secure ? "https" : "http";
  if (!fromTrusted || !req.headers["x-forwarded-host"]) {
    if (req.headers.host) req.headers["x-forwarded-host"] = req.headers.host;
    else delete req.headers["x-forwarded-host"];
  }
}

/**
 * Headers that describe one connection, not the message (RFC 9110 7.6.1):
 * each hop sets its own. `expect` too: the proxy has already answered
 * 100-continue to the client, and the upstream request sends its body at once.
 */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "upgrade",
  "expect",
]);

/** Bit n set: some hop-by-hop name is n characters long. Other names need no lowercasing to rule out. */
const HOP_BY_HOP_LENGTHS = [...HOP_BY_HOP].reduce((bits, name) => bits | (1 << name.length), 0);

/** The name in lower case when it may be hop-by-hop (by its length), else undefined. */
function lowerIfHopByHopLength(name: string): string | undefined {
  return name.length < 32 && (HOP_BY_HOP_LENGTHS >> name.length) & 1
    ? name.toLowerCase()
    : undefined;
}

/**
 * The header names a Connection header lists beyond the hop-by-hop ones
 * (usually it says only keep-alive or close): they too describe only this
 * hop. Undefined when there are none, the common case, so nothing is built.
 */
function namedByConnection(connection: unknown, keep?: string): Set<string> | undefined {
  const named = connectionTokens(connection);
  if (named === undefined) return undefined;
  for (const name of NEVER_DROPPED) named.delete(name);
  if (keep !== undefined) named.delete(keep);
  return named.size > 0 ? named : undefined;
}

/** Every name a Connection header lists beyond the hop-by-hop ones and `close`. */
function connectionTokens(connection: unknown): Set<string> | undefined {
  if (typeof connection !== "string") return undefined;
  let named: Set<string> | undefined;
  for (const token of connection.split(",")) {
    const name = token.trim().toLowerCase();
    if (name !== "" && !HOP_BY_HOP.has(name) && name !== "close") (named ??= new Set()).add(name);
  }
  return named;
}

/** What this proxy itself tells the servers about the client: never a client's to take away or add. */
export const SET_BY_PROXY: readonly string[] = [
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  ...CLIENT_CERTIFICATE_HEADERS.map(([name]) => name),
];

/**
 * Names a Connection header cannot take away: the framing of the message
 * (dropping Content-Length would let its body be read as the next request),
 * its Host, and what this proxy itself adds about the client.
 */
const NEVER_DROPPED = new Set(["content-length", "host", ...SET_BY_PROXY]);

/**
 * The end-to-end headers as a flat [name, value, ...] list: hop-by-hop ones
 * and those the Connection header names are left out. A new list rather than
 * deleting from the object: a deleted key turns the object into a slow
 * dictionary for everything that reads it after (requestHead, upstream/).
 */
export function endToEndHeaders(headers: Headers, keep?: string): string[] {
  const named = namedByConnection(headers.connection, keep);
  const list: string[] = [];
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || named?.has(name)) continue;
    const value = headers[name];
    if (typeof value === "string") list.push(name, value);
    else if (Array.isArray(value)) for (const each of value) list.push(name, String(each));
    else if (value !== undefined) list.push(name, String(value));
  }
  return list;
}

/** The same for a raw [name, value, ...] list as a server sent it: names keep their case, repeats stay. */
export function endToEndRawHeaders(raw: readonly string[]): string[] {
  const list: string[] = [];
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = lowerIfHopByHopLength(raw[i]!);
    if (lower === "connection")
      connection = connection === undefined ? raw[i + 1] : `${connection}, ${raw[i + 1]}`;
    if (lower === undefined || !HOP_BY_HOP.has(lower)) list.push(raw[i]!, raw[i + 1]!);
  }
  const named = namedByConnection(connection);
  if (named === undefined) return list;
  const kept: string[] = [];
  for (let i = 0; i < list.length; i += 2)
    if (!named.has(list[i]!.toLowerCase())) kept.push(list[i]!, list[i + 1]!);
  return kept;
}

/**
 * Fields that must not be taken from trailers (RFC 9110 6.5.1): framing,
 * routing, request modifiers, authentication (cookies among them), response
 * control and content processing. A recipient could merge them into the
 * header section; the proxy passes on only what it cannot misread.
 */
const NOT_IN_TRAILERS = new Set([
  ...HOP_BY_HOP,
  "trailer",
  "content-length",
  "host",
  "cache-control",
  "max-forwards",
  "pragma",
  "range",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "if-range",
  "authorization",
  "proxy-authorization",
  "www-authenticate",
  "proxy-authenticate",
  "cookie",
  "set-cookie",
  "age",
  "expires",
  "date",
  "location",
  "retry-after",
  "vary",
  "warning",
  "content-encoding",
  "content-type",
  "content-range",
  // A server that merges trailers into the head must not find the client's version there.
  ...SET_BY_PROXY,
]);

/**
 * The trailer fields a proxy passes on, from a raw [name, value, ...] list;
 * undefined when none are left. `drop`: one more name to leave out (the
 * request id's, set by the proxy too).
 */
export function trailerFields(raw: readonly string[], drop?: string): string[] | undefined {
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!NOT_IN_TRAILERS.has(name) && name !== drop) kept.push(raw[i]!, raw[i + 1]!);
  }
  return kept.length > 0 ? kept : undefined;
}

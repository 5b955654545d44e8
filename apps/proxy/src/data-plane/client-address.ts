// The client's address: the socket peer, unless the peer is a trusted proxy,
// in which case X-Forwarded-For (or Forwarded) says who it forwarded for.

import { formatAddress, parseAddress, sourceKey, type AddressBytes } from "@stickyring/hashing";
import type { AddressMatcher } from "./cidr.js";

/** Header values too long to be honest are not read at all. */
const MAX_HEADER = 4096;

/** `for=` values of a Forwarded header (RFC 7239), nearest hop last. */
function forwardedFor(value: string): string[] {
  const hops: string[] = [];
  for (const element of value.split(",")) {
    for (const pair of element.split(";")) {
      const eq = pair.indexOf("=");
      if (eq < 0 || pair.slice(0, eq).trim().toLowerCase() !== "for") continue;
      let node = pair.slice(eq + 1).trim();
      if (node.startsWith('"') && node.endsWith('"')) node = node.slice(1, -1);
      // `[v6]:port` or `v4:port`: keep the address only.
      const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(node);
      if (bracket) node = bracket[1]!;
      else if (/^[\d.]+:\d+$/.test(node)) node = node.slice(0, node.lastIndexOf(":"));
      hops.push(node);
    }
  }
  return hops;
}

function headerText(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value.join(",") : value;
  return text === undefined || text.length > MAX_HEADER ? undefined : text;
}

/**
 * The address requests are attributed to, in canonical form, or undefined
 * when the socket has no peer (already closed).
 *
 * Trusted hops are peeled from the right: the answer is the nearest address
 * that is not itself a trusted proxy. Anything unparsable stops the walk at
 * the last address known to be good, so garbage cannot pick a backend.
 */
export function clientAddress(
  peer: string | undefined,
  headers: Record<string, string | string[] | undefined>,
  trusted: AddressMatcher | undefined,
): string | undefined {
  if (peer === undefined) return undefined;
  // Without trusted proxies the peer is the client: its canonical text is
  // all that is needed, and sourceKey has a fast path for what sockets report.
  if (trusted === undefined) return sourceKey(peer);
  return forwardedClient(peer, headers, trusted)?.client;
}

/**
 * With trusted proxies: the client, and whether the peer itself is one of
 * them (its forwarding headers are then believed and passed on).
 */
export function forwardedClient(
  peer: string,
  headers: Record<string, string | string[] | undefined>,
  trusted: AddressMatcher,
): { client: string; peerTrusted: boolean } | undefined {
  const peerBytes = parseAddress(peer);
  if (!peerBytes) return undefined;
  let client: AddressBytes = peerBytes;
  if (!trusted(client)) return { client: formatAddress(client), peerTrusted: false };

  const xff = headerText(headers["x-forwarded-for"]);
  const forwarded = xff === undefined ? headerText(headers["forwarded"]) : undefined;
  const hops =
    xff !== undefined ? xff.split(",") : forwarded !== undefined ? forwardedFor(forwarded) : [];
  for (let i = hops.length - 1; i >= 0 && trusted(client); i--) {
    const hop = parseAddress(hops[i]!.trim());
    if (!hop) break;
    client = hop;
  }
  return { client: formatAddress(client), peerTrusted: true };
}

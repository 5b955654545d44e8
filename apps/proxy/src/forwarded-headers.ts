// What a proxy adds to and removes from the headers it passes on.

import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { parseAddress } from "@stickyring/hashing";
import type { AddressMatcher } from "./cidr.js";

/** HAProxy `option forwardfor`, plus -Proto and -Host, trusting only trusted peers' values. */
export function addForwardedHeaders(
  req: IncomingMessage,
  trusted: AddressMatcher | undefined,
): void {
  const peer = req.socket.remoteAddress ?? "";
  const bytes = trusted === undefined ? undefined : parseAddress(peer);
  const fromTrusted = bytes !== undefined && trusted!(bytes);
  const previous = req.headers["x-forwarded-for"];
  req.headers["x-forwarded-for"] = previous ? `${String(previous)}, ${peer}` : peer;
  if (!fromTrusted || !req.headers["x-forwarded-proto"]) req.headers["x-forwarded-proto"] = "http";
  if (!fromTrusted || !req.headers["x-forwarded-host"]) {
    if (req.headers.host) req.headers["x-forwarded-host"] = req.headers.host;
    else delete req.headers["x-forwarded-host"];
  }
}

/**
 * Headers that describe one connection, not the message (RFC 9110 7.6.1):
 * each hop sets its own. `expect` too: Node has already answered
 * 100-continue to the client, and the upstream request sends its body at once.
 */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "expect",
]);

/** Removes hop-by-hop headers, and those the Connection header names, in place. */
export function stripHopByHop(headers: IncomingHttpHeaders | Record<string, unknown>): void {
  const connection = headers.connection;
  if (typeof connection === "string") {
    for (const name of connection.split(",")) {
      const key = name.trim().toLowerCase();
      if (key !== "" && key in headers) delete headers[key];
    }
  }
  // Most messages carry none of them beyond Connection: one pass over the
  // few names present is cheaper than a lookup per hop-by-hop name.
  for (const name in headers) if (HOP_BY_HOP.has(name)) delete headers[name];
}

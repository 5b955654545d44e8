// What the forwarder (data-plane/forwarder.ts) asks of an upstream transport,
// whichever engine provides it: our llhttp client (connection.ts, pool.ts) or
// node:http's client (../express-engine/upstream.ts). The forwarder's retry
// rule reads only what is here: the error's code, `stale`, `bodyTaken` and
// `heard`, so both transports must report failures in these terms.

import type { LookupFunction } from "node:net";
import type { Readable } from "node:stream";

/** What the connection tells the side that relays the answer. */
export interface Exchange {
  /** An interim (1xx) answer; the final one follows. */
  onInterim(status: number, statusMessage: string, rawHeaders: string[]): void;
  /** The final response's head. */
  onHead(status: number, statusMessage: string, rawHeaders: string[]): void;
  onBody(chunk: Buffer): void;
  /** `trailers`: the fields after a chunked body, as received. */
  onEnd(trailers: string[] | undefined): void;
  /** A read from the server has been parsed: whatever it produced may go out now. */
  onReadEnd(): void;
  /** The exchange failed; `stale` when a reused connection closed before any answer. */
  onError(error: UpstreamError): void;
}

/** Codes of failures the proxy names itself (beside errno codes and llhttp's HPE_*). */
export const CONNECT_TIMEOUT = "STICKYRING_CONNECT_TIMEOUT";
export const SERVER_TIMEOUT = "STICKYRING_SERVER_TIMEOUT";
/** The server was marked down while the request waited for its answer (ON_MARKED_DOWN). */
export const SERVER_DOWN = "STICKYRING_SERVER_DOWN";
/** A 101 to a request that asked for no new protocol. */
export const UNASKED_UPGRADE = "STICKYRING_UNASKED_UPGRADE";
/** A Transfer-Encoding other than chunked. */
export const UNKNOWN_CODING = "STICKYRING_UNKNOWN_CODING";

/**
 * Errors that say the proxy itself ran short (file descriptors, local ports,
 * kernel memory), not that the server failed: they never count against a
 * server's health, and the client is told the proxy is the one out of room.
 */
const LOCAL_SHORTAGE: ReadonlySet<string> = new Set([
  "EMFILE",
  "ENFILE",
  "EADDRNOTAVAIL",
  "ENOBUFS",
  "ENOMEM",
]);

export function isLocalShortage(code: string | undefined): boolean {
  return code !== undefined && LOCAL_SHORTAGE.has(code);
}

export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly code: string,
    /** A reused connection the server had closed: nothing of the request was processed. */
    readonly stale = false,
  ) {
    super(message);
  }

  /** Some of the client's body was read for this exchange: the request cannot go again whole. */
  bodyTaken = false;
  /** Some byte of an answer came: the server saw the request. */
  heard = false;
}

export interface Request {
  method: string;
  /** The request target as the client sent it (origin form). */
  target: string;
  /** A flat [name, value, ...] list of end-to-end headers, Host among them. */
  headers: readonly string[];
  /** The client's body, when there is one. */
  body: Readable | undefined;
  /** Send the body chunked (its length is unknown). */
  chunked: boolean;
  /** With `chunked`: the trailer fields to send after the body, once it has ended. */
  trailers?: () => readonly string[] | undefined;
  /** HEAD: the response has no body whatever its headers say. */
  headOnly: boolean;
}

export interface UpstreamOptions {
  lookup: LookupFunction;
  connectMs: number;
  /** How long a server may stay silent while an answer is awaited. */
  serverMs: number;
}

/** One connection (or one request on a pooled connection) carrying one exchange. */
export interface UpstreamLink {
  /** Starts the exchange. */
  dispatch(exchange: Exchange, request: Request): void;
  /** The client reads slower than the server sends: stop reading (and timing) the server. */
  pause(): void;
  resume(): void;
  /** The client left: the exchange is abandoned. */
  abort(): void;
}

export interface ConnectionCounts {
  /** Carrying an exchange. */
  busy: number;
  idle: number;
  /** The most open at once (busy and idle) since the first. */
  peak: number;
}

export interface Upstream {
  /**
   * A connection to `target`'s server for one exchange: an idle one when
   * there is one, unless `fresh` (after a reused one turned out closed);
   * undefined when the caller must wait().
   */
  connection(target: URL, fresh: boolean): UpstreamLink | undefined;
  /**
   * After connection() gave none (too many connections to that server being
   * opened at once): `retry` is called once one may be had. The function
   * returned cancels the wait.
   */
  wait(target: URL, retry: () => void): () => void;
  /**
   * A connection to `target`'s server was made or given back within the
   * last `ms`: the server takes connections, and a request waiting for one
   * waits on the proxy's own opening of them, not on the server.
   */
  progressed(target: URL, ms: number): boolean;
  /** Connections open per server address (host:port). */
  counts(): Map<string, ConnectionCounts>;
  /** Closes every connection, idle or busy. */
  close(): void;
}

/**
 * How long an idle connection is trusted to carry another request when the
 * server does not say (below Node's default keep-alive of 5 s).
 */
export const IDLE_MS = 4000;
const SERVER_HINT_MARGIN_MS = 1000;

/**
 * What the proxy reads in a response head itself. `Keep-Alive: timeout=N` is
 * how long the server keeps an idle connection: it is given up a second
 * earlier, so a request never races the server's close. A Transfer-Encoding
 * other than `chunked` alone is a coding the proxy does not know. Names are
 * lowercased only when their length is one of these two.
 */
export function readHead(raw: readonly string[]): { idleMs: number; unknownCoding: boolean } {
  let idleMs = IDLE_MS;
  let unknownCoding = false;
  let codings = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 10 && name.toLowerCase() === "keep-alive") {
      const match = /timeout=(\d+)/i.exec(raw[i + 1]!);
      if (match)
        idleMs = Math.max(0, Math.min(IDLE_MS, Number(match[1]) * 1000 - SERVER_HINT_MARGIN_MS));
    } else if (name.length === 17 && name.toLowerCase() === "transfer-encoding") {
      // Chunked once, alone: two lines are "chunked, chunked" (RFC 9112 7).
      if (++codings > 1 || raw[i + 1]!.trim().toLowerCase() !== "chunked") unknownCoding = true;
    }
  }
  return { idleMs, unknownCoding };
}

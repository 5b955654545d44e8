// A request from a client, as the proxy's own HTTP/1.1 server (server.ts)
// hands it over: its head, and its body as a stream when it has one.

import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { Readable } from "node:stream";

/** Header values by lowercase name, duplicates combined as node:http combines them. */
export type Headers = Record<string, string | string[] | undefined>;

/**
 * The body as it arrives. A stream, so a reader that stops reading (a slow
 * server) stops the client's socket too: `_read` is called when it wants
 * more, and the connection resumes reading the socket then.
 */
export class RequestBody extends Readable {
  /** Fields after a chunked body, as received: set before the body ends. */
  trailers: string[] | undefined;

  constructor(private readonly wanted: () => void) {
    super();
  }

  override _read(): void {
    this.wanted();
  }
}

export class ClientRequest {
  /** Every byte of the request, body included, has been read. */
  complete = false;
  /** Present when the head announces a body (Content-Length above 0, or Transfer-Encoding). */
  body: RequestBody | undefined;

  constructor(
    readonly socket: Socket,
    /** The client's address: the socket's peer, or the one a PROXY protocol header named. */
    readonly remoteAddress: string | undefined,
    readonly method: string,
    readonly url: string,
    /** "1.1" or "1.0". */
    readonly httpVersion: string,
    /** As received: [name, value, ...], names in their own case. */
    readonly rawHeaders: string[],
    readonly headers: Headers,
    /** The client may send another request on this connection after this one. */
    readonly keepAlive: boolean,
  ) {}

  /** It came over TLS (the TLS port, HTTP/1.1 or HTTP/2). */
  get secure(): boolean {
    return (this.socket as TLSSocket).encrypted === true;
  }
}

/** Whether a body follows the head (Content-Length above 0, or Transfer-Encoding). */
export function hasBody(headers: Headers): boolean {
  const length = headers["content-length"];
  return headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/**
 * Headers a message carries once: a repeat is dropped, as node:http drops it
 * (Host is not among them: a second Host is refused before this is called).
 */
const SINGLE = new Set([
  "content-type",
  "content-length",
  "user-agent",
  "referer",
  "authorization",
  "proxy-authorization",
  "if-modified-since",
  "if-unmodified-since",
  "from",
  "max-forwards",
]);

/**
 * The lowercase-name view of a raw header list: repeats joined with ", "
 * ("; " for Cookie), Set-Cookie kept as a list, SINGLE ones kept first.
 * Undefined when Host appears twice: which one names the site would be a
 * guess (RFC 9112 3.2 requires a 400).
 */
export function headerObject(raw: readonly string[]): Headers | undefined {
  const headers: Headers = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    // A field named after an Object property: an own property, never the
    // inherited one (`constructor`), nor the prototype (`__proto__`).
    if (name.length === 9 && name === "__proto__") {
      Object.defineProperty(headers, name, { value, enumerable: true, writable: true });
      continue;
    }
    const previous = Object.hasOwn(headers, name) ? headers[name] : undefined;
    if (previous === undefined) headers[name] = name === "set-cookie" ? [value] : value;
    else if (name === "host") return undefined;
    else if (Array.isArray(previous)) previous.push(value);
    else if (name === "cookie") headers[name] = `${previous}; ${value}`;
    else if (!SINGLE.has(name)) headers[name] = `${previous}, ${value}`;
  }
  return headers;
}

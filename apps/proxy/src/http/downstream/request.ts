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
    /** "1.1" or "1.0"; "2.0" for an HTTP/2 stream. */
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

  /** The TLS version it came over ("TLSv1.3"); undefined on the plain port. */
  get tlsVersion(): string | undefined {
    return tlsVersionOf(this.socket);
  }
}

/**
 * Why a request is refused while it is read, in the words both engines
 * give the access log (RejectedRequest's reason).
 */
export const REFUSED = {
  repeatedField: "a field repeated",
  noHost: "no Host",
  invalidHost: "an invalid Host",
  coding: "Transfer-Encoding other than chunked",
  target: "an invalid request target",
  expect: "Expect other than 100-continue",
  headTimeout: "no complete head within the client timeout",
  connect: "CONNECT",
  version: (major: number, minor: number) => `HTTP/${major}.${minor} is not served`,
} as const;

/** A parse error's reason: llhttp's code and own words (node's binding keeps them in `reason`; its message adds "Parse Error"). */
export function parseErrorReason(error: Error): string {
  const { code, reason } = error as Error & { code?: string; reason?: string };
  return `${code ?? "HPE_ERROR"}: ${reason ?? error.message}`;
}

/** The TLS version a socket speaks ("TLSv1.3"), undefined on the plain port. */
export function tlsVersionOf(socket: Socket): string | undefined {
  const tls = socket as TLSSocket;
  return tls.encrypted === true ? (tls.getProtocol() ?? undefined) : undefined;
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

/** An upgrade this proxy carries: a GET asking for WebSocket. */
export function isWebSocket(method: string, upgrade: unknown): boolean {
  return (
    method === "GET" &&
    typeof upgrade === "string" &&
    upgrade.split(",").some((p) => p.trim().toLowerCase() === "websocket")
  );
}

/** A WebSocket offered among other protocols is offered alone: the server is asked only for what is carried. */
export function setUpgrade(raw: string[], headers: Headers): void {
  if (headers.upgrade === "websocket") return;
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i]!.toLowerCase() === "upgrade") raw[i + 1] = "websocket";
  headers.upgrade = "websocket";
}

/** `::ffff:10.1.2.3`, as a dual-stack listener reports an IPv4 peer, in its IPv4 form. */
export function plainAddress(address: string | undefined): string | undefined {
  return address !== undefined && address.startsWith("::ffff:") && address.includes(".")
    ? address.slice(7)
    : address;
}

/** Every Host line says `authority`, in the raw list and the header object alike. */
export function setHost(raw: string[], headers: Headers, authority: string): void {
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === "host") raw[i + 1] = authority;
  if (headers.host === undefined) raw.push("Host", authority);
  headers.host = authority;
}

/**
 * A request's Transfer-Encoding: chunked alone is read; chunked after other
 * codings is a body this proxy cannot undo and must not pass on unlabelled
 * (RFC 9112 6.1: 501); anything not ending in chunked has no reliable
 * length (RFC 9112 6.3: 400).
 */
export function codingRefusal(value: string): 0 | 400 | 501 {
  const codings = value.toLowerCase().split(",");
  if (codings[codings.length - 1]!.trim() !== "chunked") return 400;
  return codings.length === 1 ? 0 : 501;
}

/** A Host value: a registered name or IP literal, and a port (RFC 9110 7.2, RFC 3986 3.2.2). */
export const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]*)(?::[0-9]*)?$/;

/** Longest request line that is told "headers too large" rather than "URI too long". */
const LINE_LIMIT = 8 * 1024;

/** A request line's start: a method, a space, a target. */
const LINE_START = /^[A-Za-z]+ [^ \r\n]/;
/** A method token (RFC 9110 9.1) and the space after it. */
const METHOD_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ /;

/**
 * The status for what llhttp refused. A well-formed method llhttp's table
 * does not hold is one this proxy does not implement: 501 (RFC 9110 15.6.2).
 * A head over the size limit is 431, unless its request line alone is what
 * made it too long: 414 (RFC 9112 3). That is told only when the read shows
 * the head's start (a method, after the end of the message before it, or at
 * the read's start) and its first line runs past LINE_LIMIT; a head that
 * spans reads is told 431. Anything else is 400.
 */
export function errorStatus(error: Error, read: Buffer): number {
  const { code, bytesParsed } = error as NodeJS.ErrnoException & { bytesParsed?: number };
  if (code !== "HPE_INVALID_METHOD" && code !== "HPE_HEADER_OVERFLOW") return 400;
  const end = bytesParsed ?? read.length;
  const before = read.lastIndexOf("\r\n\r\n", end);
  const start = before < 0 ? 0 : before + 4;
  const line = read.toString("latin1", start, start + 64);
  if (code === "HPE_INVALID_METHOD") return METHOD_TOKEN.test(line) ? 501 : 400;
  if (!LINE_START.test(line)) return 431;
  const lineEnd = read.indexOf("\r\n", start);
  return lineEnd < 0 || lineEnd - start > LINE_LIMIT ? 414 : 431;
}

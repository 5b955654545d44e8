// How an upstream failure is classified and answered.

import type { ResponseWriter } from "../http/downstream/response-writer.js";
import {
  type UpstreamError,
  CONNECT_TIMEOUT,
  SERVER_DOWN,
  SERVER_TIMEOUT,
  isLocalShortage,
  UNASKED_UPGRADE,
  UNKNOWN_CODING,
} from "../http/upstream/exchange.js";

/** The connection never reached the server: nothing was sent, so a retry is safe. */
const NOT_CONNECTED = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  CONNECT_TIMEOUT,
]);

export function errorCode(error: unknown): string {
  return (error as { code?: string } | null)?.code ?? "EUNKNOWN";
}

/** True when the server itself is unreachable: passive health takes it down. */
export function isConnectFailure(error: unknown): boolean {
  return NOT_CONNECTED.has(errorCode(error));
}

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/** RFC 9110 9.2.2: the methods a proxy may send again (RFC 9112 9.3.1: never the others). */
export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method);
}

/**
 * A request may go to the next server when the connection to the first never
 * opened, so none of it was sent, whatever its method (HAProxy's `retry-on
 * conn-failure` with `option redispatch`; the caller checks that none of the
 * body was taken), or, for an idempotent method only (RFC 9110 9.2.2, as
 * nginx's `proxy_next_upstream error`), when the connection broke before
 * any byte of an answer came. A request that is not idempotent is never
 * sent to a second server once it may have reached the first.
 */
export function isRetryable(error: UpstreamError, method: string): boolean {
  const code = error.code;
  if (NOT_CONNECTED.has(code)) return true;
  // Cut because its server was marked down (ON_MARKED_DOWN): as a broken connection.
  return (
    isIdempotent(method) &&
    !error.heard &&
    (code === "ECONNRESET" || code === "EPIPE" || code === SERVER_DOWN)
  );
}

/**
 * The status a failure is answered with: 504 when the server was reached but
 * did not answer, 503 when the proxy itself had no room to reach it.
 */
export function failureStatus(code: string): 502 | 503 | 504 {
  if (isLocalShortage(code)) return 503;
  return code === SERVER_TIMEOUT ? 504 : 502;
}

/**
 * What a client is told when its server failed: what happened, in words. The
 * code itself (an llhttp HPE_* code, an errno) goes to the access log only.
 */
export function describeFailure(server: string, code: string): string {
  if (code === SERVER_TIMEOUT) return `Gateway Timeout: ${server} did not answer in time`;
  if (code === CONNECT_TIMEOUT) return `Bad Gateway: ${server} could not be reached in time`;
  if (NOT_CONNECTED.has(code)) return `Bad Gateway: ${server} could not be reached`;
  if (isLocalShortage(code))
    return `Service Unavailable: the proxy is out of connections (file descriptors or ports) to reach ${server}`;
  if (code === SERVER_DOWN)
    return `Bad Gateway: ${server} was marked down while it held the request`;
  if (code === UNASKED_UPGRADE) return `Bad Gateway: ${server} switched protocols unasked`;
  if (code === UNKNOWN_CODING)
    return `Bad Gateway: ${server} answered in a transfer coding the proxy does not know`;
  if (code.startsWith("HPE_")) return `Bad Gateway: ${server} sent an invalid response`;
  return `Bad Gateway: ${server} closed the connection before answering`;
}

/**
 * Writes a short plain-text error, or cuts the connection when the response
 * already started. The connection stays open for the client's next request
 * unless `close` (or the client's own request) says otherwise.
 */
export function sendError(
  res: ResponseWriter,
  status: number,
  message: string,
  /** Headers beside the text's own: the server's (X-Backend), the request id. */
  extra: readonly string[] = [],
  close = false,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (close) res.keepAlive = false;
  sendText(res, status, `${status} ${message}\n`, extra);
}

/** A short plain-text answer the proxy writes itself (errors, the monitor URI): never cached. */
export function sendText(
  res: ResponseWriter,
  status: number,
  text: string,
  extra: readonly string[] = [],
): void {
  const body = Buffer.from(text);
  res.writeHead(status, undefined, [
    "content-type",
    "text/plain; charset=utf-8",
    "cache-control",
    "no-store",
    "content-length",
    String(body.length),
    ...extra,
  ]);
  res.end(body);
}

/**
 * The same short plain-text answer as bytes for a socket no response writer
 * owns (an upgrade refused before it is passed on), closing the connection.
 * `status` is the whole status line's end, e.g. "503 Service Unavailable".
 */
export function rawAnswer(status: string, text: string, extra: readonly string[] = []): string {
  const body = `${status}: ${text}\n`;
  let fields = "";
  for (let i = 0; i < extra.length; i += 2) fields += `${extra[i]}: ${extra[i + 1]}\r\n`;
  return `HTTP/1.1 ${status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${fields}connection: close\r\n\r\n${body}`;
}

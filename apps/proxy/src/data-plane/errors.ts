// How an upstream failure is classified and answered.

import type { ResponseWriter } from "../http/downstream/response-writer.js";
import {
  CONNECT_TIMEOUT,
  SERVER_TIMEOUT,
  UNASKED_UPGRADE,
  UNKNOWN_CODING,
} from "../http/upstream/connection.js";

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

/**
 * A request may go to the next server when nothing of it can have been
 * processed: the connection failed, or (idempotent methods only) a reused
 * keep-alive connection was reset before any response byte.
 */
export function isRetryable(error: unknown, method: string | undefined, hasBody: boolean): boolean {
  const code = errorCode(error);
  const idempotent = method === "GET" || method === "HEAD" || method === "OPTIONS";
  if (NOT_CONNECTED.has(code)) return idempotent || !hasBody;
  return idempotent && (code === "ECONNRESET" || code === "EPIPE");
}

/** The status a failure is answered with: 504 when the server was reached but did not answer. */
export function failureStatus(code: string): 502 | 504 {
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
  backend?: string,
  close = false,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(`${status} ${message}\n`);
  const headers = [
    "content-type",
    "text/plain; charset=utf-8",
    "cache-control",
    "no-store",
    "content-length",
    String(body.length),
  ];
  if (backend) headers.push("x-backend", backend);
  if (close) res.keepAlive = false;
  res.writeHead(status, undefined, headers);
  res.end(body);
}

// How an upstream failure is classified and answered.

import type { ClientResponse } from "./downstream/response.js";

export const CONNECT_TIMEOUT = "STICKYRING_CONNECT_TIMEOUT";
export const SERVER_TIMEOUT = "STICKYRING_SERVER_TIMEOUT";

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

/**
 * Writes a short plain-text error and closes the connection after it, or
 * cuts the connection when the response already started.
 */
export function sendError(
  res: ClientResponse,
  status: number,
  message: string,
  backend?: string,
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
  res.keepAlive = false;
  res.writeHead(status, undefined, headers);
  res.end(body);
}

// How an upstream failure is classified and answered.

import type { ServerResponse } from "node:http";

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

/** Writes a short plain-text error unless the response already started. */
export function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  backend?: string,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = status;
  res.setHeader("content-type", "text/plain; charset=utf-8");
  res.setHeader("cache-control", "no-store");
  res.setHeader("connection", "close");
  if (backend) res.setHeader("x-backend", backend);
  res.end(`${status} ${message}\n`);
}

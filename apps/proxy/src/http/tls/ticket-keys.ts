// Session ticket keys: random, replaced on a timer. In the multi-core mode
// the primary makes them and sends them to every worker, so a ticket one
// worker issued resumes on any other.

import { randomBytes } from "node:crypto";

/** How often the key is replaced (as nginx's and HAProxy's guidance: at least daily). */
export const TICKET_KEY_ROTATION_MS = 12 * 60 * 60 * 1000;

/** A new key, in the 48-byte form node:tls takes (name, HMAC secret, AES key). */
export function newTicketKeys(): Buffer {
  return randomBytes(48);
}

/** Calls `apply` with a new key every `intervalMs`; returns the function that stops it. */
export function rotateTicketKeys(
  apply: (keys: Buffer) => void,
  intervalMs = TICKET_KEY_ROTATION_MS,
): () => void {
  const timer = setInterval(() => apply(newTicketKeys()), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

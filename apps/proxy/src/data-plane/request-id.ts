// A request id for every routed request (REQUEST_ID_HEADER, e.g. X-Request-ID):
// HAProxy's `unique-id-header`, nginx's `$request_id`, Envoy's x-request-id.
// The server gets it in that header, the client gets it back in its answer
// (errors the proxy writes included) and the access log line says it, so
// one request can be followed through every log.

import { randomUUID } from "node:crypto";
import type { Headers } from "../http/downstream/request.js";

/** What an id may look like when a trusted proxy sends one: visible ASCII, at most 200. */
const WELL_FORMED = /^[\x21-\x7e]{1,200}$/;

/**
 * The request's id, set in `headers[name]`: the one a trusted proxy in front
 * sent, when it is well formed (the id started there); else a new UUID. A
 * client's own is replaced, as Envoy does at an edge: an id a client picks
 * could collide with another's, on purpose.
 */
export function assignRequestId(headers: Headers, name: string, fromTrusted: boolean): string {
  const sent = headers[name];
  const id =
    fromTrusted && typeof sent === "string" && WELL_FORMED.test(sent) ? sent : randomUUID();
  headers[name] = id;
  return id;
}

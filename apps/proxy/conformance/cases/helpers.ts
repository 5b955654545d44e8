// Builders for case data: raw request and response bytes, common expectations.

import type { Step } from "../backend.js";
import type { Piece } from "../client.js";
import type { Expect, RequestSpec, ResponseSpec } from "../types.js";

export { chunked } from "../wire.js";

/** The Host every case request names, unless it is about Host. */
export const HOST = "Host: case.test";

/** A message head: the start line and field lines, CRLF-terminated, then the empty line. */
export function head(startLine: string, ...fields: string[]): string {
  return [startLine, ...fields, "", ""].join("\r\n");
}

/** A GET of `target` with Host: case.test and `fields`. */
export function get(target: string, ...fields: string[]): string {
  return head(`GET ${target} HTTP/1.1`, HOST, ...fields);
}

/** A request with a Content-Length body. */
export function post(target: string, body: string, ...fields: string[]): string {
  return head(`POST ${target} HTTP/1.1`, HOST, `Content-Length: ${body.length}`, ...fields) + body;
}

/** A response with a Content-Length body. */
export function response(status: string, body: string, ...fields: string[]): string {
  return (
    head(`HTTP/1.1 ${status}`, `Content-Length: ${Buffer.byteLength(body, "latin1")}`, ...fields) +
    body
  );
}

/** A 200 with a Content-Length body. */
export function ok(body = "ok", ...fields: string[]): string {
  return response("200 OK", body, ...fields);
}

/** The response a case expects for `ok(body)`. */
export function okSpec(body = "ok", more: Partial<ResponseSpec> = {}): ResponseSpec {
  return { status: 200, body, ...more };
}

/** A request that reached the server as `method target`, whole. */
export function reached(
  method: string,
  target: string | string[],
  more: Partial<RequestSpec> = {},
): RequestSpec {
  return { method, target, ...more };
}

/**
 * The targets an absolute-form request may reach the server with: its
 * origin-form, or the absolute-form as sent, which an origin server MUST
 * accept (RFC 9112 3.2.2). Never a normalised path.
 */
export function absolute(uri: string): string[] {
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?]*(.*)$/i.exec(uri);
  if (!m) throw new Error(`not absolute-form: ${uri}`);
  return [m[1]!.startsWith("/") ? m[1]! : `/${m[1]!}`, uri];
}

/** The proxy refuses the request itself with `status`: nothing reaches the server; it may close. */
export function refused(
  status: number | number[],
  connection: Expect["connection"] = "closed",
): Expect {
  return { responses: [{ status }], connection, upstream: [] };
}

/** `text` written in pieces split at `at` (offsets), `gap` ms apart. */
export function split(text: string, at: number[], gap = 15): Piece[] {
  const pieces: Piece[] = [];
  let from = 0;
  for (const offset of [...at].sort((a, b) => a - b)) {
    if (offset <= from || offset >= text.length) continue;
    pieces.push(text.slice(from, offset), { wait: gap });
    from = offset;
  }
  pieces.push(text.slice(from));
  return pieces;
}

/** The same for a server's answer. */
export function splitSteps(text: string, at: number[], gap = 15): Step[] {
  return split(text, at, gap).map((p) =>
    typeof p === "string" ? p : { wait: (p as { wait: number }).wait },
  );
}

// HTTPS_REDIRECT: the plain port sends every client to the https URL of what
// it asked for, with 308 so the method and body are kept (HAProxy's
// `redirect scheme https code 308`).

import type { Socket } from "node:net";
import type { ClientRequest } from "../http/downstream/request.js";
import type { ResponseWriter } from "../http/downstream/response-writer.js";
import { sendError } from "./errors.js";

/** `https://<host>[:tlsPort]<path>`, the Host's own port replaced; undefined without a Host. */
export function httpsLocation(req: ClientRequest, tlsPort: number): string | undefined {
  const host = req.headers.host;
  if (typeof host !== "string" || host === "") return undefined;
  const name = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.split(":")[0]!;
  const path = req.url.startsWith("/") ? req.url : "/";
  return `https://${name}${tlsPort === 443 ? "" : `:${tlsPort}`}${path}`;
}

export function redirectToHttps(req: ClientRequest, res: ResponseWriter, tlsPort: number): void {
  const location = httpsLocation(req, tlsPort);
  if (location === undefined) {
    sendError(res, 400, "Bad Request: a Host header is needed to redirect to https");
    return;
  }
  const body = Buffer.from(`308 Permanent Redirect: ${location}\n`);
  res.writeHead(308, undefined, [
    "location",
    location,
    "content-type",
    "text/plain; charset=utf-8",
    "content-length",
    String(body.length),
  ]);
  res.end(body);
}

/** The same for an Upgrade (ws://) request, written on its socket, which then closes. */
export function redirectUpgradeToHttps(req: ClientRequest, socket: Socket, tlsPort: number): void {
  const location = httpsLocation(req, tlsPort);
  socket.end(
    location === undefined
      ? "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
      : `HTTP/1.1 308 Permanent Redirect\r\nLocation: ${location}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
  );
}

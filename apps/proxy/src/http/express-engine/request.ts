// A node:http request as the data plane reads one (../downstream/request.ts):
// the same ClientRequest the fast engine builds, so routing, forwarded
// headers and the forwarder cannot tell which engine read it.

import type { IncomingMessage } from "node:http";
import {
  ClientRequest,
  RequestBody,
  hasBody,
  headerObject,
  type Headers,
} from "../downstream/request.js";

/**
 * The request, or undefined when its head names the site twice (two Host
 * fields: the fast engine answers those 400 too). `remoteAddress`: the
 * client, as a PROXY protocol header named it, else the socket's peer.
 */
export function clientRequest(
  message: IncomingMessage,
  remoteAddress: string | undefined,
): ClientRequest | undefined {
  // node:http's own header object drops a second Host silently; ours refuses it.
  const headers = headerObject(message.rawHeaders);
  if (headers === undefined) return undefined;
  const req = new ClientRequest(
    message.socket,
    remoteAddress,
    message.method!,
    message.url!,
    message.httpVersion,
    message.rawHeaders,
    headers,
    keepsAlive(message.httpVersion, headers),
  );
  if (hasBody(headers)) req.body = bodyOf(message, req);
  else req.complete = true;
  return req;
}

/** HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes unless told to keep it. */
export function keepsAlive(httpVersion: string, headers: Headers): boolean {
  const connection = String(headers.connection ?? "").toLowerCase();
  return httpVersion === "1.1" ? !connection.includes("close") : connection.includes("keep-alive");
}

/**
 * The message's body as the RequestBody the forwarder reads: a reader that
 * stops reading pauses the message (and so node:http's socket).
 */
function bodyOf(message: IncomingMessage, req: ClientRequest): RequestBody {
  const body = new RequestBody(() => message.resume());
  message.on("data", (chunk: Buffer) => {
    if (!body.push(chunk)) message.pause();
  });
  message.once("end", () => {
    req.complete = true;
    if (message.rawTrailers.length > 0) body.trailers = message.rawTrailers;
    body.push(null);
  });
  // The client left mid-body: the body is cut, never ended (as the fast engine cuts it).
  message.once("close", () => {
    if (!message.complete) body.destroy();
  });
  return body;
}

// A node:http request as the data plane reads one (../downstream/request.ts):
// the same ClientRequest the fast engine builds, so routing, forwarded
// headers and the forwarder cannot tell which engine read it.

import type { IncomingMessage } from "node:http";
import {
  REFUSED,
  ClientRequest,
  HOST,
  RequestBody,
  codingRefusal,
  hasBody,
  headerObject,
  plainAddress,
  setHost,
  type Headers,
} from "../downstream/request.js";
import { readTarget } from "../downstream/target.js";

/**
 * The request, or the status it is refused with: node:http has checked the
 * syntax; the rules the fast engine adds on top are applied here from the
 * same functions (one Host, and a valid one; a coding other than chunked;
 * the target's form), so a request refused by one engine is refused by the
 * other. `remoteAddress`: the client, as a PROXY protocol header named it,
 * else the socket's peer.
 */
export function clientRequest(
  message: IncomingMessage,
  remoteAddress: string | undefined,
): ClientRequest | { refused: number; reason: string } {
  // As the fast engine: HTTP/1.0 and 1.1 only (node:http's parser takes 0.9 and 2.0 too).
  const { httpVersionMajor: major, httpVersionMinor: minor } = message;
  if (major !== 1 || minor > 1)
    return { refused: major === 0 ? 400 : 505, reason: REFUSED.version(major, minor) };
  const raw = message.rawHeaders;
  // node:http's own header object drops a second Host silently; ours refuses it.
  const headers = headerObject(raw);
  if (headers === undefined) return { refused: 400, reason: REFUSED.repeatedField };
  // Exactly one Host in HTTP/1.1 (RFC 9112 3.2): node:http's own check is off, as it answers silently.
  if (minor === 1 && headers.host === undefined) return { refused: 400, reason: REFUSED.noHost };
  if (headers.host !== undefined && !HOST.test(headers.host as string))
    return { refused: 400, reason: REFUSED.invalidHost };
  const coding = headers["transfer-encoding"];
  if (coding !== undefined) {
    const refused = codingRefusal(coding as string);
    if (refused !== 0) return { refused, reason: REFUSED.coding };
  }
  const method = message.method!;
  const target = readTarget(method, message.url!);
  if ("refused" in target) return { ...target, reason: REFUSED.target };
  // Absolute form: the target's authority replaces Host (RFC 9112 3.2.2).
  if (target.authority !== undefined) setHost(raw, headers, target.authority);
  const req = new ClientRequest(
    message.socket,
    plainAddress(remoteAddress),
    method,
    target.path,
    message.httpVersion,
    raw,
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
 * stops reading pauses the message (and so node:http's socket). node:http
 * emits a piece per chunk of a chunked body, each from a callback of its
 * own out of the parser (microtasks run between them): the pieces of one
 * turn of the event loop are handed on in one push, so many tiny chunks are
 * one write to the server, as in the fast engine.
 */
function bodyOf(message: IncomingMessage, req: ClientRequest): RequestBody {
  const body = new RequestBody(() => message.resume());
  let pieces: Buffer[] = [];
  const flush = () => {
    const read = pieces;
    if (read.length === 0) return;
    pieces = [];
    if (body.destroyed) return;
    if (!body.push(read.length === 1 ? read[0]! : Buffer.concat(read))) message.pause();
  };
  message.on("data", (chunk: Buffer) => {
    if (pieces.push(chunk) === 1) setImmediate(flush);
  });
  message.once("end", () => {
    flush();
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

// HTTP/2 for clients that chose it by ALPN: node:http2 (Node's nghttp2)
// reads the frames; each stream becomes a request like the HTTP/1.1 reader's
// (request.ts) and an answer with the same interface (h2-response.ts), so
// the data plane routes and forwards it on the one path, over HTTP/1.1 to
// the server. Every stream of a connection carries the connection's client
// address, so they all go where that client goes.
//
// Abuse is nghttp2's to stop, with limits set here: concurrent streams per
// connection (SETTINGS_MAX_CONCURRENT_STREAMS; streams beyond it refused,
// and a connection that keeps opening them closed), streams reset faster
// than RESET_RATE a second after a burst of RESET_BURST (CVE-2023-44487,
// "rapid reset": GOAWAY), CONTINUATION frames beyond nghttp2's limit of 8
// per header block (the 2024 CONTINUATION flood: GOAWAY), header lists
// over ADVERTISED_HEADER_LIST (the stream is reset; over MAX_HEADER_LIST,
// readRequest answers 431), and the message rules of RFC
// 9113 8.2 and 8.3 (connection-specific fields, pseudo-headers: the
// stream is reset as malformed before it reaches this code).

import {
  createServer,
  type IncomingHttpHeaders,
  type Http2Session,
  type ServerHttp2Stream,
} from "node:http2";
import type { Socket } from "node:net";
import { CONNECTION_SPECIFIC, H2Response } from "./h2-response.js";
import { H2Tunnel, upgradeFields } from "./h2-tunnel.js";
import type { OwnFields } from "./response-writer.js";
import { ClientRequest, REFUSED, RequestBody, headerObject, tlsVersionOf } from "./request.js";
import type { ServerHandlers } from "./connection.js";

export interface H2Options {
  /** Streams open at once on one connection. */
  maxStreams: number;
  /** A connection with no stream open and silent this long is closed (GOAWAY). */
  idleMs: number;
  /** Fields added to every final answer (Strict-Transport-Security). */
  own: OwnFields;
}

export interface H2Server {
  /** Serves a connection whose ALPN said h2; `remoteAddress` is the client's. */
  accept(socket: Socket, remoteAddress: string | undefined): void;
  /** Tells every connection to stop (GOAWAY); resolves when they are closed or after `timeoutMs`. */
  close(timeoutMs: number): Promise<void>;
}

/** The largest header list a request may carry, as the HTTP/1.1 reader's head limit. */
const MAX_HEADER_LIST = 16 * 1024;
/** What nghttp2 takes before it resets a stream itself (see the settings). */
const ADVERTISED_HEADER_LIST = 64 * 1024;
/** Rapid reset: resets allowed at once, then per second (Node's defaults are 1000 and 33). */
const RESET_BURST = 200;
const RESET_RATE = 33;

const ignore = () => {};
/** How long a session closed for idleness waits for the client's end before its socket is destroyed. */
const CLOSE_GRACE_MS = 1000;
const EMPTY = Buffer.alloc(0);

/** What a connection's streams share. */
interface SessionState {
  socket: Socket;
  client: string | undefined;
  /** Streams open now. */
  open: number;
}

export function createH2Server(handlers: ServerHandlers, options: H2Options): H2Server {
  const server = createServer({
    settings: {
      maxConcurrentStreams: options.maxStreams,
      // Advertised above the limit: once a client has acknowledged it,
      // nghttp2 resets a stream over it (ENHANCE_YOUR_CALM) with no status.
      // Up to this, the stream reaches readRequest, which answers 431 past
      // MAX_HEADER_LIST on every connection alike.
      maxHeaderListSize: ADVERTISED_HEADER_LIST,
      enablePush: false,
      // RFC 8441: WebSocket over HTTP/2 (extended CONNECT), as HAProxy offers it.
      enableConnectProtocol: true,
    },
    maxHeaderListPairs: 256,
    streamResetBurst: RESET_BURST,
    streamResetRate: RESET_RATE,
    // A server's repeated fields (two Content-Type, two ETag trailers) are
    // relayed as they came, as the HTTP/1.1 side and HAProxy relay them:
    // node refuses to send them otherwise (an answer lost, or in trailers an
    // exception no caller can catch).
    strictSingleValueFields: false,
  });
  const sessions = new Map<Http2Session, SessionState>();
  let accepting: SessionState | undefined;

  server.on("session", (session: Http2Session) => {
    const state = accepting!;
    sessions.set(session, state);
    session.once("close", () => sessions.delete(session));
    session.on("error", () => {}); // 'close' follows
    session.setTimeout(options.idleMs, () => {
      // A stream waiting on its server is the server timeout's to judge.
      if (state.open > 0) return;
      // GOAWAY, then the end of the socket. node:http2 then waits for the
      // client's end, even once the session is destroyed: one that never sends
      // it held the connection, and its place under CLIENT_MAXCONN and
      // CLIENT_ADDRESS_MAXCONN, for good (found by an outside probe). Its end
      // has a moment to come, as it does from any client.
      session.close();
      setTimeout(() => state.socket.destroy(), CLOSE_GRACE_MS).unref();
    });
  });
  server.on(
    "stream",
    (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, raw: string[]) => {
      stream.on("error", ignore); // 'close' follows
      const state = stream.session && sessions.get(stream.session);
      if (state === undefined) return;
      state.open++;
      const response = new H2Response(
        stream,
        headers[":method"] === "HEAD",
        options.own,
        options.idleMs,
      );
      // One listener for the stream's end, whatever ended it: a client that reset it is lost.
      stream.on("close", () => {
        state.open--;
        response.lost();
      });
      // RFC 8441's extended CONNECT: the stream carries a WebSocket.
      const websocket = headers[":method"] === "CONNECT" && headers[":protocol"] !== undefined;
      const request = readRequest(stream, headers, raw, state, websocket);
      if (websocket && request instanceof ClientRequest) {
        // The stream is the tunnel's, as a socket is an HTTP/1.1 upgrade's.
        const tunnel = new H2Tunnel(stream, state.client, state.socket);
        handlers.upgrade(request, tunnel as unknown as Socket, EMPTY);
        return;
      }
      if (!(request instanceof ClientRequest)) {
        const [status, reason] = request;
        stream.respond({ ":status": status, "content-length": 0 }, { endStream: true });
        handlers.rejected({
          client: state.client,
          status,
          reason,
          proto: "HTTP/2.0",
          tls: tlsVersionOf(state.socket),
        });
        return;
      }
      handlers.request(request, response);
    },
  );

  return {
    accept(socket, remoteAddress) {
      accepting = { socket, client: remoteAddress, open: 0 };
      server.emit("connection", socket);
      accepting = undefined;
    },
    close(timeoutMs) {
      return new Promise((resolve) => {
        // The sockets, not the sessions: a destroyed session's socket still waits for the client's end.
        const force = setTimeout(() => {
          for (const { socket } of sessions.values()) socket.destroy();
        }, timeoutMs);
        force.unref();
        const check = () => {
          if (sessions.size > 0) return;
          clearTimeout(force);
          resolve();
        };
        for (const session of sessions.keys()) {
          session.once("close", check);
          session.close();
        }
        check();
      });
    },
  };
}

/** A status to refuse a stream with, and why. */
type Refusal = readonly [status: number, reason: string];

/**
 * A stream's head as the request the data plane routes, or the status to
 * refuse it with. :authority becomes Host (RFC 9113 8.3.1), a Host beside
 * it is dropped; the Cookie fields HTTP/2 splits are joined (headerObject).
 */
function readRequest(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  raw: string[],
  state: SessionState,
  /** An extended CONNECT for a WebSocket (RFC 8441): its stream is the tunnel, no body. */
  websocket: boolean,
): ClientRequest | Refusal {
  let method = headers[":method"]!;
  const path = headers[":path"];
  if (websocket) {
    // Forwarded as HTTP/1.1's GET upgrade is; another protocol is not carried.
    const protocol = String(headers[":protocol"]);
    if (protocol.toLowerCase() !== "websocket") return [501, `CONNECT for ${protocol}`];
    method = "GET";
  }
  // A tunnel to an address of the client's choosing: not what this proxy is for.
  else if (method === "CONNECT") return [501, REFUSED.connect];
  if (path === undefined || !(path.startsWith("/") || (path === "*" && method === "OPTIONS")))
    return [400, "an invalid :path"];
  const host = headers[":authority"] ?? headers.host;
  if (typeof host !== "string") return [400, "no :authority or Host"];
  // Counted as RFC 9113 6.5.2 counts it.
  let size = 0;
  for (let i = 0; i < raw.length; i += 2) size += raw[i]!.length + raw[i + 1]!.length + 32;
  if (size > MAX_HEADER_LIST) return [431, `a header list of ${size} bytes`];
  const list = ["host", host];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Connection-specific fields nghttp2 already refuses: never passed on all the same.
    if (name.startsWith(":") || name === "host" || CONNECTION_SPECIFIC.has(name)) continue;
    // A key is the proxy's to make for the server (upgradeFields).
    if (websocket && name === "sec-websocket-key") continue;
    list.push(name, raw[i + 1]!);
  }
  if (websocket) list.push(...upgradeFields());
  const request = new ClientRequest(
    state.socket,
    state.client,
    method,
    path,
    "2.0",
    list,
    headerObject(list)!,
    true,
  );
  if (stream.endAfterHeaders || websocket) {
    request.complete = true;
    return request;
  }
  const body = new RequestBody(() => stream.resume());
  request.body = body;
  stream.on("data", (chunk: Buffer) => {
    if (!body.push(chunk)) stream.pause();
  });
  stream.on("trailers", (trailers: IncomingHttpHeaders) => {
    const fields: string[] = [];
    for (const [name, value] of Object.entries(trailers))
      if (!name.startsWith(":") && value !== undefined)
        for (const each of Array.isArray(value) ? value : [value]) fields.push(name, each);
    body.trailers = fields;
  });
  stream.on("end", () => {
    // A stream the client reset ends its reading side too: only END_STREAM
    // completes the request. A body cut short is never passed on as whole.
    if (stream.aborted) return body.destroy();
    request.complete = true;
    body.push(null);
  });
  stream.once("close", () => {
    if (!request.complete) body.destroy();
  });
  return request;
}

// The express engine's server on the proxy port: node:http's HTTP/1.1 server
// with an Express app as its request handler, in front of the same data-plane
// handlers as the fast engine (../downstream/server.ts). Only reading and
// writing differ: requests are adapted to ClientRequest (request.ts) and
// answers written through ResponseWriter (response.ts).
//
// The listening sockets are plain net servers (ACCEPT_SOCKETS of them, as the
// fast engine has), which hand each connection to the one node:http server:
// that is also where a PROXY protocol header is read first (proxy-preamble.ts).

import { createRequire } from "node:module";
import {
  STATUS_CODES,
  Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { Server, type Socket } from "node:net";
import type { ServerHandlers } from "../downstream/connection.js";
import {
  REFUSED,
  parseErrorReason,
  tlsVersionOf,
  type ClientRequest,
} from "../downstream/request.js";
import type { HttpServerOptions } from "../downstream/server.js";
import { FRESH_CLOSE_MS, closeListeners, listenOnAll } from "../listeners.js";
import { readPreamble } from "./proxy-preamble.js";
import { errorStatus, hasBody, isWebSocket, setUpgrade } from "../downstream/request.js";
import { clientRequest } from "./request.js";
import { NodeResponse } from "./response.js";

/** What the data plane needs of a server on the proxy port. */
export interface PortServer {
  /** The first of the listening sockets. */
  readonly server: Server;
  listen(port: number, host: string | undefined): Promise<number>;
  close(timeoutMs: number): Promise<void>;
}

/**
 * Express is loaded only by this engine: a proxy on the fast engine does not
 * hold it (websocket.ts loads http-proxy-middleware late for the same reason).
 */
const load = createRequire(import.meta.url);

/** A short answer, and the connection closes: what the fast engine says to a head it refuses. */
function refuse(socket: Socket, status: number): void {
  if (!socket.writable) return void socket.destroy();
  const text = `${status} ${STATUS_CODES[status]}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\nConnection: close\r\n\r\n${text}`,
    "latin1",
  );
}

export function createExpressServer(
  handlers: ServerHandlers,
  options: HttpServerOptions,
): PortServer {
  const express = load("express") as typeof import("express");
  /** The client's address per connection: the PROXY header's, when there is one. */
  const clients = new WeakMap<Socket, string | undefined>();
  /** Requests whose body is all in and whose answer is not: the server's time, not the client's. */
  const awaitingServer = new WeakSet<Socket>();
  let closing = false;
  const clientOf = (socket: Socket) =>
    clients.has(socket) ? clients.get(socket) : socket.remoteAddress;
  /** Connections answered with a refusal: node:http reports each read after it again. */
  const rejectedOn = new WeakSet<Socket>();
  /** Answers a request refused while read, and tells the handlers (the fast engine's RejectedRequest). */
  const reject = (socket: Socket, status: number, reason: string, version?: string) => {
    if (rejectedOn.has(socket)) return;
    rejectedOn.add(socket);
    handlers.rejected({
      client: clientOf(socket),
      status,
      reason,
      proto: version === undefined ? undefined : `HTTP/${version}`,
      tls: tlsVersionOf(socket),
    });
    refuse(socket, status);
  };
  /** The same once the answers to the requests read before it on the connection are out. */
  const rejectInTurn = (socket: Socket, status: number, reason: string, version?: string) => {
    const queue = queued.get(socket);
    if (queue !== undefined) queue.push(() => reject(socket, status, reason, version));
    else reject(socket, status, reason, version);
  };

  /** Requests read and checked, by the message Express hands on. */
  const checked = new WeakMap<IncomingMessage, ClientRequest>();
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  /**
   * Pipelined requests wait for the answer before theirs, as in the fast
   * engine: node:http hands them over at once, and each would go to its
   * server beside the one before it (a GET overtaking a POST).
   */
  const queued = new WeakMap<Socket, (() => void)[]>();
  /**
   * Serves the connection's next queued request. A loop, not a recursion:
   * an answer the proxy writes at once (a 429, the monitor URI) ends inside
   * the call that served it and asks for the next one there; a thousand
   * such requests pipelined would otherwise overflow the stack.
   */
  const serving = new WeakSet<Socket>();
  const again = new WeakSet<Socket>();
  const next = (socket: Socket) => {
    if (serving.has(socket)) return void again.add(socket);
    serving.add(socket);
    try {
      do {
        again.delete(socket);
        const following = socket.destroyed ? undefined : queued.get(socket)?.shift();
        if (following === undefined) {
          queued.delete(socket);
          break;
        }
        following();
      } while (again.has(socket));
    } finally {
      serving.delete(socket);
    }
  };
  /** The answer each connection is giving now. */
  const answering = new WeakMap<Socket, NodeResponse>();
  /** Bytes read from each connection when its last answer ended: more since, a head has begun. */
  const readWhenIdle = new WeakMap<Socket, number>();
  const serve = (message: IncomingMessage, res: ServerResponse) => {
    const req = checked.get(message)!;
    const { socket } = message;
    const continued = req.httpVersion === "1.1" && req.headers.expect !== undefined;
    const response = new NodeResponse(
      res,
      req.keepAlive && !closing,
      req.httpVersion === "1.0",
      continued,
    );
    answering.set(socket, response);
    const waiting = () => awaitingServer.add(socket);
    if (req.complete) waiting();
    else message.once("end", waiting);
    response.onClose(() => {
      if (answering.get(socket) === response) answering.delete(socket);
      readWhenIdle.set(socket, socket.bytesRead);
      awaitingServer.delete(socket);
      // The answer ended before the request's body did (an error, an early
      // answer): the rest is read and dropped, as the fast engine drops it,
      // so the connection's next request is read. Left paused by the body's
      // reader, node:http would never get to it (it drops only an unread body).
      if (!message.complete && !socket.destroyed) {
        message.removeAllListeners("data");
        message.resume();
      }
      next(socket);
    });
    handlers.request(req, response);
  };
  app.use((message: IncomingMessage, res: ServerResponse) => {
    const queue = queued.get(message.socket);
    if (queue) queue.push(() => serve(message, res));
    else {
      queued.set(message.socket, []);
      serve(message, res);
    }
  });
  // Checked before Express sees it: Express's router answers a target it
  // cannot parse with a 404 of its own, where the fast engine says 400.
  /** The last request read on each connection. */
  const lastRead = new WeakMap<Socket, IncomingMessage>();
  const onRequest = (message: IncomingMessage, res: ServerResponse) => {
    lastRead.set(message.socket, message);
    const req = clientRequest(message, clientOf(message.socket));
    if ("refused" in req)
      return rejectInTurn(message.socket, req.refused, req.reason, message.httpVersion);
    checked.set(message, req);
    app(message, res);
  };

  /** How often node:http checks the head timeout: as often as the fast engine. */
  const checkEvery = Math.min(Math.max(options.headersMs / 4, 100), 1000);
  const http = new HttpServer(
    {
      // As the fast engine: headers within `headersMs`, an idle kept-alive
      // connection closed after `keepAliveMs`; a slow body is the data
      // plane's to judge (CLIENT_MIN_BODY_RATE), so no whole-request limit.
      headersTimeout: options.headersMs,
      connectionsCheckingInterval: checkEvery,
      // An idle kept-alive connection also closes at the client timeout when that is shorter.
      keepAliveTimeout: Math.min(options.keepAliveMs, options.clientMs),
      // Exactly then, as the fast engine and HAProxy's `timeout http-keep-alive`:
      // Node 24 otherwise waits a second longer.
      keepAliveTimeoutBuffer: 0,
      requestTimeout: 0,
      // A request without Host is refused by clientRequest, and logged: node:http's own answer is silent.
      requireHostHeader: false,
      noDelay: true,
      // Only WebSocket is carried to a server, asked for by a GET with no
      // body; another protocol offered (h2c) is declined by going on in
      // HTTP/1.1, as in the fast engine.
      shouldUpgradeCallback: (message: IncomingMessage) =>
        isWebSocket(message.method!, message.headers.upgrade) && !hasBody(message.headers),
    },
    onRequest,
  );
  // A client that shuts its sending side still gets its answers: node:http
  // otherwise drops the requests in flight when the client's side ends. The
  // switch is a property node:http's server has (since Node 0.x) but does not
  // document: without it only half-closing clients lose their answers.
  (http as HttpServer & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  // Expect other than 100-continue: 417, and the connection closes (RFC 9110 10.1.1).
  http.on("checkExpectation", (message: IncomingMessage) =>
    rejectInTurn(message.socket, 417, REFUSED.expect, message.httpVersion),
  );
  // A tunnel to an address of the client's choosing: not what this proxy is for.
  http.on("connect", (message: IncomingMessage, socket: Socket) =>
    rejectInTurn(socket, 501, REFUSED.connect, message.httpVersion),
  );
  // Bytes node:http's parser refuses: the status the fast engine gives them
  // (414 for a long request line); a head not complete in time: 408.
  // Requests read whole before the bad bytes are answered first, as the
  // fast engine and HAProxy answer them: the refusal waits its turn in the
  // queue. Bad bytes inside a request's body end the connection at once.
  http.on(
    "clientError",
    (error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
      // Bytes after a request that closes the connection are dropped, not
      // refused, as the fast engine and HAProxy drop them: node:http closes
      // the connection after that request's answer.
      if (error.code === "HPE_CLOSED_CONNECTION") return;
      const status =
        error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? 408
          : errorStatus(error, error.rawPacket ?? Buffer.alloc(0));
      const reason = status === 408 ? REFUSED.headTimeout : parseErrorReason(error);
      const queue = queued.get(socket);
      if (queue !== undefined && lastRead.get(socket)?.complete === true)
        queue.push(() => reject(socket, status, reason));
      else reject(socket, status, reason);
    },
  );
  http.timeout = options.clientMs;
  // Silent both ways for the client timeout: closed, unless the request is
  // waiting on its server, whose own timeout applies then (as in HAProxy).
  // A client that stopped reading the answer is not waiting on its server:
  // it would hold the server's slot (MAXCONN) for ever.
  http.on("timeout", (socket: Socket) => {
    if (awaitingServer.has(socket) && !socket.writableNeedDrain) return;
    // Nothing in flight and a head under way, or a new connection that has
    // sent nothing yet: node:http's head check answers those 408, as the
    // fast engine and HAProxy do, but only every `checkEvery`, and the head
    // timeout is never longer than this one: the check gets that long to
    // answer before the connection closes without a word. A kept-alive
    // connection idle since its last answer closes now.
    const idle = readWhenIdle.get(socket) === socket.bytesRead;
    if (!queued.has(socket) && !idle) setTimeout(() => socket.destroy(), checkEvery + 50).unref();
    else socket.destroy();
  });
  // node:http checks head timeouts (slowloris) once it listens; its
  // connections come from the listeners below, so it is told it listens
  // (the event starts the checks; close() below stops them).
  http.emit("listening");
  http.on("upgrade", (message: IncomingMessage, socket: Socket, head: Buffer) => {
    const req = clientRequest(message, clientOf(socket));
    if ("refused" in req) {
      rejectInTurn(socket, req.refused, req.reason, message.httpVersion);
      return;
    }
    setUpgrade(req.rawHeaders, req.headers);
    handlers.upgrade(req, socket, head);
  });

  const sockets = new Set<Socket>();
  const hand = (socket: Socket, remoteAddress: string | undefined, rest: Buffer) => {
    if (!options.gate.claim(socket, remoteAddress ?? socket.remoteAddress)) return;
    clients.set(socket, remoteAddress);
    http.emit("connection", socket);
    // Bytes read with the PROXY header: the first of the HTTP stream.
    if (rest.length > 0) socket.emit("data", rest);
  };
  const accept = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // ABORT_ON_CLOSE: a half-close drops the request still waiting for a
    // server (HAProxy's abortonclose), as in the fast engine.
    if (options.abortOnClose)
      socket.once("end", () => {
        if (answering.get(socket)?.queued === true) socket.destroy();
      });
    if (!options.acceptProxy) {
      http.emit("connection", socket);
      return;
    }
    socket.setTimeout(options.clientMs);
    readPreamble(socket, options.headersMs, (address, rest) => hand(socket, address, rest));
  };
  // Half-open: a client that shuts its sending side still gets its answers.
  const listener = () =>
    new Server({ noDelay: true, allowHalfOpen: true }, (socket: Socket) =>
      options.gate.admit(socket, () => accept(socket)),
    );
  const servers = [listener()];

  return {
    server: servers[0]!,
    listen: (port, host) => listenOnAll(servers, listener, port, host),
    close(timeoutMs) {
      closing = true;
      const closed = closeListeners(servers, sockets, timeoutMs);
      // Never listening itself, it calls back with ERR_SERVER_NOT_RUNNING; its checks stop.
      http.close(() => undefined);
      // node:http counts a connection whose request it has not read yet as
      // idle, and closing it at once reset that client (one signalled with
      // WORKERS=2 in the tests): all idle ones go a second later. A request
      // that comes meanwhile is answered with `Connection: close`.
      setTimeout(() => http.closeIdleConnections(), FRESH_CLOSE_MS).unref();
      return closed;
    },
  };
}

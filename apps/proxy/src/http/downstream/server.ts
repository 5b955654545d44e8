// The proxy port's HTTP/1.1 server: a net server whose connections
// (connection.ts) parse with llhttp and write answers themselves. node:http's
// server did this before; per request it built two streams, a header object
// it then validated again on the way out, and timers: about a quarter of the
// proxy's CPU per request (README, Measured).
//
// Timeouts, as node:http had them: a head must arrive within `headersMs` of
// its first byte (slowloris), an idle kept-alive connection closes after
// `keepAliveMs`, and a connection silent both ways for `clientMs` is closed.
// One interval checks the first two for every connection, rather than a
// timer per request.

import { Server, type Socket } from "node:net";
import { FRESH_CLOSE_MS, closeListeners, listenOnAll } from "../listeners.js";
import {
  ClientConnection,
  type ConnectionHost,
  type SecuredConnection,
  type ServerHandlers,
} from "./connection.js";
import type { ClientGate } from "./client-gate.js";

export interface HttpServerOptions {
  headersMs: number;
  keepAliveMs: number;
  clientMs: number;
  /** Connections start with a PROXY protocol header naming the client (proxy-protocol.ts). */
  acceptProxy: boolean;
  /** A client's half-close drops its request still waiting for a server (ABORT_ON_CLOSE). */
  abortOnClose: boolean;
  /** The client connection limit, shared with the TLS port. */
  gate: ClientGate;
}

export interface HttpServer {
  /** The first of the listening sockets. */
  readonly server: Server;
  /**
   * Listens on `port` (0: any) with ACCEPT_SOCKETS sockets; resolves with the
   * port.
   */
  listen(port: number, host: string | undefined): Promise<number>;
  /** Serves a connection the TLS port has made secure (tls-server.ts), as one of this server's. */
  adopt(socket: Socket, secured: SecuredConnection): void;
  /** Stops accepting, closes idle connections, lets the others finish their answer; cuts them after `timeoutMs`. */
  close(timeoutMs: number): Promise<void>;
}

export function createHttpServer(handlers: ServerHandlers, options: HttpServerOptions): HttpServer {
  const connections = new Set<ClientConnection>();
  const host: ConnectionHost & { closing: boolean } = {
    handlers,
    closing: false,
    acceptProxy: options.acceptProxy,
    abortOnClose: options.abortOnClose,
    claim: (socket, address) => options.gate.claim(socket, address),
    forget: (connection) => connections.delete(connection),
  };
  // Every socket, upgraded ones too (they leave `connections`): closing cuts them all in the end.
  const sockets = new Set<Socket>();
  const accept = (socket: Socket, secured?: SecuredConnection) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.setTimeout(options.clientMs);
    connections.add(new ClientConnection(socket, host, secured));
  };
  // Half-open: a client that shuts its sending side still gets its answers.
  const listener = () =>
    new Server({ noDelay: true, allowHalfOpen: true }, (socket: Socket) =>
      options.gate.admit(socket, () => accept(socket)),
    );
  const servers = [listener()];
  const server = servers[0]!;

  const check = () => {
    const now = performance.now();
    for (const connection of connections) {
      if (connection.headSince !== 0 && now - connection.headSince > options.headersMs)
        connection.headTimedOut();
      else if (connection.idleSince !== 0 && now - connection.idleSince > options.keepAliveMs)
        connection.socket.destroy();
    }
  };
  const interval = Math.min(Math.max(options.headersMs / 4, 100), 1000);
  const checker = setInterval(check, interval);
  checker.unref();

  return {
    server,
    listen: (port, hostName) => listenOnAll(servers, listener, port, hostName),
    adopt: accept,
    close(timeoutMs) {
      host.closing = true;
      clearInterval(checker);
      const closed = closeListeners(servers, sockets, timeoutMs);
      // Kept-alive ones at once (a client retries a request on a reused
      // connection that closes); those that have sent nothing yet a little later.
      for (const connection of connections)
        if (connection.idle && connection.socket.bytesRead > 0) connection.socket.destroy();
      setTimeout(() => {
        for (const connection of connections) if (connection.idle) connection.socket.destroy();
      }, FRESH_CLOSE_MS).unref();
      return closed;
    },
  };
}

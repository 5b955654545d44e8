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

import { Server, type AddressInfo, type Socket } from "node:net";
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

/**
 * Listening sockets on the proxy port, all with SO_REUSEPORT. Node 24's
 * event loop accepts one connection per listening socket per turn; under
 * load a turn takes tens of milliseconds, so with one socket 1,000 clients
 * connecting at once waited seconds in the kernel's queue (their requests
 * timed out in wrk while those accepted were served). With several, the
 * kernel spreads new connections over them and each turn accepts that many.
 * wrk opening 1,000 connections at once on a loaded machine (2026-11-29,
 * two alternated rounds, requests past 2 s): 16 sockets 348 and 3, 64
 * sockets 40, 0, 49 and 0, 128 sockets 0 and 0 (HAProxy 0). A listening
 * socket costs a descriptor and nothing while idle.
 */
export const ACCEPT_SOCKETS = 128;

/**
 * Connections the kernel holds per listening socket before they are
 * accepted. Node's default, 511, overflowed when 1,000 clients connected at
 * once (their handshakes' last packets were dropped and retried a second
 * later). HAProxy sizes it from maxconn; net.core.somaxconn caps it.
 */
const BACKLOG = 4096;

function listenOn(
  server: Server,
  port: number,
  host: string | undefined,
  reusePort: boolean,
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    // exclusive: a WORKERS process binds its own sockets rather than share
    // the primary's, so every worker's sockets join one SO_REUSEPORT group.
    server.listen({ port, host, backlog: BACKLOG, reusePort, exclusive: true }, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * The port the WORKERS processes should share: `port`, or for 0 one the
 * kernel picks now. Like HAProxy's and nginx's reuseport listeners, a
 * process that listens on a port stickyring listens on joins it (that lets
 * a new process take over before the old one stops); anything else there
 * makes listen fail with EADDRINUSE.
 */
export async function claimPort(port: number, host: string | undefined): Promise<number> {
  if (port !== 0) return port;
  const probe = new Server();
  const bound = await listenOn(probe, 0, host, false);
  await new Promise((resolve) => probe.close(resolve));
  return bound;
}

export function createHttpServer(handlers: ServerHandlers, options: HttpServerOptions): HttpServer {
  const connections = new Set<ClientConnection>();
  const host: ConnectionHost & { closing: boolean } = {
    handlers,
    closing: false,
    acceptProxy: options.acceptProxy,
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
    async listen(port, hostName) {
      const bound = await listenOn(server, port, hostName, true);
      while (servers.length < ACCEPT_SOCKETS) {
        const more = listener();
        servers.push(more);
        await listenOn(more, bound, hostName, true);
      }
      return bound;
    },
    adopt: accept,
    close(timeoutMs) {
      host.closing = true;
      clearInterval(checker);
      return new Promise((resolve) => {
        const force = setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, timeoutMs);
        force.unref();
        let open = servers.length;
        for (const each of servers)
          each.close(() => {
            if (--open > 0) return;
            clearTimeout(force);
            resolve();
          });
        for (const connection of connections) if (connection.idle) connection.socket.destroy();
      });
    },
  };
}

// The proxy port's listening sockets, whichever engine serves them: several
// per process, all with SO_REUSEPORT, so WORKERS processes join one group.

import { Server, type AddressInfo, type Socket } from "node:net";

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

/**
 * Listens on `port` (0: any) with `servers[0]`, then with more made by
 * `make` until there are ACCEPT_SOCKETS, on the port the first was given;
 * resolves with the port.
 */
export async function listenOnAll(
  servers: Server[],
  make: () => Server,
  port: number,
  host: string | undefined,
): Promise<number> {
  const bound = await listenOn(servers[0]!, port, host, true);
  while (servers.length < ACCEPT_SOCKETS) {
    const more = make();
    servers.push(more);
    await listenOn(more, bound, host, true);
  }
  return bound;
}

/**
 * When the proxy stops, a connection that has sent nothing yet is closed
 * this long after the listeners are, not at once: one accepted an instant
 * before may carry a request already on its way, and closing it reset that
 * client (a new connection is not retried by clients as a reused one is).
 * A request that comes meanwhile is answered with `Connection: close`.
 */
export const FRESH_CLOSE_MS = 1000;

/**
 * Closes the listening sockets; resolves once they are closed, and cuts
 * every socket still open after `timeoutMs` (the rest drain meanwhile).
 */
export function closeListeners(
  servers: readonly Server[],
  sockets: ReadonlySet<Socket>,
  timeoutMs: number,
): Promise<void> {
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
  });
}

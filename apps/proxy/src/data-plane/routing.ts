// Route a request: client address -> key -> placement -> server.

import { sourceKey } from "@stickyring/hashing";
import type { AddressMatcher } from "./cidr.js";
import { forwardedClient } from "./client-address.js";
import { persistenceCookie, takeCookie } from "./cookie.js";
import type { ClientRequest } from "../http/downstream/request.js";
import type { KeyPolicy } from "./key-policy.js";
import type { Placement } from "./placement.js";
import type { Waiter } from "./server-slots.js";

export interface Route {
  /** Canonical client address. */
  readonly client: string;
  /** The peer is a trusted proxy: its forwarding headers are believed and passed on. */
  readonly peerTrusted: boolean;
  /** The hash key. */
  readonly key: string;
  /** The chosen server, and where it listens. */
  server: string;
  target: URL;
  /** Servers already tried, for the retry. */
  readonly tried: string[];
  readonly startedAt: number;
  error?: string;
  /** The server whose slot (server-slots.ts) the request holds, once it holds one. */
  slot?: string;
  /** While it waits in `server`'s queue: what it waits as. */
  waiting?: Waiter;
  /** The exchange with the server, once one started (forwarder.ts). */
  exchange?: {
    /** The client left: true when `settled` will be called once the server is done with it. */
    abandon(settled: () => void): boolean;
  };
  /** With REQUEST_ID_HEADER: the request's id (request-id.ts). */
  requestId?: string;
  /** A WebSocket upgrade's answer: 101 once the tunnel is open, else the status the client got. */
  upgradeStatus?: number;
  /** With cookie persistence: the Set-Cookie that brings the client back to `server`, when it did not name it. */
  setCookie: string | undefined;
  /** The client's cookie named `server`: it stays with it, drained or not, while it is in the placement. */
  readonly persisted: boolean;
}

export type RouteResult =
  | Route
  | { refused: "no-client" }
  /** `why`: the placement's reason (Placement.unavailable). */
  | { refused: "no-server"; why: string };

export interface Router {
  route(req: ClientRequest): RouteResult;
  /** Moves a failed request to its next server; false when none is left. */
  reroute(route: Route): boolean;
}

export function createRouter(
  placement: () => Placement,
  keyOf: KeyPolicy,
  trusted: AddressMatcher | undefined,
  loads: ReadonlyMap<string, number> | undefined,
  /** The persistence cookie's name, when cookie persistence is on. */
  cookie: string | undefined,
): Router {
  return {
    route(req) {
      const peer = req.remoteAddress;
      if (peer === undefined) return { refused: "no-client" };
      // Without trusted proxies the peer is the client, in canonical form
      // (sourceKey's fast path reads what sockets report).
      let client: string;
      let peerTrusted = false;
      if (trusted === undefined) client = sourceKey(peer);
      else {
        const found = forwardedClient(peer, req.headers, trusted);
        if (found === undefined) return { refused: "no-client" };
        ({ client, peerTrusted } = found);
      }
      const key = keyOf(req, client);
      const current = placement();
      const named = cookie === undefined ? undefined : takeCookie(req.headers, cookie);
      // A server the cookie names wins while it is in the placement: up and
      // not in maintenance (a drained one keeps its cookie clients).
      const server =
        named !== undefined && current.targets.has(named) ? named : current.ring.pick(key, loads);
      if (server === undefined)
        return { refused: "no-server", why: current.unavailable ?? "no server is up" };
      return {
        client,
        peerTrusted,
        key,
        server,
        target: current.targets.get(server)!,
        tried: [server],
        startedAt: performance.now(),
        setCookie:
          cookie !== undefined && named !== server ? persistenceCookie(cookie, server) : undefined,
        persisted: named === server,
      };
    },
    reroute(route) {
      const current = placement();
      // The failed server may already have left the placement (marked down),
      // so ask for enough candidates to skip every server tried.
      const next = current.ring
        .pickN(route.key, route.tried.length + 1)
        .find((id) => !route.tried.includes(id));
      if (next === undefined) return false;
      route.server = next;
      route.target = current.targets.get(next)!;
      route.tried.push(next);
      if (cookie !== undefined) route.setCookie = persistenceCookie(cookie, next);
      return true;
    },
  };
}

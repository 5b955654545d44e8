// WebSocket upgrades: http-proxy-middleware carries the upgraded connection
// to the client's server, as it is built to. It is loaded on the first
// upgrade: a proxy that never sees one does not hold the library (~4 MB).

import { Agent, IncomingMessage, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { LookupFunction, Socket } from "node:net";
import type { ClientRequest } from "../http/downstream/request.js";
import type { Route } from "./routing.js";
import { rawAnswer } from "./errors.js";

declare module "node:http" {
  interface IncomingMessage {
    /** Where http-proxy-middleware's router sends the upgrade. */
    route?: Route;
  }
}

export interface UpgradeForwarder {
  /** Carries `req` to `route`'s server. */
  upgrade(req: ClientRequest, route: Route, socket: Socket, head: Buffer): void;
  close(): void;
}

type Upgrade = (req: IncomingMessage, socket: Socket, head: Buffer) => unknown;

/** httpxy's code for an upgrade the server did not answer in time. */
const UPGRADE_TIMEOUT = "ERR_UPSTREAM_UPGRADE_TIMEOUT";
const GATEWAY_TIMEOUT = rawAnswer(
  "504 Gateway Timeout",
  "the server did not answer the upgrade in time",
);
const BAD_GATEWAY = rawAnswer("502 Bad Gateway", "the upgrade to the server failed");

/** The request as the node:http message http-proxy-middleware is written for. */
function asMessage(req: ClientRequest, route: Route, socket: Socket): IncomingMessage {
  const message = new IncomingMessage(socket);
  message.method = req.method;
  message.url = req.url;
  message.headers = req.headers as IncomingHttpHeaders;
  message.rawHeaders = req.rawHeaders;
  message.httpVersion = req.httpVersion;
  message.httpVersionMajor = 1;
  message.httpVersionMinor = req.httpVersion === "1.0" ? 0 : 1;
  message.complete = true;
  message.route = route;
  return message;
}

/**
 * `serverMs`: how long the server may take to answer the upgrade (HAProxy's
 * `timeout server`); the client then gets a 504 and both sockets are freed.
 * `tunnelMs`: how long an open tunnel may stay silent both ways before both
 * sockets are closed (HAProxy's `timeout tunnel`).
 */
export function createUpgradeForwarder(
  lookup: LookupFunction,
  serverMs: number,
  tunnelMs: number,
): UpgradeForwarder {
  const agent = new Agent({ keepAlive: false, lookup });
  let loading: Promise<Upgrade> | undefined;
  const load = async (): Promise<Upgrade> => {
    const { createProxyMiddleware } = await import("http-proxy-middleware");
    const proxy = createProxyMiddleware<IncomingMessage, ServerResponse>({
      router: (req) => req.route!.target,
      agent,
      changeOrigin: false,
      ejectPlugins: true,
      upgradeTimeout: serverMs,
      plugins: [
        (proxyServer) => {
          proxyServer.on("error", (error, req, res) => {
            if (res === undefined || "writeHead" in res) return;
            // Before the switch the client still speaks HTTP: it is told why.
            if (res.bytesWritten === 0 && !res.destroyed) {
              const timedOut = (error as NodeJS.ErrnoException).code === UPGRADE_TIMEOUT;
              res.end(timedOut ? GATEWAY_TIMEOUT : BAD_GATEWAY);
              if (req?.route) req.route.upgradeStatus ??= timedOut ? 504 : 502;
            }
            res.destroy();
          });
          // A client that leaves before the server answers: both sockets go
          // (with half-open client sockets its end alone would not close it).
          proxyServer.on("proxyReqWs", (proxyReq, req, socket) => {
            const leave = () => proxyReq.destroy();
            socket.once("end", leave);
            proxyReq.once("upgrade", (_res, proxySocket: Socket) => {
              if (req.route) req.route.upgradeStatus = 101;
              socket.off("end", leave);
              // A client gone without ending its side (an HTTP/2 stream reset,
              // a connection cut) takes the server's end of the tunnel with it.
              socket.once("close", () => proxySocket.destroy());
              // After http-proxy-middleware has set the sockets up (it clears their timeouts).
              setImmediate(() => idleTimeout(socket, proxySocket, tunnelMs));
            });
            // A 101 that names no protocol is no switch: refused, never relayed.
            const unnamedSwitch = ({ statusCode }: { statusCode?: number }) => {
              if (req.route && statusCode !== undefined && statusCode >= 200)
                req.route.upgradeStatus = statusCode;
              if (statusCode !== 101) return;
              if (req.route) req.route.upgradeStatus = 502;
              socket.off("end", leave);
              if (!socket.destroyed) socket.end(BAD_GATEWAY);
              proxyReq.destroy();
            };
            proxyReq.prependListener("information", unnamedSwitch);
            proxyReq.prependOnceListener("response", unnamedSwitch);
          });
        },
      ],
    });
    return (req, socket, head) => proxy.upgrade?.(req, socket, head);
  };
  return {
    upgrade(req, route, socket, head) {
      socket.on("error", () => socket.destroy());
      (loading ??= load()).then(
        (upgrade) => {
          if (!socket.destroyed) void upgrade(asMessage(req, route, socket), socket, head);
        },
        () => socket.destroy(),
      );
    },
    close() {
      agent.destroy();
    },
  };
}

/** Both ends of a tunnel close once it has been silent for `ms` (any read or write on a socket re-arms its timer). */
function idleTimeout(client: Socket, server: Socket, ms: number): void {
  const close = () => {
    client.destroy();
    server.destroy();
  };
  client.setTimeout(ms, close);
  server.setTimeout(ms, close);
}

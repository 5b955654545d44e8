// WebSocket upgrades: http-proxy-middleware carries the upgraded connection
// to the client's server, as it is built to. It is loaded on the first
// upgrade: a proxy that never sees one does not hold the library (~4 MB).

import { Agent, IncomingMessage, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { LookupFunction, Socket } from "node:net";
import type { ClientRequest } from "./downstream/request.js";
import type { Route } from "./routing.js";

declare module "node:http" {
  interface IncomingMessage {
    route?: Route;
  }
}

export interface UpgradeForwarder {
  /** `req` routed already (its `route` set). */
  upgrade(req: ClientRequest, socket: Socket, head: Buffer): void;
  close(): void;
}

type Upgrade = (req: IncomingMessage, socket: Socket, head: Buffer) => unknown;

/** The request as the node:http message http-proxy-middleware is written for. */
function asMessage(req: ClientRequest, socket: Socket): IncomingMessage {
  const message = new IncomingMessage(socket);
  message.method = req.method;
  message.url = req.url;
  message.headers = req.headers as IncomingHttpHeaders;
  message.rawHeaders = req.rawHeaders;
  message.httpVersion = req.httpVersion;
  message.httpVersionMajor = 1;
  message.httpVersionMinor = req.httpVersion === "1.0" ? 0 : 1;
  message.complete = true;
  message.route = req.route;
  return message;
}

export function createUpgradeForwarder(lookup: LookupFunction): UpgradeForwarder {
  const agent = new Agent({ keepAlive: false, lookup });
  let loading: Promise<Upgrade> | undefined;
  const load = async (): Promise<Upgrade> => {
    const { createProxyMiddleware } = await import("http-proxy-middleware");
    const proxy = createProxyMiddleware<IncomingMessage, ServerResponse>({
      router: (req) => req.route!.target,
      agent,
      changeOrigin: false,
      ejectPlugins: true,
      plugins: [
        (proxyServer) => {
          // Nothing can be answered on an upgraded socket: close it.
          proxyServer.on("error", (_error, _req, res) => {
            if (res !== undefined && !("writeHead" in res)) res.destroy();
          });
        },
      ],
    });
    return (req, socket, head) => proxy.upgrade?.(req, socket, head);
  };
  return {
    upgrade(req, socket, head) {
      socket.on("error", () => socket.destroy());
      (loading ??= load()).then(
        (upgrade) => {
          if (!socket.destroyed) void upgrade(asMessage(req, socket), socket, head);
        },
        () => socket.destroy(),
      );
    },
    close() {
      agent.destroy();
    },
  };
}

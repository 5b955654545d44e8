// WebSocket upgrades: http-proxy-middleware carries the upgraded connection
// to the client's server, as it is built to.

import { Agent, type IncomingMessage, type ServerResponse } from "node:http";
import type { LookupFunction } from "node:net";
import type { Duplex } from "node:stream";
import { createProxyMiddleware } from "http-proxy-middleware";

export interface UpgradeForwarder {
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

export function createUpgradeForwarder(lookup: LookupFunction): UpgradeForwarder {
  const agent = new Agent({ keepAlive: false, lookup });
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
  return {
    upgrade(req, socket, head) {
      socket.on("error", () => socket.destroy());
      void proxy.upgrade?.(req, socket as never, head);
    },
    close() {
      agent.destroy();
    },
  };
}

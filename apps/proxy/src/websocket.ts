// WebSocket upgrades: http-proxy-middleware carries the upgraded connection
// to the client's server, as it is built to. It is loaded on the first
// upgrade: a proxy that never sees one does not hold the library (~4 MB).

import { Agent, type IncomingMessage, type ServerResponse } from "node:http";
import type { LookupFunction } from "node:net";
import type { Duplex } from "node:stream";

export interface UpgradeForwarder {
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

type Upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => unknown;

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
    return (req, socket, head) => proxy.upgrade?.(req, socket as never, head);
  };
  return {
    upgrade(req, socket, head) {
      socket.on("error", () => socket.destroy());
      (loading ??= load()).then(
        (upgrade) => {
          if (!socket.destroyed) void upgrade(req, socket, head);
        },
        () => socket.destroy(),
      );
    },
    close() {
      agent.destroy();
    },
  };
}

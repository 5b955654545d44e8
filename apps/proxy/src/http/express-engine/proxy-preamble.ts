// ACCEPT_PROXY for the express engine: node:http cannot be told to read a
// PROXY protocol header first, so each connection is read here until the
// header is complete (the same parser as the fast engine,
// ../downstream/proxy-protocol.ts), then handed to the HTTP server.

import type { Socket } from "node:net";
import { readProxyHeader } from "../downstream/proxy-protocol.js";

/**
 * Reads the header at the start of `socket`, then calls `ready` with the
 * client's address (the header's, or the socket's peer for LOCAL and
 * UNKNOWN) and the bytes that came after the header in the same read. A
 * connection that does not start with a valid header within `timeoutMs` is
 * closed unanswered, as HAProxy closes it.
 */
export function readPreamble(
  socket: Socket,
  timeoutMs: number,
  ready: (remoteAddress: string | undefined, rest: Buffer) => void,
): void {
  let bytes: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  const onData = (data: Buffer) => {
    bytes = bytes.length === 0 ? data : Buffer.concat([bytes, data]);
    const header = readProxyHeader(bytes);
    if (header.state === "partial") return;
    clearTimeout(timer);
    socket.off("data", onData);
    if (header.state === "invalid") {
      socket.destroy();
      return;
    }
    ready(header.source ?? socket.remoteAddress, bytes.subarray(header.length));
  };
  socket.on("data", onData);
  socket.once("close", () => clearTimeout(timer));
}

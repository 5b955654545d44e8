// A server on a raw socket that answers with exactly the bytes a test
// scripts, and records exactly what it received, request by request.

import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

/** Functions run after each test, last first: each closes what a test opened. */
export type Cleanup = (() => Promise<unknown>)[];

export interface Received {
  /** Which accepted connection (0, 1, ...) carried it. */
  connection: number;
  head: string;
  body: Buffer;
  /** The trailer section of a chunked body, as received ("" when none). */
  trailers: string;
}

export type Responder = (received: Received, socket: Socket) => void;

/** A TCP server on a loopback port, closed with every connection it accepted after the test. */
export async function tcpServer(
  cleanup: Cleanup,
  onConnection: (socket: Socket) => void,
): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createTcpServer((socket) => {
    sockets.add(socket);
    // Pieces go out as written: a test that splits an answer must not wait on delayed ACKs.
    socket.setNoDelay(true);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanup.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((r) => server.close(r));
  });
  return (server.address() as AddressInfo).port;
}

/**
 * A server that answers with exactly the bytes `respond` writes. It reads
 * request heads and Content-Length or chunked bodies itself, and records
 * every request but the proxy's health checks.
 */
export async function scriptedServer(respond: Responder, cleanup: Cleanup) {
  const received: Received[] = [];
  let numbered = 0;
  const port = await tcpServer(cleanup, (socket) => {
    // Numbered at its first request that is not a health check.
    let connection: number | undefined;
    let buffered = Buffer.alloc(0);
    socket.on("data", (data: Buffer) => {
      buffered = Buffer.concat([buffered, data]);
      for (;;) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buffered.toString("latin1", 0, end);
        const rest = buffered.subarray(end + 4);
        const length = /\r\ncontent-length: *(\d+)/i.exec(head);
        let body: Buffer;
        let used: number;
        let trailers = "";
        if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
          const chunked = dechunk(rest);
          if (chunked === undefined) return;
          ({ body, used, trailers } = chunked);
        } else {
          used = length ? Number(length[1]) : 0;
          if (rest.length < used) return;
          body = rest.subarray(0, used);
        }
        buffered = rest.subarray(used);
        if (isHealthCheck(head, socket)) return;
        connection ??= numbered++;
        const item = { connection, head, body, trailers };
        received.push(item);
        respond(item, socket);
      }
    });
  });
  return { port, received };
}

/** Answers the proxy's health checks, which are not what the tests count. */
export function isHealthCheck(head: string, socket: Socket): boolean {
  if (!head.startsWith("GET /healthz ")) return false;
  socket.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
  return true;
}

/** A whole chunked body at the start of `raw`, or undefined while it is incomplete. */
function dechunk(raw: Buffer): { body: Buffer; used: number; trailers: string } | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf("\r\n", at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(raw.toString("latin1", at, lineEnd), 16);
    if (size === 0) {
      const end = raw.indexOf("\r\n\r\n", lineEnd);
      if (raw.toString("latin1", lineEnd, lineEnd + 4) === "\r\n\r\n")
        return { body: Buffer.concat(parts), used: lineEnd + 4, trailers: "" };
      if (end < 0) return undefined;
      const trailers = raw.toString("latin1", lineEnd + 2, end + 2);
      return { body: Buffer.concat(parts), used: end + 4, trailers };
    }
    if (raw.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

// HAProxy's global `maxconn`: client connections served at once. Past the
// limit HAProxy stops accepting and the kernel's backlog holds the rest.
// Node has no way to stop a listening socket from accepting (libuv accepts
// as long as the socket is readable), so a connection past the limit is
// accepted and set aside unread instead: no parser, no buffers, one
// descriptor, first come first served, until a served connection closes.
// Past `limit` set aside as well, a new connection is closed at once, so
// descriptors and memory stay bounded whatever comes in.

import type { Socket } from "node:net";

export interface ClientGateCounts {
  /** Connections served now. */
  open: number;
  /** Connections accepted past the limit, waiting unread. */
  waiting: number;
  limit: number;
  /** Connections closed at once since start: both the served and the waiting were full. */
  refused: number;
}

export interface ClientGate {
  /** Serves `socket` now, or once a served connection closes. */
  admit(socket: Socket, serve: () => void): void;
  counts(): ClientGateCounts;
  /** A new limit: more connections are served at once if it rose. */
  setLimit(limit: number): void;
}

export function createClientGate(
  limit: number,
  options: {
    /** A waiting connection is closed after this long unserved (the client timeout). */
    clientMs: number;
    /** Called when the limit is reached (true), and when nothing waits any more (false). */
    full(full: boolean, counts: ClientGateCounts): void;
  },
): ClientGate {
  let open = 0;
  let refused = 0;
  let isFull = false;
  const waiting = new Set<{ socket: Socket; serve: () => void }>();
  const counts = () => ({ open, waiting: waiting.size, limit, refused });

  const serve = (socket: Socket, start: () => void) => {
    open++;
    socket.once("close", () => {
      open--;
      next();
    });
    start();
  };

  // Set iteration follows insertion order: the longest waiting goes first.
  const next = () => {
    for (const entry of waiting) {
      if (open >= limit) return;
      waiting.delete(entry);
      const { socket } = entry;
      // Closed while it waited (its client's end closes it: admit below).
      if (socket.destroyed) continue;
      socket.setTimeout(0);
      socket.removeAllListeners("timeout");
      socket.resume();
      serve(socket, entry.serve);
    }
    if (isFull && waiting.size === 0 && open < limit) {
      isFull = false;
      options.full(false, counts());
    }
  };

  return {
    admit(socket, start) {
      if (open < limit) return serve(socket, start);
      if (waiting.size >= limit) {
        refused++;
        socket.destroy();
        return;
      }
      // Not read until served: the client's request stays in the kernel's buffers.
      socket.pause();
      const entry = { socket, serve: start };
      waiting.add(entry);
      socket.once("close", () => waiting.delete(entry));
      // Paused, a socket still reads into its buffer, and says 'end' when the
      // client closed with nothing sent (sent bytes wait in the buffer, and
      // the end after them): nothing to answer, so its place is freed now.
      // Served later, its parser would never hear of that end, and the
      // connection would hold a served place until the client timeout.
      socket.once("end", () => {
        if (waiting.has(entry)) socket.destroy();
      });
      socket.on("error", () => {}); // 'close' follows
      socket.setTimeout(options.clientMs, () => socket.destroy());
      if (!isFull) {
        isFull = true;
        options.full(true, counts());
      }
    },
    counts,
    setLimit(value) {
      limit = value;
      next();
    },
  };
}

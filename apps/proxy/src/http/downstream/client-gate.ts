// HAProxy's global `maxconn`: client connections served at once. Past the
// limit HAProxy stops accepting and the kernel's backlog holds the rest.
// Node has no way to stop a listening socket from accepting (libuv accepts
// as long as the socket is readable), so a connection past the limit is
// accepted and set aside unread instead: no parser, no buffers, one
// descriptor, first come first served, until a served connection closes.
// Past `limit` set aside as well, a new connection is closed at once, so
// descriptors and memory stay bounded whatever comes in.
//
// `perAddress` (CLIENT_ADDRESS_MAXCONN) caps the connections one client
// address holds, served or waiting, as HAProxy's `tcp-request connection
// reject if { src_conn_cur ge N }` does: without it one address could take
// every place. One more from that address is closed at once, unread. The address is the TCP peer's, or with the PROXY protocol the one
// its header names: the engines then claim the place once they read it.

import type { Socket } from "node:net";
import { sourceKey } from "@stickyring/hashing";

export interface ClientGateCounts {
  /** Connections served now. */
  open: number;
  /** Connections accepted past the limit, waiting unread. */
  waiting: number;
  limit: number;
  /** Connections closed at once since start: both the served and the waiting were full. */
  refused: number;
  /** Connections closed at once since start: their address held `perAddress` already. */
  refusedPerAddress: number;
}

export interface ClientGate {
  /** Serves `socket` now, or once a served connection closes. */
  admit(socket: Socket, serve: () => void): void;
  /**
   * Counts `socket` against its client `address` while it is open; past
   * the cap closes it and says false. Called by admit itself unless the
   * address comes in a PROXY protocol header.
   */
  claim(socket: Socket, address: string | undefined): boolean;
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
    /** Connections one client address may hold at once; 0: no cap. */
    perAddress?: number;
    /** Whether admit claims the TCP peer's address (false: the PROXY protocol names it later). */
    claimOnAdmit?: boolean;
    /** Called when a connection is closed for its address's cap. */
    addressFull?(address: string, perAddress: number): void;
  },
): ClientGate {
  let open = 0;
  let refused = 0;
  let refusedPerAddress = 0;
  let isFull = false;
  const waiting = new Set<{ socket: Socket; serve: () => void }>();
  const byAddress = new Map<string, number>();
  const { perAddress = 0, claimOnAdmit = true } = options;
  const counts = () => ({ open, waiting: waiting.size, limit, refused, refusedPerAddress });

  const claim = (socket: Socket, peer: string | undefined): boolean => {
    if (perAddress === 0 || peer === undefined) return true;
    // The key routing hashes: one address however it is written (::ffff:1.2.3.4,
    // a PROXY v2 header's ::ffff:102:304, IPv6 with or without its zeros).
    const address = sourceKey(peer);
    const held = byAddress.get(address) ?? 0;
    if (held >= perAddress) {
      refusedPerAddress++;
      options.addressFull?.(address, perAddress);
      socket.destroy();
      return false;
    }
    byAddress.set(address, held + 1);
    socket.once("close", () => {
      const left = byAddress.get(address)! - 1;
      if (left === 0) byAddress.delete(address);
      else byAddress.set(address, left);
    });
    return true;
  };

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
      if (claimOnAdmit && !claim(socket, socket.remoteAddress)) return;
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
    claim,
    counts,
    setLimit(value) {
      limit = value;
      next();
    },
  };
}

// A raw client: one TCP connection from a chosen 127.21.x.y address, exact
// bytes written in pieces, every byte read kept with the time it came.

import { connect, type Socket } from "node:net";
import { readResponses, type ResponseStream } from "./wire.js";

/** One piece of what a client sends. */
export type Piece =
  /** Bytes (latin1). */
  | string
  | Buffer
  /** Pause, in ms. */
  | { wait: number }
  /** Wait until what has been read contains `text` (at most `ms`, then go on). */
  | { waitFor: string; ms: number }
  /** Half-close ("end": the client sends nothing more) or abort ("reset": RST, nothing more read). */
  | { do: "end" | "reset" };

export const END: Piece = { do: "end" };
export const ABORT: Piece = { do: "reset" };

export class RawClient {
  private readonly socket: Socket;
  private data = Buffer.alloc(0);
  /** [time since start in ms, bytes read up to then] per read. */
  readonly arrivals: [number, number][] = [];
  readonly started = performance.now();
  /** How the connection ended, and when (ms since start). */
  closed: "fin" | "reset" | undefined;
  closedAt: number | undefined;
  /** When the last piece was written (ms since start). */
  sentAt = 0;
  private readonly connected: Promise<void>;
  private waiters: (() => void)[] = [];

  constructor(port: number, from: string) {
    this.socket = connect({ host: "127.0.0.1", port, localAddress: from, noDelay: true });
    this.connected = new Promise((resolve) => {
      this.socket.once("connect", () => resolve());
      this.socket.once("close", () => resolve());
    });
    this.socket.on("data", (chunk: Buffer) => {
      this.data = Buffer.concat([this.data, chunk]);
      this.arrivals.push([this.now(), this.data.length]);
      this.wake();
    });
    this.socket.on("end", () => {
      this.closed ??= "fin";
      this.closedAt ??= this.now();
      this.wake();
    });
    this.socket.on("error", (error: NodeJS.ErrnoException) => {
      this.closed ??= error.code === "ECONNRESET" || error.code === "EPIPE" ? "reset" : "fin";
      this.closedAt ??= this.now();
      this.wake();
    });
    this.socket.on("close", () => {
      this.closed ??= "fin";
      this.closedAt ??= this.now();
      this.wake();
    });
  }

  now(): number {
    return performance.now() - this.started;
  }

  get received(): Buffer {
    return this.data;
  }

  /** When the byte at `offset` had come (ms since start); undefined if it has not. */
  timeOf(offset: number): number | undefined {
    for (const [at, upTo] of this.arrivals) if (upTo > offset) return at;
    return undefined;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves on the next read or close, or after `ms`. */
  private next(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, ms));
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async send(pieces: readonly Piece[]): Promise<void> {
    await this.connected;
    for (const piece of pieces) {
      if (this.socket.destroyed) break;
      if (typeof piece === "string" || Buffer.isBuffer(piece)) {
        await new Promise<void>((resolve) => this.socket.write(piece, "latin1", () => resolve()));
      } else if ("do" in piece && piece.do === "end") {
        this.socket.end();
      } else if ("do" in piece) {
        this.closed ??= "reset";
        this.closedAt ??= this.now();
        this.socket.resetAndDestroy();
      } else if ("wait" in piece) {
        await new Promise((resolve) => setTimeout(resolve, piece.wait));
      } else {
        const deadline = this.now() + piece.ms;
        while (
          !this.data.includes(piece.waitFor, 0, "latin1") &&
          !this.closed &&
          this.now() < deadline
        )
          await this.next(deadline - this.now());
      }
    }
    this.sentAt = this.now();
  }

  /**
   * Reads until `count` final responses from offset `from` are complete, the
   * connection closes, or `ms` pass; then `settleMs` more, for any stray bytes.
   */
  async responses(
    from: number,
    methods: readonly string[],
    count: number,
    ms: number,
    settleMs = 30,
  ): Promise<ResponseStream> {
    const deadline = this.now() + ms;
    const done = () => {
      const read = readResponses(this.data.subarray(from), methods, this.closed !== undefined);
      const complete = read.responses.filter((r) => r.complete).length;
      return (
        complete >= count ||
        read.responses.some((r) => r.status === 101) ||
        read.error !== undefined
      );
    };
    while (!this.closed && this.now() < deadline && !done()) await this.next(deadline - this.now());
    if (!this.closed) await new Promise((resolve) => setTimeout(resolve, settleMs));
    return readResponses(this.data.subarray(from), methods, this.closed !== undefined);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

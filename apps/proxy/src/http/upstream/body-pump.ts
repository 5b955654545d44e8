// A client's request body on its way to a server, for both engines'
// upstream clients: piece by piece as it is read, with backpressure (the
// client is no longer read while the server's socket is full), until its end
// or until the exchange stops it.

import type { EventEmitter } from "node:events";
import type { Readable } from "node:stream";

export class BodyPump {
  private body: Readable | undefined;
  private drains: EventEmitter | undefined;

  constructor(
    /** Writes one piece towards the server; false when that buffer is full. */
    private readonly write: (chunk: Buffer) => boolean,
    /** The whole body was read: its end goes out (the last chunk, trailers). */
    private readonly finish: () => void,
  ) {}

  /** Sends `body`, resuming it when `drains` (the socket or request it is written to) emits 'drain'. */
  start(body: Readable, drains: EventEmitter): void {
    this.body = body;
    this.drains = drains;
    body.on("data", this.onData);
    body.on("end", this.onEnd);
    drains.on("drain", this.onDrain);
    if (body.readableEnded) this.onEnd();
  }

  /**
   * `drop`: the server answered before the whole body: the rest is read and
   * dropped, so the client's connection stays usable. Otherwise the body is
   * left as it is, for a retry elsewhere when none of it was read.
   */
  stop(drop: boolean): void {
    const body = this.body;
    if (body === undefined) return;
    this.body = undefined;
    body.off("data", this.onData);
    body.off("end", this.onEnd);
    this.drains!.off("drain", this.onDrain);
    this.drains = undefined;
    if (drop && !body.readableEnded) body.resume();
  }

  private readonly onData = (chunk: Buffer) => {
    if (chunk.length === 0) return; // an empty chunk would end a chunked body
    if (!this.write(chunk)) this.body!.pause();
  };

  private readonly onDrain = () => {
    if (this.body?.isPaused()) this.body.resume();
  };

  private readonly onEnd = () => {
    this.stop(false);
    this.finish();
  };
}

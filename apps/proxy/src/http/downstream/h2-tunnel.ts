// WebSocket over HTTP/2 (RFC 8441): a stream opened with the extended
// CONNECT (`:protocol: websocket`) carries one WebSocket. The data plane
// forwards upgrades on a socket, as HTTP/1.1 has them (websocket.ts), so the
// stream is given to it as one: a Duplex whose bytes are the stream's DATA.
// What the forwarder writes before the tunnel's bytes is an HTTP/1.1 answer
// head (the server's 101, or a refusal with its body), which this turns into
// the stream's HTTP/2 answer: 101 becomes 200 (RFC 8441 5), and the fields
// that only mean something to HTTP/1.1's handshake (Connection, Upgrade,
// Sec-WebSocket-Accept) are dropped.

import { randomBytes } from "node:crypto";
import { constants, type ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import { CONNECTION_SPECIFIC } from "./h2-response.js";
import { createResponseParser, type ResponseParser } from "../upstream/response-parser.js";

/** Fields of an HTTP/1.1 WebSocket handshake that have no place in HTTP/2's. */
const HANDSHAKE_ONLY = new Set([...CONNECTION_SPECIFIC, "sec-websocket-accept", "http2-settings"]);

/** The longest answer head taken from the forwarder before the tunnel's bytes. */
const MAX_HEAD = 64 * 1024;

/**
 * The fields an extended CONNECT's request becomes as an HTTP/1.1 upgrade:
 * Connection and Upgrade, and the Sec-WebSocket-Key HTTP/2 clients do not
 * send (RFC 8441 5: the key and the accept are not used over HTTP/2); the
 * server's Sec-WebSocket-Accept, made from it, is not passed back.
 */
export function upgradeFields(): string[] {
  return [
    "connection",
    "upgrade",
    "upgrade",
    "websocket",
    "sec-websocket-key",
    randomBytes(16).toString("base64"),
  ];
}

/** An HTTP/2 stream as the socket of an upgraded HTTP/1.1 connection. */
export class H2Tunnel extends Duplex {
  /** The answer head as written so far, until it is complete. */
  private head: Buffer | undefined = Buffer.alloc(0);
  /**
   * The answer was not a switch: its HTTP/1.1 message (head again, then a
   * body that may be chunked) is read by the strict parser, and the body's
   * bytes alone go to the stream, which ends with it.
   */
  private refusal: ResponseParser | undefined;
  /** Bytes written to it, as a socket counts them (the forwarder answers a failure only before any). */
  bytesWritten = 0;

  /**
   * The listener of the stream's connection, as a socket names its own:
   * http-proxy-middleware carries an upgrade only for a socket that has one.
   */
  readonly server: unknown;

  constructor(
    private readonly stream: ServerHttp2Stream,
    /** The client's address, as a socket's remoteAddress. */
    readonly remoteAddress: string | undefined,
    connection: Socket,
  ) {
    super({ allowHalfOpen: true });
    this.server = (connection as Socket & { server?: unknown }).server;
    stream.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) stream.pause();
    });
    stream.on("end", () => this.push(null));
    stream.on("close", () => this.destroy());
    stream.on("timeout", () => this.emit("timeout"));
  }

  /** The stream's encryption is its connection's: the TLS port's. */
  readonly encrypted = true;

  override _read(): void {
    this.stream.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error) => void): void {
    this.bytesWritten += chunk.length;
    if (this.refusal !== undefined) return done(this.refusalBytes(chunk));
    if (this.head === undefined) {
      if (this.stream.destroyed) return done();
      this.stream.write(chunk, () => done());
      return;
    }
    const head = Buffer.concat([this.head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) {
      if (head.length > MAX_HEAD) return done(new Error("answer head too long"));
      this.head = head;
      return done();
    }
    this.head = undefined;
    const status = this.answer(head.toString("latin1", 0, end));
    if (status === undefined) return done(new Error("not an HTTP/1.1 answer head"));
    if (status !== 101) {
      this.refusal = createResponseParser({
        onBegin: () => {},
        onHead: () => false,
        onBody: (piece) => {
          if (!this.stream.destroyed) this.stream.write(piece);
        },
        onComplete: () => this.endStream(),
      });
      return done(this.refusalBytes(head));
    }
    const rest = head.subarray(end + 4);
    if (rest.length === 0 || this.stream.destroyed) return done();
    this.stream.write(rest, () => done());
  }

  override _final(done: (error?: Error) => void): void {
    // A refusal's body may end with the connection (no length, not chunked).
    const error = this.refusal?.finish();
    this.endStream();
    done(error);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.refusal?.close();
    if (!this.stream.destroyed) {
      // Closed by the proxy (the tunnel's idle timeout, a refusal): what was
      // written goes first (node sends the reset after it), then the stream ends.
      if (error === null) this.endStream(true);
      else this.stream.close(constants.NGHTTP2_CANCEL);
    }
    done(error);
  }

  /** The socket calls the forwarder makes: timeouts are the stream's, the rest mean nothing here. */
  setTimeout(ms: number, listener?: () => void): this {
    this.stream.setTimeout(ms);
    if (listener !== undefined) this.once("timeout", listener);
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  /**
   * Ends the stream. A refusal's stream (or any, `close`) is then closed
   * once what was written has gone (RST_STREAM NO_ERROR, RFC 9113 8.1): a
   * client that keeps its side open would otherwise hold the request's
   * place (MAXCONN) for good.
   */
  private endStream(close = this.refusal !== undefined): void {
    if (this.stream.destroyed) return;
    this.stream.end();
    if (close) this.stream.close(constants.NGHTTP2_NO_ERROR);
  }

  /** Bytes of a refusal's message for the parser; an Error when they are not HTTP/1.1. */
  private refusalBytes(bytes: Buffer): Error | undefined {
    const error = this.refusal!.execute(bytes);
    if (error !== undefined && !this.stream.destroyed)
      this.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return error;
  }

  /** Sends the stream's answer for an HTTP/1.1 head; its status, or undefined when it is not one. */
  private answer(text: string): number | undefined {
    const lines = text.split("\r\n");
    const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0]!);
    if (!status) return undefined;
    const code = Number(status[1]);
    const head: string[] = [":status", code === 101 ? "200" : String(code)];
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) return undefined;
      const name = line.slice(0, colon).trim().toLowerCase();
      if (HANDSHAKE_ONLY.has(name)) continue;
      head.push(name, line.slice(colon + 1).trim());
    }
    if (!this.stream.destroyed && !this.stream.headersSent) this.stream.respond(head);
    return code;
  }
}

// The answer to one client request, written straight to the client's socket.
// The head waits for the first piece of body read with it so both leave in
// one write, and goes alone when the read that brought it ends (flushHead):
// a head is never held back for a body that is slow to come. Framing is
// decided once, at writeHead: the length the head gives, chunked for an
// HTTP/1.1 client when there is none, or read-to-close for HTTP/1.0.

import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { LAST_CHUNK, chunkHeader, lastChunk } from "../chunked.js";
import { AnswerEnd, type OwnFields, type ResponseWriter } from "./response-writer.js";

/** What the response tells its connection. */
export interface ResponseOwner {
  readonly socket: Socket;
  /** Fields added to every final answer. */
  readonly own: OwnFields;
  /** The response is complete; `keepAlive` false: close the connection. */
  finished(response: ClientResponse, keepAlive: boolean): void;
}

/**
 * Body pieces up to this size are copied behind the head into one string;
 * larger ones go as they are, in the same system call (writev).
 */
const COPY_LIMIT = 1024;

export class ClientResponse extends AnswerEnd implements ResponseWriter {
  statusCode = 200;
  /** The head has gone to the socket; until then an error may still replace it. */
  headersSent = false;
  /** False: the connection closes once this response is out. */
  keepAlive: boolean;
  private chunked = false;
  /** The body is not sent: HEAD, 1xx, 204, 304. */
  private bodiless = false;
  /** The head, until the first body piece (or end) carries it out. */
  private pending: string | undefined;
  private drainListener: (() => void) | undefined;

  constructor(
    private readonly owner: ResponseOwner,
    private readonly headOnly: boolean,
    private readonly http10: boolean,
    keepAlive: boolean,
    /** The proxy answered the client's `Expect: 100-continue` itself. */
    private readonly continued: boolean,
  ) {
    super();
    this.keepAlive = keepAlive;
  }

  /**
   * `headers` is a flat [name, value, ...] list of end-to-end headers, their
   * names and values already valid (from llhttp's strict parse of the
   * server's answer, or our own constants): they are not checked again.
   */
  writeHead(status: number, message: string | undefined, headers: readonly string[]): void {
    this.statusCode = status;
    this.chunked = false;
    let head = statusLine(status, message);
    let length = false;
    // A 204 has no content, so no length either (RFC 9110 8.6).
    const lengthAllowed = status !== 204;
    const ownNames = this.owner.own.names;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      if (name.length === 14 && name.toLowerCase() === "content-length") {
        if (!lengthAllowed) continue;
        length = true;
      }
      // The proxy's own (HSTS) replaces the server's, as HAProxy's set-header does.
      if (ownNames.size > 0 && ownNames.has(name.toLowerCase())) continue;
      head += `${name}: ${headers[i + 1]}\r\n`;
    }
    this.bodiless = this.headOnly || status === 204 || status === 304;
    if (!this.bodiless && !length) {
      // HTTP/1.0 has no chunked coding: the end of the connection ends the body.
      if (this.http10) this.keepAlive = false;
      else {
        this.chunked = true;
        head += "transfer-encoding: chunked\r\n";
      }
    }
    head += this.owner.own.head;
    if (!this.keepAlive) head += "connection: close\r\n";
    else if (this.http10) head += "connection: keep-alive\r\n";
    this.pending = `${head}\r\n`;
  }

  /**
   * An interim (1xx) answer, passed on at once (RFC 9110 15.2: a proxy
   * forwards them). Not to an HTTP/1.0 client, which cannot take one, and
   * not a 100 the proxy has already sent for the client's Expect.
   */
  writeInterim(status: number, message: string | undefined, headers: readonly string[]): void {
    if (this.http10 || this.headersSent || (status === 100 && this.continued)) return;
    let head = statusLine(status, message);
    for (let i = 0; i < headers.length; i += 2) {
      // A 1xx has no content, so no length (RFC 9110 8.6).
      const name = headers[i]!;
      if (name.length === 14 && name.toLowerCase() === "content-length") continue;
      head += `${name}: ${headers[i + 1]}\r\n`;
    }
    this.owner.socket.write(`${head}\r\n`, "latin1");
  }

  /** The head goes out now if it still waits for a body piece. */
  flushHead(): void {
    if (this.pending !== undefined && !this.done) this.send("", undefined, "");
  }

  /** False when the client's socket is full: wait for onceDrain before writing more. */
  write(chunk: Buffer): boolean {
    if (this.done || this.bodiless || chunk.length === 0) return true;
    if (this.chunked) return this.send(chunkHeader(chunk.length), chunk, "\r\n");
    return this.send("", chunk, "");
  }

  /** `trailers`: fields to send after a chunked body (already filtered); dropped otherwise. */
  end(body?: Buffer, trailers?: readonly string[]): void {
    if (this.done) return;
    if (body !== undefined) this.write(body);
    if (this.chunked) this.send("", undefined, trailers ? lastChunk(trailers) : LAST_CHUNK);
    else if (this.pending !== undefined) this.send("", undefined, "");
    this.closed();
    this.owner.finished(this, this.keepAlive);
  }

  /** The answer cannot be completed: cut the connection, so the client sees it broken. */
  destroy(): void {
    this.owner.socket.destroy();
  }

  /** Calls `listener` once the client's socket can take more. */
  onceDrain(listener: () => void): void {
    this.drainListener = listener;
  }

  /** Calls `listener` once, when the response is complete or the connection is lost before. */
  /** @internal The connection drained. */
  drained(): void {
    const listener = this.drainListener;
    this.drainListener = undefined;
    listener?.();
  }

  /** Writes `before`, `chunk` and `after` behind the head still pending, in as few writes as it takes. */
  private send(before: string, chunk: Buffer | undefined, after: string): boolean {
    const { socket } = this.owner;
    const prefix = this.pending === undefined ? before : this.pending + before;
    this.pending = undefined;
    this.headersSent = true;
    if (chunk === undefined) return socket.write(prefix + after, "latin1");
    if (chunk.length > COPY_LIMIT) {
      socket.cork();
      if (prefix !== "") socket.write(prefix, "latin1");
      let flowing = socket.write(chunk);
      if (after !== "") flowing = socket.write(after, "latin1");
      socket.uncork();
      return flowing;
    }
    // Latin-1 maps each byte to one character and back: the body goes out
    // unchanged, in one write with the head, with no Buffer to allocate
    // (pooled Buffers cost a new 8 KB pool every few dozen answers).
    return socket.write(prefix + chunk.toString("latin1") + after, "latin1");
  }
}

function statusLine(status: number, message: string | undefined): string {
  return `HTTP/1.1 ${status} ${message ?? STATUS_CODES[status] ?? "Unknown"}\r\n`;
}

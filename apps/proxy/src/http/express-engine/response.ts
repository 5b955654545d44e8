// The answer to one request, written through node:http's ServerResponse: the
// ResponseWriter the forwarder relays into (../downstream/response-writer.ts).
// As in the fast engine, the head waits for the first body piece, the end, or
// flushHead: until then a server's failure can still be answered with an
// error instead. node:http frames the body (length, chunked, or read-to-close
// for HTTP/1.0) from the head it is given.

import { STATUS_CODES, type ServerResponse } from "node:http";
import { AnswerEnd, type ResponseWriter } from "../downstream/response-writer.js";

interface PendingHead {
  status: number;
  message: string | undefined;
  headers: string[];
}

export class NodeResponse extends AnswerEnd implements ResponseWriter {
  statusCode = 200;
  headersSent = false;
  keepAlive: boolean;
  private pending: PendingHead | undefined;

  constructor(
    private readonly res: ServerResponse,
    keepAlive: boolean,
    /** HTTP/1.0 client: it cannot take an interim answer. */
    private readonly http10: boolean,
    /** node:http answered the client's `Expect: 100-continue` itself. */
    private readonly continued: boolean,
  ) {
    super();
    this.keepAlive = keepAlive;
    // The Date of the server's answer is relayed; the proxy adds none (nor does the fast engine).
    res.sendDate = false;
    res.once("close", () => this.lost());
  }

  writeHead(status: number, message: string | undefined, headers: readonly string[]): void {
    this.statusCode = status;
    const list: string[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      // A 204 has no content, so no length either (RFC 9110 8.6).
      if (status === 204 && headers[i]!.toLowerCase() === "content-length") continue;
      list.push(headers[i]!, headers[i + 1]!);
    }
    this.pending = { status, message, headers: list };
  }

  /**
   * An interim (1xx) answer, passed on at once (RFC 9110 15.2). node:http's
   * public API writes only 100, 102 and 103 (with Link): the status line
   * goes to the socket as it would write it. Not to an HTTP/1.0 client, and
   * not a 100 when node:http has answered the client's Expect with one.
   */
  writeInterim(status: number, message: string | undefined, headers: readonly string[]): void {
    const socket = this.res.socket;
    if (this.http10 || this.headersSent || (status === 100 && this.continued)) return;
    if (!socket || socket.destroyed) return;
    let head = `HTTP/1.1 ${status} ${message ?? STATUS_CODES[status] ?? "Unknown"}\r\n`;
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i]!.toLowerCase() === "content-length") continue;
      head += `${headers[i]}: ${headers[i + 1]}\r\n`;
    }
    socket.write(`${head}\r\n`, "latin1");
  }

  flushHead(): void {
    if (this.pending === undefined || this.done) return;
    this.sendHead();
    this.res.flushHeaders();
  }

  write(chunk: Buffer): boolean {
    if (this.done || chunk.length === 0) return true;
    if (this.pending !== undefined) this.sendHead();
    return this.res.write(chunk);
  }

  end(body?: Buffer, trailers?: readonly string[]): void {
    if (this.done) return;
    if (this.pending !== undefined) this.sendHead();
    // node:http sends trailers after a chunked body only, as the fast engine does.
    if (trailers !== undefined && trailers.length > 0) this.res.addTrailers(pairs(trailers));
    this.done = true;
    this.res.end(body);
    this.closed();
  }

  destroy(): void {
    this.res.destroy();
  }

  onceDrain(listener: () => void): void {
    this.res.once("drain", listener);
  }

  private sendHead(): void {
    const { status, message, headers } = this.pending!;
    this.pending = undefined;
    this.headersSent = true;
    if (!this.keepAlive) headers.push("connection", "close");
    this.res.writeHead(status, message, headers);
  }
}

/** A flat [name, value, ...] list as the [name, value] pairs node:http takes. */
function pairs(list: readonly string[]): [string, string][] {
  const result: [string, string][] = [];
  for (let i = 0; i < list.length; i += 2) result.push([list[i]!, list[i + 1]!]);
  return result;
}

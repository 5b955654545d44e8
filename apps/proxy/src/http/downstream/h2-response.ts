// The answer to one HTTP/2 stream, written through node:http2. The same
// interface as an HTTP/1.1 answer (response-writer.ts), so the forwarder
// relays a server's HTTP/1.1 response into either. As there, the head waits
// for the first body piece or the end of the read that brought it: a
// server's failure before then can still be answered with an error.

import { constants, type OutgoingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import { AnswerEnd, type OwnFields, type ResponseWriter } from "./response-writer.js";

/** Connection-specific fields HTTP/2 forbids (RFC 9113 8.2.2), in either direction. */
export const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
]);

/** A server's fields dropped from an HTTP/2 answer, as hop-by-hop ones are for HTTP/1.1. */
const NOT_IN_ANSWERS = new Set([...CONNECTION_SPECIFIC, "http2-settings"]);

export class H2Response extends AnswerEnd implements ResponseWriter {
  statusCode = 200;
  headersSent = false;
  /**
   * False: once this answer is out the connection takes no new stream
   * (GOAWAY; streams open finish), as Connection: close ends an HTTP/1.1
   * one. Set for what holds for the whole connection (a client certificate
   * refused) or for a client that misbehaves (a body too slow).
   */
  keepAlive = true;
  /**
   * The head as node:http2's flat [name, value, ...] form, names in lower
   * case, until the first body piece, the end, or flushHead sends it. Flat
   * rather than an object: node copies an object and builds the same list
   * from it, per answer.
   */
  private pending: string[] | undefined;
  /**
   * Trailers may follow the body: the head announces them (Trailer), or the
   * body's length is not known (the server's was chunked, the hop-by-hop
   * Transfer-Encoding already gone), which may end with trailers never
   * announced (streamed checksums, gRPC's status). The stream then ends
   * with them, or with an empty DATA frame when none came.
   */
  private mayHaveTrailers = false;
  /** No body goes out: HEAD, 204, 205, 304. */
  private bodiless = false;
  /** Trailers to send once the body is out (when the stream waits for them). */
  private trailers: readonly string[] | undefined;
  /** Body pieces that came with the head in one read: they leave with it, in one go. */
  private held: Buffer[] | undefined;

  /** Set while the client has not taken what was written (flow control): cut at its end. */
  private stall: NodeJS.Timeout | undefined;
  /** The stream's listeners that end a wait are in place (watchStall). */
  private stallWatched = false;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly headOnly: boolean,
    /** Fields added to every final answer (Strict-Transport-Security). */
    private readonly own: OwnFields,
    /**
     * TIMEOUT_CLIENT: how long the answer may wait on a client that takes
     * none of it (its flow-control window closed), as HAProxy's `timeout
     * client` ends such a stream; the connection's idle timer does not run
     * while a stream is open, so nothing else would.
     */
    private readonly stallMs: number,
  ) {
    super();
  }

  writeHead(status: number, _message: string | undefined, headers: readonly string[]): void {
    this.statusCode = status;
    const head = [":status", String(status)];
    // No content in a 204 or 205 (RFC 9110 15.3.5, 15.3.6): node ends their
    // streams with the head, so a length above 0 would contradict it.
    const noLength = status === 204 || status === 205;
    let known = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!.toLowerCase();
      if (NOT_IN_ANSWERS.has(name) || (noLength && name === "content-length")) continue;
      // The proxy's own (HSTS) replaces the server's.
      if (this.own.names.size > 0 && this.own.names.has(name)) continue;
      if (name === "trailer") this.mayHaveTrailers = true;
      else if (name === "content-length") known = true;
      head.push(name, headers[i + 1]!);
    }
    for (const field of this.own.list) head.push(field);
    if (!known) this.mayHaveTrailers = true;
    this.bodiless = this.headOnly || noLength || status === 304;
    this.pending = head;
  }

  writeInterim(status: number, _message: string | undefined, headers: readonly string[]): void {
    // 100: the proxy sends the body upstream at once, it has no use for one; 101: no upgrade over HTTP/2.
    if (this.headersSent || this.done || status === 100 || status === 101) return;
    const head = headerObject(headers);
    head[":status"] = status;
    this.attempt(() => this.stream.additionalHeaders(head));
  }

  flushHead(): void {
    if (this.pending === undefined || this.done) return;
    this.respond(false);
    const held = this.held;
    this.held = undefined;
    if (held !== undefined && !this.stream.destroyed)
      for (const chunk of held) this.stream.write(chunk);
  }

  write(chunk: Buffer): boolean {
    if (this.done || this.bodiless || chunk.length === 0) return true;
    if (this.pending !== undefined) {
      (this.held ??= []).push(chunk);
      return true;
    }
    if (this.stream.destroyed) return true;
    const flowing = this.stream.write(chunk);
    if (!flowing) this.watchStall();
    return flowing;
  }

  /** The answer waits on the client: reset the stream unless it takes some within stallMs. */
  private watchStall(): void {
    if (this.stall !== undefined) return;
    this.stall = setTimeout(() => this.destroy(), this.stallMs);
    if (this.stallWatched) return;
    // Listeners added once per answer: a long download waits on its client
    // many times (each added its own, past the stream's 10 before a warning).
    this.stallWatched = true;
    const taken = () => {
      clearTimeout(this.stall);
      this.stall = undefined;
    };
    this.stream.on("drain", taken);
    this.stream.once("finish", taken);
    this.stream.once("close", taken);
  }

  end(body?: Buffer, trailers?: readonly string[]): void {
    if (this.done) return;
    if (body !== undefined) this.write(body);
    const held = this.held;
    this.held = undefined;
    if (this.pending !== undefined) this.respond(trailers !== undefined);
    if (!this.bodiless && !this.stream.destroyed) {
      this.trailers = trailers;
      // Head and body of a whole answer: one HEADERS and one DATA frame ending the stream.
      const last = held?.pop();
      if (held !== undefined) for (const chunk of held) this.stream.write(chunk);
      this.stream.end(last);
      if (this.stream.writableNeedDrain) this.watchStall();
    }
    this.closed();
    if (!this.keepAlive) this.stream.session?.close();
  }

  destroy(): void {
    // The stream alone: the connection's other streams go on.
    if (!this.stream.destroyed) this.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  }

  onceDrain(listener: () => void): void {
    this.stream.once("drain", listener);
  }

  /**
   * Sends the head. The stream waits for trailers when some are known to
   * follow (`withTrailers`) or may (mayHaveTrailers); otherwise (a body of
   * known length) the last DATA frame ends the stream.
   */
  private respond(withTrailers: boolean): void {
    const head = this.pending!;
    this.pending = undefined;
    this.headersSent = true;
    const waitForTrailers = !this.bodiless && (withTrailers || this.mayHaveTrailers);
    if (waitForTrailers)
      this.stream.once("wantTrailers", () => {
        const trailers = this.trailers;
        this.trailers = undefined;
        // Thrown here it would reach no caller: the process would go.
        this.attempt(() =>
          this.stream.sendTrailers(trailers === undefined ? {} : headerObject(trailers)),
        );
      });
    this.attempt(() => this.stream.respond(head, { endStream: this.bodiless, waitForTrailers }));
  }

  /** A stream the client has reset refuses writes: the answer is abandoned. */
  private attempt(send: () => void): void {
    if (this.stream.destroyed || this.stream.closed) return;
    try {
      send();
    } catch {
      this.destroy();
    }
  }
}

/** A flat [name, value, ...] list as HTTP/2 fields (interim heads, trailers): names in lower case, repeats as lists. */
function headerObject(list: readonly string[]): OutgoingHttpHeaders {
  const head: OutgoingHttpHeaders = {};
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!.toLowerCase();
    if (NOT_IN_ANSWERS.has(name)) continue;
    const value = list[i + 1]!;
    const previous = head[name];
    if (previous === undefined) head[name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else head[name] = [String(previous), value];
  }
  return head;
}

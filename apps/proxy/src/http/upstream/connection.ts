// One kept-alive HTTP/1.1 connection to a server, carrying one exchange at a
// time: it writes the request (the body streamed with backpressure, chunked
// when its length is unknown), reads the response through Node's strict
// parser, and either goes back to its pool or closes. Timeouts: connect, and
// the server's silence while an answer is awaited (the same limit between
// chunks of the answer); time spent waiting on a slow client is not counted.

import { connect, type Socket } from "node:net";
import { LAST_CHUNK, chunkHeader, lastChunk } from "../chunked.js";
import { BodyPump } from "./body-pump.js";
import { closesConnection } from "../llhttp.js";
import {
  CONNECT_TIMEOUT,
  IDLE_MS,
  SERVER_TIMEOUT,
  UNASKED_UPGRADE,
  UNKNOWN_CODING,
  UpstreamError,
  readHead,
  type Exchange,
  type Request,
  type UpstreamLink,
  type UpstreamOptions,
} from "./exchange.js";
import { requestHead } from "./request-head.js";
import { createResponseParser, type ResponseParser } from "./response-parser.js";

/** What a connection needs from its pool. */
export interface Home {
  readonly host: string;
  readonly port: number;
  readonly options: UpstreamOptions;
  /** The connection may carry another exchange (it closes itself when idle too long). */
  release(connection: UpstreamConnection): void;
  /** The connection is established. */
  connected(connection: UpstreamConnection): void;
  /** The connection is closed: never hand it out again. */
  forget(connection: UpstreamConnection): void;
}

/**
 * Every connection reads into this one buffer (net's `onread`), where a
 * 'data' event costs a 64 KiB allocation, an ArrayBuffer and a trip through
 * the stream machinery per read. One process handles one read at a time, and
 * the parser copies out all it hands on (header strings, body pieces: the
 * large-answer tests in slow-and-large.test.ts check the bytes), so nothing
 * refers to the buffer once a read is parsed and one serves every connection.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export class UpstreamConnection implements UpstreamLink {
  private readonly socket: Socket;
  private readonly parser: ResponseParser;
  private exchange: Exchange | undefined;
  private request: Request | undefined;
  private connected = false;
  /** The connect timeout fired once and waits for the loop's poll (onTimeout). */
  private connectChecked = false;
  /** Exchanges completed on this connection: more than none means reused. */
  private completed = 0;
  /** The current exchange's request is entirely written. */
  private requestSent = false;
  /** The current exchange's final head arrived. */
  private answered = false;
  /** Any byte of the current exchange's response arrived. */
  private heard = false;
  private keepAlive = false;
  /** The current exchange has started reading the client's body. */
  private bodyTaken = false;
  private idleMs = IDLE_MS;
  /** When it last went back to its pool (performance.now() time). */
  releasedAt = 0;
  /** While idle: when it stops being safe to send on (performance.now() time). */
  private idleUntil = 0;
  private socketError: Error | undefined;
  /** Reading held back for a slow client (pause()). */
  private paused = false;
  /** The server sent bytes no request asked for: the connection is not used again. */
  private stray = false;
  /** An exchange whose answer completed in the read being parsed, told at its end. */
  private ended:
    { exchange: Exchange; trailers: string[] | undefined; reusable: boolean } | undefined;

  constructor(private readonly home: Home) {
    this.parser = createResponseParser({
      onBegin: () => this.onBegin(),
      onHead: (status, message, raw, upgrade, keepAlive) =>
        this.onHead(status, message, raw, upgrade, keepAlive),
      onBody: (chunk) => this.exchange?.onBody(chunk),
      onComplete: (trailers) => this.onComplete(trailers),
    });
    const socket = connect({
      host: home.host,
      port: home.port,
      lookup: home.options.lookup,
      noDelay: true,
      onread: { buffer: READ_BUFFER, callback: this.onRead },
    });
    this.socket = socket;
    // One timer for the connection's whole life, re-armed only by pause():
    // the connect timeout, then the server timeout. Setting a socket timeout
    // allocates a new timer, so idle expiry is a time compared in `idle`.
    socket.setTimeout(home.options.connectMs);
    socket.once("connect", () => {
      this.connected = true;
      socket.setKeepAlive(true, 60_000);
      socket.setTimeout(home.options.serverMs);
      if (this.request) this.send(this.request);
      home.connected(this);
    });
    socket.on("end", () => this.onServerEnd());
    socket.on("timeout", () => this.onTimeout());
    socket.on("error", (error) => (this.socketError = error));
    socket.on("close", () => {
      this.parser.close();
      this.home.forget(this);
      if (this.exchange) this.fail(this.closedError());
    });
  }

  /** Bytes from the server, in READ_BUFFER; true: keep reading (pause() stops it). */
  private readonly onRead = (length: number): boolean => {
    this.heard = true;
    const error = this.parser.execute(READ_BUFFER.subarray(0, length));
    if (error) this.fail(invalid(error));
    else this.exchange?.onReadEnd();
    if (this.stray) this.close();
    this.finishExchange();
    return true;
  };

  /** Starts an exchange; the connection must be fresh or just taken from the idle pool. */
  dispatch(exchange: Exchange, request: Request): void {
    this.exchange = exchange;
    this.request = request;
    this.requestSent = false;
    this.answered = false;
    this.heard = false;
    this.bodyTaken = false;
    // Until connected nothing is written: a connection that fails has consumed
    // none of the body, so the request can go to another server whole.
    if (this.connected) this.send(request);
  }

  /** The client reads slower than the server sends: stop reading (and timing) the server. */
  pause(): void {
    this.paused = true;
    this.socket.pause();
    this.socket.setTimeout(0);
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.setTimeout(this.home.options.serverMs);
    this.socket.resume();
  }

  /** Idle in its pool, still open, and not idle so long the server may be closing it. */
  get idle(): boolean {
    return (
      this.exchange === undefined && !this.socket.destroyed && performance.now() < this.idleUntil
    );
  }

  /** The client left: the exchange is abandoned and the connection closed (it is mid-message). */
  abort(): void {
    this.exchange = undefined;
    this.pump.stop(false);
    this.close();
  }

  /** Closes at once, out of the pool before the socket's 'close' event comes. */
  private close(): void {
    this.home.forget(this);
    this.socket.destroy();
  }

  private send(request: Request): void {
    const { socket } = this;
    const body = request.body;
    const { method, target, headers, chunked } = request;
    socket.write(requestHead(method, target, headers, chunked), "latin1");
    if (!body) {
      this.requestSent = true;
      return;
    }
    this.bodyTaken = true;
    this.pump.start(body, socket);
  }

  /** The client's body to the server; a chunked one chunk by chunk. */
  private readonly pump = new BodyPump(
    (chunk) => {
      const { socket } = this;
      if (!this.request!.chunked) return socket.write(chunk);
      socket.cork();
      socket.write(chunkHeader(chunk.length), "latin1");
      socket.write(chunk);
      const flowing = socket.write("\r\n", "latin1");
      socket.uncork();
      return flowing;
    },
    () => {
      const request = this.request!;
      if (request.chunked) {
        const trailers = request.trailers?.();
        this.socket.write(trailers ? lastChunk(trailers) : LAST_CHUNK, "latin1");
      }
      this.requestSent = true;
    },
  );

  /**
   * A response begins. Only one that answers the request out may: bytes
   * after a complete answer, or while none is awaited, are a server out of
   * step, and would become the start of the next client's answer if the
   * connection were used again (RFC 9112 6.3: never forwarded).
   */
  private onBegin(): void {
    if (this.exchange === undefined || this.answered) this.stray = true;
  }

  private onHead(
    status: number,
    message: string,
    raw: string[],
    upgrade: boolean,
    keepAlive: boolean,
  ): boolean {
    const exchange = this.exchange;
    if (!exchange) {
      // Bytes from the server while no request is out: it cannot be trusted with one.
      this.close();
      return true;
    }
    // Three digits, 100 to 599 (RFC 9110 15): anything else is no HTTP status.
    if (status < 100 || status > 599) {
      this.fail(new UpstreamError(`invalid status ${status}`, "HPE_INVALID_STATUS"));
      return true;
    }
    // Requests sent here never ask to switch protocols (upgrades go through
    // websocket.ts), whether or not the 101 names an Upgrade.
    if (upgrade || status === 101) {
      this.fail(new UpstreamError("server switched protocols unasked", UNASKED_UPGRADE));
      return true;
    }
    if (status < 200) {
      exchange.onInterim(status, message, raw);
      // A 1xx ends with its head (RFC 9110 15.2), whatever length it names:
      // llhttp reads a body for 1xx codes it does not know (150), which
      // would relay the final answer's bytes as that body and put every
      // later answer on the client's connection one request behind.
      return true;
    }
    const head = readHead(raw);
    if (head.unknownCoding) {
      // A coding other than chunked: relayed without its label the body
      // would change meaning, and it cannot be undone here (RFC 9112 6.1).
      this.fail(new UpstreamError("response in an unknown transfer coding", UNKNOWN_CODING));
      return true;
    }
    this.answered = true;
    this.keepAlive = keepAlive;
    this.idleMs = head.idleMs;
    exchange.onHead(status, message, raw);
    return this.request!.headOnly;
  }

  /**
   * The answer is complete. Its end is told once the whole read is parsed
   * (finishExchange): bytes after it in the same read are a server out of
   * step, found only then, and the pool's release() may hand the connection
   * at once to a request waiting for one (pool.ts), which must not get them.
   */
  private onComplete(trailers: string[] | undefined): void {
    const exchange = this.exchange;
    if (!exchange || !this.answered) return; // nothing out, or a 1xx answer ended
    const reusable =
      this.keepAlive && this.requestSent && this.idleMs > 0 && !closesConnection(trailers);
    this.exchange = undefined;
    this.pump.stop(!this.requestSent);
    this.request = undefined;
    this.ended = { exchange, trailers, reusable };
  }

  /**
   * Tells a completed exchange its end, then puts the connection back in
   * its pool (or closes it). Not the other way round, although the end frees
   * the request's slot (server-slots.ts) and a queued request granted in that
   * call then opens a connection of its own: handed this one at once, it
   * would get any bytes the server sends after its answer (a reused
   * connection's old race, made certain), a connection the server is just
   * closing, and one the end may still pause for a slow client.
   */
  private finishExchange(): void {
    const ended = this.ended;
    if (ended === undefined) return;
    this.ended = undefined;
    ended.exchange.onEnd(ended.trailers);
    if (ended.reusable && !this.stray && !this.socket.destroyed) {
      this.completed++;
      // The answer ended in the read that filled the client's buffer: nothing
      // is left to hold back, and the next exchange must find it reading.
      this.resume();
      this.releasedAt = performance.now();
      this.idleUntil = this.releasedAt + this.idleMs;
      this.home.release(this);
    } else this.close();
  }

  private onServerEnd(): void {
    // A body read until the server closes ends here; a cut message is an error.
    const error = this.parser.finish();
    if (this.exchange) this.fail(error ? invalid(error) : this.closedError());
    else this.close();
    this.finishExchange();
  }

  private onTimeout(): void {
    if (!this.connected) {
      // Timers run before the poll that reports a connect: on a loaded event
      // loop the connect may be done and its event not yet seen. After this
      // loop's poll (setImmediate) the verdict is the connection's own.
      if (!this.connectChecked) {
        this.connectChecked = true;
        setImmediate(() => {
          if (!this.connected && !this.socket.destroyed) this.onTimeout();
        });
        return;
      }
      this.fail(
        new UpstreamError(
          `connect timeout after ${this.home.options.connectMs} ms`,
          CONNECT_TIMEOUT,
        ),
      );
      return;
    }
    if (!this.exchange) {
      this.close(); // idle for the whole server timeout
      return;
    }
    const body = this.request?.body;
    // Still sending a body that the client is slow to give: not the server's fault.
    if (!this.requestSent && body && !body.isPaused()) return;
    this.fail(
      new UpstreamError(`no answer within ${this.home.options.serverMs} ms`, SERVER_TIMEOUT),
    );
  }

  private closedError(): UpstreamError {
    const code = errnoCode(this.socketError) ?? "ECONNRESET";
    const stale = this.completed > 0 && !this.heard && (code === "ECONNRESET" || code === "EPIPE");
    return new UpstreamError(
      this.socketError?.message ?? "server closed the connection",
      code,
      stale,
    );
  }

  private fail(error: UpstreamError): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    this.pump.stop(false);
    this.close();
    error.bodyTaken = this.bodyTaken;
    error.heard = this.heard;
    exchange?.onError(error);
  }
}

function errnoCode(error: Error | undefined): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function invalid(error: Error): UpstreamError {
  return new UpstreamError(
    `invalid response: ${error.message}`,
    errnoCode(error) ?? "HPE_INVALID_RESPONSE",
  );
}

// One client connection: llhttp reads its requests (strict, like node:http's
// server, which this replaces on the proxy port for speed), they are answered
// one at a time in order (pipelined ones wait their turn), and the
// connection is kept alive, closed, or handed over (Upgrade) as the messages
// say. Bytes the parser refuses get a 4xx and a closed connection; nothing
// of a refused request reaches the handler.
//
// Heads are read the way node:http's server reads them: the parser takes the
// socket's reads in C++ (consume), which saves a 64 KiB allocation, a Buffer
// and a trip through the stream machinery per read. Whatever a stream does
// better goes back to 'data' events (release): a body, streamed with
// backpressure and its reads keeping the socket's timeout alive; pausing;
// the handover of an upgrade; the end of reading. With ACCEPT_PROXY a PROXY
// protocol header comes first (proxy-protocol.ts), read from 'data' events.

import { STATUS_CODES } from "node:http";
import { Socket } from "node:net";
import {
  METHODS,
  MessageFields,
  Parser,
  closesConnection,
  createParser,
  restartParser,
  type NodeParser,
} from "../llhttp.js";
import {
  ClientRequest,
  RequestBody,
  hasBody,
  headerObject,
  HOST,
  codingRefusal,
  errorStatus,
  isWebSocket,
  plainAddress,
  setHost,
  setUpgrade,
  tlsVersionOf,
  REFUSED,
  parseErrorReason,
} from "./request.js";
import { readProxyHeader } from "./proxy-protocol.js";
import { ClientResponse, type ResponseOwner } from "./response.js";
import { NO_OWN_FIELDS, type OwnFields, type ResponseWriter } from "./response-writer.js";
import { readTarget } from "./target.js";

export interface ServerHandlers {
  request(req: ClientRequest, res: ResponseWriter): void;
  /** An Upgrade request: from now on the socket is the handler's. */
  upgrade(req: ClientRequest, socket: Socket, head: Buffer): void;
  /** A request refused while it was read, never routed: the proxy answered it itself. */
  rejected(request: RejectedRequest): void;
}

/**
 * A request refused while it was read (400, 408, 414, 431, 501, 505), as
 * HAProxy logs one it cannot parse (<BADREQ>) and nginx logs its 400s.
 */
export interface RejectedRequest {
  /** The client's address (a PROXY protocol header's when there is one). */
  client: string | undefined;
  status: number;
  /** What was wrong: llhttp's error code and message, or the rule the head broke. */
  reason: string;
  /** HTTP/1.1, HTTP/2.0; undefined when the request line could not be read. */
  proto: string | undefined;
  /** The TLS version on the TLS port ("TLSv1.3"). */
  tls: string | undefined;
}

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly handlers: ServerHandlers;
  /** The server is stopping: answer what is in flight, then close. */
  readonly closing: boolean;
  /** Connections start with a PROXY protocol header. */
  readonly acceptProxy: boolean;
  /** A half-close drops the request in flight while none of it has reached a server. */
  readonly abortOnClose: boolean;
  /** Counts the connection against the client address its PROXY header named (client-gate.ts); false: closed. */
  claim(socket: Socket, address: string | undefined): boolean;
  forget(connection: ClientConnection): void;
}

/** A connection the TLS port hands over once secure (tls-server.ts). */
export interface SecuredConnection {
  /** The client: the PROXY header's, else the socket's peer. */
  remoteAddress: string | undefined;
  /** Fields added to every final answer (Strict-Transport-Security). */
  own: OwnFields;
}

/**
 * A read re-arms the socket's timeout; one the parser takes itself does not
 * pass through the socket, so it is re-armed here, as node:http's server does.
 * An internal method: socketProblem() says when it is gone.
 */
const rearm = (Socket.prototype as unknown as Record<string, unknown>)._unrefTimer as (
  this: Socket,
) => void;

/** Why the connection cannot run on this Node (a net.Socket method it needs is gone), or undefined. */
export function socketProblem(prototype: object = Socket.prototype): string | undefined {
  return typeof (prototype as Record<string, unknown>)._unrefTimer === "function"
    ? undefined
    : `net.Socket's _unrefTimer is missing in Node ${process.version}`;
}

/** Pipelined requests held at most before the socket stops being read. */
const MAX_QUEUED = 16;
const CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n";

export class ClientConnection implements ResponseOwner {
  private readonly parser: NodeParser;
  /** Requests read and not yet answered, in order; the first is being answered when `response` is set. */
  private readonly queue: ClientRequest[] = [];
  private response: ClientResponse | undefined;
  /** The request whose body is being read. */
  private reading: ClientRequest | undefined;
  /** Header lines llhttp hands over outside the head callback: a long head's, or trailers. */
  private readonly fields = new MessageFields();
  /** When the head now being read began (performance.now()); 0 when none is. Checked by the server. */
  headSince: number;
  /** When the connection went idle between requests; 0 while it is not. Checked by the server. */
  idleSince = 0;
  /** No request is read after the ones already queued. */
  private last = false;
  /** A status to refuse the request just parsed with (found inside a parser callback). */
  private refusal = 0;
  /** A request was refused after others still to be answered: this status follows their answers. */
  private refusedAfter = 0;
  /** Why `refusal` or `refusedAfter` (RejectedRequest). */
  private refusalReason = "";
  /** The version of the request refused, when its line was read. */
  private refusalProto: string | undefined;
  /**
   * llhttp will stop at the end of this request (an upgrade it is asked to
   * decline, or the queue is full): what follows in that read is kept in
   * `held` and parsed when there is room again.
   */
  private stopAfter: ClientRequest | undefined;
  /** llhttp stopped at the end of `stopAfter` in the read being parsed. */
  private stopped = false;
  /** Bytes of a read llhttp stopped short of, parsed when the queue has room. */
  private held: Buffer | undefined;
  /** Body pieces of the request being read, handed on once per read (many tiny chunks are one write). */
  private bodyPieces: Buffer[] = [];
  private upgrading: ClientRequest | undefined;
  private upgradeHead: Buffer | undefined;
  /** Reading paused: too many pipelined requests wait, or a body's reader is full. */
  private queueFull = false;
  private bodyFull = false;
  /** The parser takes the socket's reads (no 'data' events). */
  private consumed = false;
  /** Requests completed in the read being parsed. */
  private completedInRead = 0;
  /** The client's address: the socket's peer, or the one a PROXY protocol header names. */
  private remoteAddress: string | undefined;
  /** With acceptProxy: what has come of the PROXY protocol header so far (undefined once read). */
  private preamble: Buffer | undefined;
  readonly own: OwnFields;

  constructor(
    readonly socket: Socket,
    private readonly host: ConnectionHost,
    /** Given for a TLS connection: its PROXY header, if any, is already read. */
    secured?: SecuredConnection,
  ) {
    this.headSince = performance.now();
    const parser = createParser(Parser.REQUEST);
    parser[Parser.kOnHeaders] = (headers: string[], url: string) => this.fields.add(headers, url);
    parser[Parser.kOnHeadersComplete] = this.onHead;
    parser[Parser.kOnBody] = this.onBody;
    parser[Parser.kOnMessageComplete] = this.onMessageComplete;
    parser[Parser.kOnExecute] = this.onExecute;
    this.parser = parser;
    this.remoteAddress = secured?.remoteAddress ?? plainAddress(socket.remoteAddress);
    this.own = secured?.own ?? NO_OWN_FIELDS;
    if (host.acceptProxy && secured === undefined) {
      // Counted against the headers timeout like the head that follows it.
      this.preamble = Buffer.alloc(0);
      socket.on("data", this.onPreamble);
    } else {
      socket.on("data", this.onData);
      this.consume();
    }
    socket.on("drain", () => this.response?.drained());
    socket.on("end", this.onEnd);
    socket.on("timeout", this.onTimeout);
    socket.on("error", () => {}); // 'close' follows
    socket.on("close", this.onClose);
  }

  /** Nothing in flight and nothing being read: the server may close it at once. */
  get idle(): boolean {
    return (
      this.response === undefined &&
      this.queue.length === 0 &&
      this.reading === undefined &&
      (this.idleSince !== 0 || this.socket.bytesRead === 0)
    );
  }

  /**
   * The head being read took longer than the headers timeout (slowloris).
   * An answer in flight is finished first; the connection closes after it.
   */
  headTimedOut(): void {
    this.headSince = 0;
    if (this.response === undefined) {
      this.because(REFUSED.headTimeout);
      this.closeWith(408);
    } else this.stopReading();
  }

  finished(response: ClientResponse, keepAlive: boolean): void {
    if (response !== this.response) return;
    this.response = undefined;
    const request = this.queue.shift()!;
    if (keepAlive && this.refusedAfter !== 0 && this.queue.length === 0) {
      this.closeWith(this.refusedAfter);
      return;
    }
    if (!keepAlive || this.host.closing || (this.last && this.queue.length === 0)) {
      this.stopReading();
      this.socket.end();
      this.socket.resume(); // whatever still comes is read and dropped, up to the client's close
      // The client is still sending a body nobody will read: do not wait for it.
      if (!request.complete) this.socket.once("finish", () => this.socket.destroy());
      return;
    }
    // Answered before its body was all in: the rest is read and dropped.
    if (!request.complete) request.body?.resume();
    if (this.queueFull && this.queue.length < MAX_QUEUED) {
      this.queueFull = false;
      if (this.held !== undefined) queueMicrotask(this.readHeld);
      else if (!this.bodyFull) this.socket.resume();
    }
    if (this.queue.length > 0) queueMicrotask(() => this.dispatch());
    else if (this.reading === undefined && this.headSince === 0) this.idleSince = performance.now();
  }

  /** The queue has room again: the bytes llhttp stopped short of are read, then the socket. */
  private readonly readHeld = () => {
    const held = this.held;
    this.held = undefined;
    if (held === undefined || this.socket.destroyed) return;
    this.parsed(this.parser.execute(held), held);
    if (!this.queueFull && !this.bodyFull && !this.last) this.socket.resume();
  };

  /** Bytes before the PROXY protocol header is complete; a connection without one is closed. */
  private readonly onPreamble = (data: Buffer) => {
    const bytes = this.preamble!.length === 0 ? data : Buffer.concat([this.preamble!, data]);
    const header = readProxyHeader(bytes);
    if (header.state === "partial") {
      this.preamble = bytes;
      return;
    }
    if (header.state === "invalid") {
      // As HAProxy does: nothing to answer a peer that does not speak it.
      this.socket.destroy();
      return;
    }
    this.preamble = undefined;
    if (header.source !== undefined) this.remoteAddress = header.source;
    if (!this.host.claim(this.socket, this.remoteAddress)) return;
    this.socket.removeListener("data", this.onPreamble);
    this.socket.on("data", this.onData);
    const rest = bytes.subarray(header.length);
    if (rest.length > 0) this.onData(rest);
    else this.consume();
  };

  /** A read, when the parser does not take them itself. */
  private readonly onData = (data: Buffer) => {
    if (this.last && this.reading === undefined) return; // nothing after the last request is read
    if (this.reading === undefined && this.headSince === 0 && !onlyLineEnds(data)) {
      // The start of a head. Timed from the read that brings its first bytes,
      // not llhttp's message-begin callback, which would cost a call into JS
      // per request; a head begun in the same read as the end of the one
      // before is timed from the next read (until then it counts as idle).
      // Empty lines before a request are not one (RFC 9112 2.2).
      this.headSince = performance.now();
      this.idleSince = 0;
    }
    this.parsed(this.parser.execute(data), data);
    this.completedInRead = 0;
    if (this.consumed || this.reading !== undefined || this.last || this.upgrading) return;
    // Back to the fast path once nothing waits in the stream and it flows.
    if (!this.queueFull && !this.bodyFull && this.socket.readableLength === 0) this.consume();
  };

  /** A read the parser took itself (consume) has been parsed. */
  private readonly onExecute = (result: number | Error) => {
    rearm.call(this.socket);
    // Only now is it known that this read began a head: one that completed
    // no request and left none reading a body brought the start of one.
    if (
      this.reading === undefined &&
      this.completedInRead === 0 &&
      this.headSince === 0 &&
      !onlyLineEnds(this.parser.getCurrentBuffer())
    ) {
      this.headSince = performance.now();
      this.idleSince = 0;
    }
    this.completedInRead = 0;
    this.parsed(result, undefined);
    if (this.reading !== undefined || this.last || this.queueFull || this.bodyFull) this.release();
  };

  /** What llhttp made of a read (`data`: the read, when a 'data' event brought it). */
  private parsed(result: number | Error, data: Buffer | undefined): void {
    if (typeof result !== "number") {
      // After a request that closes the connection, what follows is dropped, not refused.
      if (!this.last || this.reading !== undefined) {
        this.because(parseErrorReason(result));
        this.refuse(errorStatus(result, data ?? this.parser.getCurrentBuffer()));
        this.dispatch();
        return;
      }
    } else if (this.refusal !== 0) {
      this.refuse(this.refusal);
      this.dispatch();
      return;
    } else if (this.stopped) {
      // llhttp stopped at the end of `stopAfter`: the rest of the read is
      // the next request (or more), read now, or once the queue has room.
      this.stopped = false;
      const rest = (data ?? this.parser.getCurrentBuffer()).subarray(result);
      restartParser(this.parser, Parser.REQUEST);
      if (rest.length > 0) {
        if (!this.queueFull) {
          this.parsed(this.parser.execute(rest), rest);
          return;
        }
        // A copy: a read's buffer may be reused once this returns.
        this.held = Buffer.from(rest);
      }
    }
    this.flushBody();
    if (this.upgrading && this.upgradeHead === undefined && typeof result === "number") {
      // The bytes behind the head belong to the new protocol.
      this.upgradeHead = (data ?? this.parser.getCurrentBuffer()).subarray(result);
      this.stopReading();
      this.socket.pause();
    }
    // Dispatched only now that llhttp has judged the whole read: it refuses
    // some framing (an obfuscated Transfer-Encoding) just after the head.
    this.dispatch();
  }

  /**
   * The parser takes the socket's reads from now on (the socket must be
   * flowing, its buffer empty, and no bytes held: those come first).
   */
  private consume(): void {
    if (this.held !== undefined) return;
    const handle = (this.socket as unknown as { _handle?: { isStreamBase?: boolean } })._handle;
    if (handle?.isStreamBase !== true) return;
    this.parser.consume(handle);
    this.consumed = true;
  }

  /** Reads go back to 'data' events, where the socket can pause them. */
  private release(): void {
    if (!this.consumed) return;
    this.consumed = false;
    this.parser.unconsume();
  }

  private readonly onHead = (
    major: number,
    minor: number,
    headers: string[] | undefined,
    method: number,
    rawUrl: string | undefined,
    _status: unknown,
    _message: unknown,
    upgrade: boolean,
    keepAlive: boolean,
  ): number => {
    // A message's state begins here, with its head, and ends in onMessageComplete.
    this.headSince = 0;
    const url = this.fields.target(rawUrl);
    const raw = this.fields.head(headers);
    // HTTP/1.0 and 1.1 only: a 0.9 request has no head to forward (RFC 9112 2.3).
    const version = `${major}.${minor}`;
    if (major !== 1 || minor > 1)
      return this.refuseHead(major === 0 ? 400 : 505, REFUSED.version(major, minor), version);
    const parsed = headerObject(raw);
    // Exactly one Host in HTTP/1.1, and a valid one (RFC 9112 3.2), as node:http asks.
    if (parsed === undefined) return this.refuseHead(400, REFUSED.repeatedField, version);
    if (minor === 1 && parsed.host === undefined)
      return this.refuseHead(400, REFUSED.noHost, version);
    if (parsed.host !== undefined && !HOST.test(parsed.host as string))
      return this.refuseHead(400, REFUSED.invalidHost, version);
    const name = METHODS[method]!;
    // A tunnel to an address of the client's choosing: not what this proxy is for.
    if (upgrade && name === "CONNECT") return this.refuseHead(501, REFUSED.connect, version);
    const coding = parsed["transfer-encoding"];
    if (coding !== undefined) {
      const refusal = codingRefusal(coding as string);
      if (refusal !== 0) return this.refuseHead(refusal, REFUSED.coding, version);
    }
    const target = readTarget(name, url);
    if ("refused" in target) return this.refuseHead(target.refused, REFUSED.target, version);
    // Only WebSocket is carried to a server, asked for by a GET with no body;
    // another protocol offered (h2c) is declined by going on in HTTP/1.1, as
    // a server may (RFC 9110 7.8). llhttp still stops after the message.
    let declined = false;
    if (upgrade && (!isWebSocket(name, parsed.upgrade) || hasBody(parsed))) {
      upgrade = false;
      declined = true;
    } else if (upgrade) setUpgrade(raw, parsed);
    // Absolute form: the target's authority replaces Host (RFC 9112 3.2.2).
    if (target.authority !== undefined) setHost(raw, parsed, target.authority);
    const request = new ClientRequest(
      this.socket,
      this.remoteAddress,
      name,
      target.path,
      minor === 0 ? "1.0" : "1.1",
      raw,
      parsed,
      keepAlive && !upgrade,
    );
    const body = hasBody(parsed);
    if (body) request.body = new RequestBody(this.wantBody);
    this.queue.push(request);
    this.reading = request;
    if (declined) this.stopAfter = request;
    if (this.queue.length >= MAX_QUEUED) {
      this.queueFull = true;
      this.socket.pause();
      // No head is parsed beyond a full queue: a client that pipelines
      // thousands of requests in one write does not get them all read at
      // once. A request with a body cannot stop llhttp (2 would skip the
      // body); past twice the queue's size one is refused instead.
      if (!body) {
        this.stopAfter = request;
        return 2;
      }
      if (this.queue.length >= 2 * MAX_QUEUED) {
        this.queue.pop();
        this.reading = undefined;
        return this.refuseHead(400, "too many requests pipelined", version);
      }
    }
    if (!upgrade) return 0;
    // 2: llhttp stops after this head; the bytes behind it belong to the new protocol.
    this.upgrading = request;
    return 2;
  };

  /** Refuses the head just parsed once llhttp returns; 2: it reads nothing after it. */
  private refuseHead(status: number, reason: string, version: string): number {
    this.refusal = status;
    this.because(reason, version);
    return 2;
  }

  /** Why the request about to be refused is (RejectedRequest); `version` when its line was read. */
  private because(reason: string, version?: string): void {
    this.refusalReason = reason;
    this.refusalProto = version === undefined ? undefined : `HTTP/${version}`;
  }

  private readonly onBody = (chunk: Buffer) => {
    this.bodyPieces.push(chunk);
  };

  /** Hands the body pieces of this read on in one push; a full reader pauses the socket. */
  private flushBody(): void {
    const pieces = this.bodyPieces;
    if (pieces.length === 0) return;
    this.bodyPieces = [];
    const body = this.reading?.body;
    if (!body || body.destroyed) return;
    if (!body.push(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces))) {
      this.bodyFull = true;
      this.socket.pause();
    }
  }

  private readonly onMessageComplete = () => {
    this.completedInRead++;
    const trailers = this.fields.end();
    const request = this.reading;
    if (request === undefined) return;
    this.flushBody();
    this.reading = undefined;
    if (request === this.stopAfter) {
      this.stopAfter = undefined;
      this.stopped = true;
    }
    request.complete = true;
    if (request.body) request.body.trailers = trailers;
    request.body?.push(null);
    // An ended body asks for no more: what follows is the next request's.
    if (this.bodyFull) this.wantBody();
    if (!request.keepAlive || closesConnection(trailers)) this.last = true;
    else if (this.response === undefined && this.queue.length === 0)
      this.idleSince = performance.now();
  };

  /**
   * The socket was silent both ways for the client timeout. While a request
   * waits on its server (its body all read, nothing held up by the client)
   * the server timeout is the one that applies, as in HAProxy: a slow server
   * gets its 504, not a cut connection. Any write re-arms the timer.
   */
  private readonly onTimeout = () => {
    const waitingOnServer =
      this.response !== undefined &&
      !this.socket.writableNeedDrain &&
      (this.reading === undefined || this.bodyFull);
    if (waitingOnServer) return;
    // A head awaited and not complete (a new connection's first one
    // included): 408, as the head timeout (server.ts) would say, whose
    // check may come up to a second after this timer; as HAProxy says it.
    if (this.headSince !== 0 && this.response === undefined && this.queue.length === 0)
      this.headTimedOut();
    else this.socket.destroy();
  };

  /** The body's reader wants more: read the socket again, unless the queue is full. */
  private readonly wantBody = () => {
    this.bodyFull = false;
    if (!this.queueFull) this.socket.resume();
  };

  /**
   * The client sent all it will (a half-close): what it asked before is
   * still answered, then the connection closes. A request cut short is
   * abandoned with the connection.
   */
  private readonly onEnd = () => {
    this.last = true;
    // ABORT_ON_CLOSE: a client that shuts its side while its request still
    // waits for a server most likely gave up (HAProxy's abortonclose): the
    // request leaves the queue rather than take a server's time for nobody.
    if (this.host.abortOnClose && this.response?.queued === true) this.socket.destroy();
    else if (this.reading !== undefined || this.headSince !== 0) this.socket.destroy();
    else if (this.response === undefined && this.queue.length === 0) this.socket.end();
  };

  private dispatch(): void {
    if (this.response !== undefined || this.queue.length === 0) return;
    const request = this.queue[0]!;
    if (request === this.upgrading) {
      this.handOver(request);
      return;
    }
    const expect = request.headers.expect;
    let continued = false;
    if (expect !== undefined) {
      if (typeof expect !== "string" || expect.toLowerCase() !== "100-continue") {
        this.because(REFUSED.expect, request.httpVersion);
        this.closeWith(417);
        return;
      }
      if (request.httpVersion === "1.1") {
        this.socket.write(CONTINUE, "latin1");
        continued = true;
      }
    }
    this.idleSince = 0;
    const response = new ClientResponse(
      this,
      request.method === "HEAD",
      request.httpVersion === "1.0",
      request.keepAlive && !this.host.closing,
      continued,
    );
    this.response = response;
    this.host.handlers.request(request, response);
  }

  /** The socket is the upgrade handler's from here on. */
  private handOver(request: ClientRequest): void {
    this.queue.shift();
    this.socket.removeListener("close", this.onClose);
    this.socket.removeListener("end", this.onEnd);
    this.socket.removeAllListeners("drain");
    this.socket.removeAllListeners("timeout");
    this.socket.setTimeout(0);
    this.host.forget(this);
    this.release();
    // Not at once: this may run inside the parser's own read callback.
    const parser = this.parser;
    setImmediate(() => parser.close());
    this.host.handlers.upgrade(request, this.socket, this.upgradeHead ?? Buffer.alloc(0));
  }

  /**
   * Nothing more is read; requests before the refused one are still
   * answered, then `status`, and the connection closes. A request whose body
   * the refusal cut short cannot be answered: when its answer has begun, the
   * connection is cut, so the client cannot take it for whole.
   */
  private refuse(status: number): void {
    this.refusal = 0;
    this.bodyPieces = [];
    this.stopReading();
    const broken = this.reading;
    if (broken !== undefined) {
      this.reading = undefined;
      broken.body?.destroy();
      if (broken === this.queue[0] && this.response !== undefined) {
        this.socket.destroy();
        return;
      }
      this.queue.splice(this.queue.indexOf(broken), 1);
    }
    if (this.response === undefined && this.queue.length === 0) this.closeWith(status);
    else this.refusedAfter = status;
  }

  /**
   * Answers with a short error of our own and closes; no further request is
   * read. The handlers are told of the request refused (refusalReason,
   * refusalProto, set by `because`).
   */
  private closeWith(status: number): void {
    this.host.handlers.rejected({
      client: this.remoteAddress,
      status,
      reason: this.refusalReason,
      proto: this.refusalProto,
      tls: tlsVersionOf(this.socket),
    });
    this.stopReading();
    this.queue.length = 0;
    this.reading?.body?.destroy();
    this.reading = undefined;
    const text = `${status} ${STATUS_CODES[status]}\n`;
    this.socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\nConnection: close\r\n\r\n${text}`,
      "latin1",
    );
  }

  /** Reads no further request (what still arrives is dropped). */
  private stopReading(): void {
    this.last = true;
    this.release();
    this.socket.removeListener("data", this.onData);
    this.socket.removeListener("data", this.onPreamble);
  }

  private readonly onClose = () => {
    this.host.forget(this);
    this.release();
    this.parser.close();
    const response = this.response;
    this.response = undefined;
    response?.lost();
    this.reading?.body?.destroy();
    for (const request of this.queue) request.body?.destroy();
    this.queue.length = 0;
    this.reading = undefined;
  };
}

/** A read of nothing but CR and LF: the empty lines a client may send between requests. */
function onlyLineEnds(read: Buffer): boolean {
  for (let i = 0; i < read.length; i++) if (read[i] !== 13 && read[i] !== 10) return false;
  return true;
}

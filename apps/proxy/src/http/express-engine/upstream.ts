// The express engine's connections to the servers: node:http's client on a
// keep-alive Agent, behind the same interface as the fast engine's
// (../upstream/exchange.ts), so the forwarder, its Relay and its retry rule
// are shared. http-proxy-middleware is not used here: it writes the server's
// answer into a ServerResponse itself (its own header copying, its own
// errors), where the shared Relay must see the head, each body piece and the
// end to add X-Backend and the cookie, hold a head back until an error can no
// longer replace it, and decide a retry. It still carries WebSocket upgrades
// (data-plane/websocket.ts), for both engines.

import {
  Agent,
  request as httpRequest,
  type AgentOptions,
  type ClientRequest,
  type IncomingMessage,
} from "node:http";
import type { Socket } from "node:net";
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
  type Upstream,
  type UpstreamLink,
  type UpstreamOptions,
  type ConnectionCounts,
} from "../upstream/exchange.js";
import { BodyPump } from "../upstream/body-pump.js";
import { TRIM_MS, trimIdle } from "../upstream/idle-trim.js";

/**
 * Listens on an idle pooled socket: bytes from the server while no request
 * is out are a server out of step, and would become the start of the next
 * client's answer (RFC 9112 6.3); the socket is closed, never used again.
 * One function for every socket, so the next exchange can remove it.
 */
function strayBytes(this: Socket): void {
  this.destroy();
}

/** Methods node:http's client sends a body for by default: without one it says Content-Length: 0. */
const BODILESS_BY_DEFAULT = new Set(["GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT"]);

export function createNodeUpstream(options: UpstreamOptions, maxIdle: number): Upstream {
  // Most recently used idle socket first: the least likely to have been
  // closed by the server (as pool.ts). Idle sockets close after IDLE_MS, or
  // a second before the server's Keep-Alive timeout (node:http reads it).
  const pooled = new Agent({
    keepAlive: true,
    scheduling: "lifo",
    timeout: IDLE_MS,
    lookup: options.lookup,
  });
  boundIdle(pooled, maxIdle);
  const peaks = countPeaks(pooled);
  // After a reused connection turned out closed: a new one, not from the pool.
  const fresh = new Agent({ keepAlive: false, lookup: options.lookup });
  return {
    connection: (target, isFresh) => new NodeExchange(target, isFresh ? fresh : pooled, options),
    // The Agent opens connections without a bound: connection() always gives one.
    wait(_target, retry) {
      queueMicrotask(retry);
      return () => {};
    },
    // Never waited on (wait() retries at once): nothing to judge.
    progressed: () => true,
    counts() {
      const counts = new Map<string, ConnectionCounts>();
      const entry = (name: string) => {
        const key = serverKey(name);
        let found = counts.get(key);
        if (found === undefined) counts.set(key, (found = { busy: 0, idle: 0, peak: 0 }));
        return found;
      };
      for (const [name, list] of Object.entries(pooled.sockets)) entry(name).busy += list!.length;
      for (const [name, list] of Object.entries(pooled.freeSockets))
        entry(name).idle += list!.length;
      for (const [name, peak] of peaks) entry(name).peak = peak;
      return counts;
    },
    close() {
      pooled.destroy();
      fresh.destroy();
    },
  };
}

const releasedAt = new WeakMap<Socket, number>();

/**
 * As pool.ts (idle-trim.ts): idle sockets beyond `maxIdle` per server close
 * once unused for TRIM_MS, oldest first. (The Agent's own maxFreeSockets
 * closes them at once, which under load has most requests open a new
 * connection.)
 */
function boundIdle(agent: Agent, maxIdle: number): void {
  let timer: NodeJS.Timeout | undefined;
  const trim = () => {
    timer = undefined;
    let again = false;
    // LIFO scheduling takes from the end: the front is the oldest. The Agent
    // takes a destroyed socket out of its list on 'close'.
    for (const list of Object.values(agent.freeSockets))
      if (
        trimIdle(
          list!,
          maxIdle,
          (s) => releasedAt.get(s) ?? 0,
          (s) => s.destroy(),
        )
      )
        again = true;
    if (again) timer = setTimeout(trim, TRIM_MS).unref();
  };
  agent.on("free", (socket: Socket) => {
    releasedAt.set(socket, performance.now());
    if (timer === undefined) timer = setTimeout(trim, TRIM_MS).unref();
  });
}

/**
 * The most sockets the Agent held open at once per pool name. It says
 * nothing when it opens one, but every new socket comes from its
 * createConnection, called before the socket joins the pool's lists.
 */
function countPeaks(agent: Agent): Map<string, number> {
  const peaks = new Map<string, number>();
  const open = agent.createConnection.bind(agent);
  agent.createConnection = ((options: AgentOptions, ...rest: unknown[]) => {
    const name = agent.getName(options);
    const count = (agent.sockets[name]?.length ?? 0) + (agent.freeSockets[name]?.length ?? 0) + 1;
    if (count > (peaks.get(name) ?? 0)) peaks.set(name, count);
    return (open as (...args: unknown[]) => unknown)(options, ...rest);
  }) as Agent["createConnection"];
  return peaks;
}

/** An Agent's pool name (`host:port:`) as URL.host writes the server (`[v6]:port`). */
function serverKey(name: string): string {
  const trimmed = name.endsWith(":") ? name.slice(0, -1) : name;
  const at = trimmed.lastIndexOf(":");
  const host = trimmed.slice(0, at);
  return `${host.includes(":") ? `[${host}]` : host}:${trimmed.slice(at + 1)}`;
}

class NodeExchange implements UpstreamLink {
  private exchange: Exchange | undefined;
  private request: Request | undefined;
  private outgoing: ClientRequest | undefined;
  private response: IncomingMessage | undefined;
  /** The request, body included, is entirely written. */
  private requestSent = false;
  /** Some of the client's body was read for this exchange. */
  private bodyTaken = false;
  /** Some answer (interim or final) came. */
  private heard = false;
  private paused = false;
  private connectTimer: NodeJS.Timeout | undefined;
  /** onReadEnd is due once the pieces node:http emits for the current read are all in. */
  private readEndDue = false;

  constructor(
    private readonly target: URL,
    private readonly agent: Agent,
    private readonly options: UpstreamOptions,
  ) {}

  dispatch(exchange: Exchange, request: Request): void {
    this.exchange = exchange;
    this.request = request;
    const headers = [...request.headers];
    // The client's own framing: chunked stays chunked, a length stays a length.
    if (request.chunked) headers.push("transfer-encoding", "chunked");
    else if (
      request.body === undefined &&
      !BODILESS_BY_DEFAULT.has(request.method) &&
      !hasField(headers, "content-length")
    )
      // Else node:http frames an absent body as an empty chunked one.
      headers.push("content-length", "0");
    const { target } = this;
    const outgoing = httpRequest({
      // An IPv6 literal keeps its brackets in URL.hostname.
      host: target.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: Number(target.port || 80),
      method: request.method,
      path: request.target,
      headers,
      agent: this.agent,
      // The forwarder's list has the client's Host (or the server's, for HTTP/1.0).
      setHost: false,
    });
    this.outgoing = outgoing;
    outgoing.on("socket", (socket: Socket) => {
      socket.off("data", strayBytes);
      if (!socket.connecting) return this.connected();
      // The Agent's idle timeout is not the connect timeout: that is ours.
      socket.setTimeout(0);
      // Judged after this loop's poll, which may hold a connect that ended
      // while a busy loop ran late (as the fast engine's connection does).
      this.connectTimer = setTimeout(
        () =>
          setImmediate(() => {
            if (!socket.connecting || socket.destroyed) return;
            this.fail(
              new UpstreamError(
                `connect timeout after ${this.options.connectMs} ms`,
                CONNECT_TIMEOUT,
              ),
            );
          }),
        this.options.connectMs,
      );
      socket.once("connect", () => {
        clearTimeout(this.connectTimer);
        this.connected();
      });
    });
    outgoing.on("information", (info) => {
      this.heard = true;
      this.exchange?.onInterim(info.statusCode, info.statusMessage, info.rawHeaders);
    });
    outgoing.on("response", (response) => this.onResponse(response));
    // Requests sent here never ask to switch protocols (upgrades go through websocket.ts).
    outgoing.on("upgrade", (_response, socket: Socket) => {
      socket.destroy();
      this.heard = true;
      this.fail(new UpstreamError("server switched protocols unasked", UNASKED_UPGRADE));
    });
    outgoing.on("timeout", () => this.onTimeout());
    outgoing.on("error", (error: NodeJS.ErrnoException) => this.onError(error));
    // Until connected nothing of the body is read: a connection that fails
    // has consumed none of it, so the request can go to another server whole.
    if (request.body === undefined) {
      outgoing.end();
      this.requestSent = true;
    }
  }

  pause(): void {
    this.paused = true;
    this.response?.pause();
    this.outgoing?.setTimeout(0);
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.outgoing?.setTimeout(this.options.serverMs);
    this.response?.resume();
  }

  abort(): void {
    this.exchange = undefined;
    this.pump.stop(false);
    this.outgoing?.destroy();
  }

  private connected(): void {
    const { outgoing, request } = this;
    if (!outgoing || !request || this.exchange === undefined) return;
    outgoing.setTimeout(this.options.serverMs);
    const body = request.body;
    if (body === undefined) return;
    this.bodyTaken = true;
    this.pump.start(body, outgoing);
  }

  /** The client's body to the server (node:http chunks it when it has no length). */
  private readonly pump = new BodyPump(
    (chunk) => this.outgoing!.write(chunk),
    () => {
      const trailers = this.request!.chunked ? this.request!.trailers?.() : undefined;
      if (trailers !== undefined && trailers.length > 0) {
        const pairs: [string, string][] = [];
        for (let i = 0; i < trailers.length; i += 2) pairs.push([trailers[i]!, trailers[i + 1]!]);
        this.outgoing!.addTrailers(pairs);
      }
      this.outgoing!.end();
      this.requestSent = true;
    },
  );

  private onResponse(response: IncomingMessage): void {
    this.heard = true;
    const exchange = this.exchange;
    if (exchange === undefined) return;
    const status = response.statusCode!;
    // Three digits, 100 to 599 (RFC 9110 15): anything else is no HTTP status.
    if (status < 100 || status > 599) {
      this.fail(new UpstreamError(`invalid status ${status}`, "HPE_INVALID_STATUS"));
      return;
    }
    if (status === 101) {
      this.fail(new UpstreamError("server switched protocols unasked", UNASKED_UPGRADE));
      return;
    }
    if (readHead(response.rawHeaders).unknownCoding) {
      // A coding other than chunked: relayed without its label the body
      // would change meaning, and it cannot be undone here (RFC 9112 6.1).
      this.fail(new UpstreamError("response in an unknown transfer coding", UNKNOWN_CODING));
      return;
    }
    this.response = response;
    exchange.onHead(status, response.statusMessage ?? "", response.rawHeaders);
    if (this.paused) response.pause();
    response.on("data", (chunk: Buffer) => {
      this.exchange?.onBody(chunk);
      this.readEnd();
    });
    response.once("end", () => this.onComplete(response));
    // Cut before its end (the server closed, or sent bytes that are no HTTP).
    response.once("error", (error: NodeJS.ErrnoException) => this.onError(error));
    response.once("close", () => {
      if (!response.complete)
        this.fail(new UpstreamError("server closed the connection", "ECONNRESET"));
    });
    // A head whose body did not come with it goes out alone (server-sent events, long polls).
    this.readEnd();
  }

  /**
   * node:http emits the head, each chunk of a chunked body and a parse
   * error of one read before a microtask runs: the Relay hears that the
   * read is over after all of them. So many tiny chunks are one write to
   * the client, and a response refused later in the read that brought its
   * head is still answered 502, as in the fast engine.
   */
  private readEnd(): void {
    if (this.readEndDue) return;
    this.readEndDue = true;
    queueMicrotask(() => {
      this.readEndDue = false;
      this.exchange?.onReadEnd();
    });
  }

  private onComplete(response: IncomingMessage): void {
    const exchange = this.exchange;
    if (exchange === undefined) return;
    this.exchange = undefined;
    const sent = this.requestSent;
    this.pump.stop(!sent);
    // Answered before the whole body went: the connection is mid-request, never reused.
    if (!sent) this.outgoing?.destroy();
    else this.outgoing?.socket?.on("data", strayBytes);
    const trailers = response.rawTrailers.length > 0 ? response.rawTrailers : undefined;
    // Told before node:http frees the socket to its Agent (on the next
    // tick), as the fast engine does: see connection.ts finishExchange.
    exchange.onEnd(trailers);
  }

  private onTimeout(): void {
    if (this.exchange === undefined) return;
    const body = this.request?.body;
    // Still sending a body that the client is slow to give: not the server's fault.
    if (!this.requestSent && body && !body.isPaused()) return;
    this.fail(new UpstreamError(`no answer within ${this.options.serverMs} ms`, SERVER_TIMEOUT));
  }

  private onError(error: NodeJS.ErrnoException): void {
    const code = error.code ?? "ECONNRESET";
    // Bytes node:http's parser refused: the server did answer.
    if (code.startsWith("HPE_")) this.heard = true;
    const stale =
      this.outgoing?.reusedSocket === true &&
      !this.heard &&
      (code === "ECONNRESET" || code === "EPIPE");
    const message = code.startsWith("HPE_") ? `invalid response: ${error.message}` : error.message;
    this.fail(new UpstreamError(message, code, stale));
  }

  private fail(error: UpstreamError): void {
    clearTimeout(this.connectTimer);
    const exchange = this.exchange;
    this.exchange = undefined;
    this.pump.stop(false);
    this.outgoing?.destroy();
    error.bodyTaken = this.bodyTaken;
    error.heard = this.heard;
    exchange?.onError(error);
  }
}

function hasField(list: readonly string[], name: string): boolean {
  for (let i = 0; i < list.length; i += 2) if (list[i]!.toLowerCase() === name) return true;
  return false;
}

// The scripted backend: a raw `net` server that answers each request of the
// running case with exactly the bytes the case scripts (in pieces, with
// pauses, stalling or closing), answers reuse probes (`GET /probe-N`) and
// the proxy's health checks with fixed responses, and records every byte it
// receives, per connection, split into requests.

import { createServer, type Server, type Socket } from "node:net";
import { readRequest, type Request } from "./wire.js";

/** What a script does besides writing and waiting. */
export type Action =
  /** Close the connection (FIN) once written; the script ends. */
  | "close"
  /** Reset the connection (RST); the script ends. */
  | "reset"
  /** Write nothing more and read no further request on this connection. */
  | "stall"
  /** Wait until the request's body has come whole. */
  | "await-body"
  /** From here on the connection carries another protocol: received bytes are recorded, not parsed. */
  | "tunnel";

/** One step of a scripted answer: bytes to write (latin1), a pause in ms, or an action. */
export type Step = string | Buffer | { wait: number } | { do: Action };

export const CLOSE: Step = { do: "close" };
export const RESET: Step = { do: "reset" };
export const STALL: Step = { do: "stall" };
export const AWAIT_BODY: Step = { do: "await-body" };
export const TUNNEL: Step = { do: "tunnel" };

export interface Script {
  /** Start as soon as the head is read rather than once the request is complete. */
  on?: "head";
  steps: Step[];
}

export const PROBE = /^\/probe-\d+(-again)?$/;

export function probeResponse(target: string): string {
  const body = `probe ${target}\n`;
  return `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nX-Probe: ${target}\r\n\r\n${body}`;
}

/** What a request that the case did not script gets: visibly not the case's answer. */
export const UNSCRIPTED =
  "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-Unscripted: yes\r\n\r\nunscripted\n";

const HEALTH = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

export interface Received extends Request {
  /** The connection it came on (numbered from 1 for the backend's life) and its place there. */
  connection: number;
  index: number;
  kind: "case" | "probe" | "health";
  /** The case that was running when its head arrived. */
  caseId: string;
}

export interface ConnectionRecord {
  id: number;
  caseId: string;
  /** Every byte received. */
  raw: Buffer;
  /** Bytes that did not make a readable request (after the last one). */
  unreadable: Buffer;
  /** Bytes received after a "tunnel" step. */
  tunneled: Buffer;
  closedBy: "peer" | "backend" | undefined;
}

class Connection {
  raw = Buffer.alloc(0);
  /** Where the next request starts. */
  offset = 0;
  busy = false;
  stalled = false;
  tunnelFrom = -1;
  index = 0;
  closedBy: "peer" | "backend" | undefined;
  /** The request being answered: its record is refreshed as its body comes. */
  current: Received | undefined;
  private bodyWaiters: (() => void)[] = [];

  constructor(
    readonly id: number,
    readonly socket: Socket,
    readonly backend: ScriptedBackend,
    readonly caseId: string,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (data: Buffer) => {
      this.raw = Buffer.concat([this.raw, data]);
      this.pump();
    });
    socket.on("error", () => {});
    socket.on("end", () => {
      this.closedBy ??= "peer";
      socket.end();
    });
    socket.on("close", () => {
      this.closedBy ??= "peer";
      this.wakeBody();
    });
  }

  record(): ConnectionRecord {
    const tunneled = this.tunnelFrom < 0 ? Buffer.alloc(0) : this.raw.subarray(this.tunnelFrom);
    const from = this.current ? this.current.end : this.offset;
    const unreadable =
      this.tunnelFrom >= 0 || (!this.current && readRequest(this.raw, from))
        ? Buffer.alloc(0)
        : this.raw.subarray(from);
    return {
      id: this.id,
      caseId: this.caseId,
      raw: this.raw,
      unreadable,
      tunneled,
      closedBy: this.closedBy,
    };
  }

  /**
   * What came after the last request answered: a request not yet whole (or
   * not yet answered) is returned as one, marked incomplete.
   */
  leftover(): Received | undefined {
    if (this.tunnelFrom >= 0 || this.current) return undefined;
    const request = readRequest(this.raw, this.offset);
    if (!request) return undefined;
    return {
      ...request,
      connection: this.id,
      index: this.index,
      kind: PROBE.test(request.target) ? "probe" : "case",
      caseId: this.caseId,
    };
  }

  private wakeBody(): void {
    const waiters = this.bodyWaiters;
    this.bodyWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Reads what has come: refreshes the request being answered, starts answering the next. */
  private pump(): void {
    if (this.tunnelFrom >= 0 || this.stalled) return;
    if (this.current) {
      const again = readRequest(this.raw, this.offset);
      if (again) Object.assign(this.current, again);
      if (this.current.complete || this.current.error) this.wakeBody();
      return;
    }
    if (this.busy) return;
    const request = readRequest(this.raw, this.offset);
    if (!request) return;
    const isProbe = PROBE.test(request.target);
    const isHealth =
      request.target === "/healthz" &&
      /stickyring-health-check/.test(request.raw.toString("latin1"));
    const script: Script | undefined =
      isProbe || isHealth ? undefined : this.backend.nextScript(request);
    if (!request.complete && !request.error && script?.on !== "head") return;
    const received: Received = {
      ...request,
      connection: this.id,
      index: this.index++,
      kind: isProbe ? "probe" : isHealth ? "health" : "case",
      caseId: this.backend.caseId,
    };
    this.backend.takeScript(received);
    this.backend.received.push(received);
    if (request.error && !request.complete) {
      // Unreadable framing: nothing more on this connection can be read.
      this.stalled = true;
      return;
    }
    const steps = isProbe
      ? [probeResponse(request.target)]
      : isHealth
        ? [HEALTH, CLOSE]
        : script!.steps;
    this.current = received;
    this.busy = true;
    void this.play(steps);
  }

  private async play(steps: Step[]): Promise<void> {
    const { socket } = this;
    for (const step of steps) {
      if (socket.destroyed) return;
      if (typeof step === "string" || Buffer.isBuffer(step)) {
        socket.write(typeof step === "string" ? Buffer.from(step, "latin1") : step);
      } else if ("wait" in step) {
        await new Promise((resolve) => setTimeout(resolve, step.wait));
      } else if (step.do === "close") {
        this.closedBy ??= "backend";
        this.stalled = true;
        socket.end();
        return;
      } else if (step.do === "reset") {
        this.closedBy ??= "backend";
        this.stalled = true;
        socket.resetAndDestroy();
        return;
      } else if (step.do === "stall") {
        this.stalled = true;
        return;
      } else if (step.do === "tunnel") {
        this.tunnelFrom = this.current!.end;
      } else {
        while (!this.current!.complete && !this.current!.error && !socket.destroyed)
          await new Promise<void>((resolve) => this.bodyWaiters.push(resolve));
      }
    }
    if (this.tunnelFrom >= 0) return;
    // The answer is out; the next request starts after this one, once it is whole.
    while (!this.current!.complete && !this.current!.error && !socket.destroyed)
      await new Promise<void>((resolve) => this.bodyWaiters.push(resolve));
    if (!this.current!.complete) {
      this.stalled = true;
      return;
    }
    this.offset = this.current!.end;
    this.current = undefined;
    this.busy = false;
    this.pump();
  }
}

export class ScriptedBackend {
  readonly received: Received[] = [];
  caseId = "";
  private scripts: Script[] = [];
  private readonly server: Server;
  private readonly connections: Connection[] = [];
  private nextId = 1;
  port = 0;

  constructor() {
    this.server = createServer({ allowHalfOpen: true }, (socket) => {
      this.connections.push(new Connection(this.nextId++, socket, this, this.caseId));
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = this.server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
    return this.port;
  }

  /** The case's scripts answer its requests in the order they come, whatever the connection. */
  begin(caseId: string, scripts: Script[]): void {
    this.caseId = caseId;
    this.scripts = [...scripts];
  }

  /** The script the next case request will get (not taken yet). */
  nextScript(_request: Request): Script {
    return this.scripts[0] ?? { steps: [UNSCRIPTED] };
  }

  takeScript(received: Received): void {
    if (received.kind === "case") this.scripts.shift();
  }

  /**
   * The case's record: its requests and the connections it used. Then every
   * connection is closed, so the next case starts clean.
   */
  async end(): Promise<{ requests: Received[]; connections: ConnectionRecord[] }> {
    for (const connection of this.connections) {
      const left = connection.leftover();
      if (left) this.received.push(left);
    }
    const requests = this.received.filter((r) => r.caseId === this.caseId && r.kind !== "health");
    const used = new Set(requests.map((r) => r.connection));
    const connections = this.connections
      .filter((c) => c.caseId === this.caseId || used.has(c.id))
      .map((c) => c.record());
    for (const connection of this.connections) connection.socket.destroy();
    this.connections.length = 0;
    this.received.length = 0;
    this.caseId = "";
    this.scripts = [];
    return { requests, connections };
  }

  close(): Promise<void> {
    for (const connection of this.connections) connection.socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

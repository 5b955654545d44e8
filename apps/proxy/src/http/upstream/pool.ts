// Kept-alive connections per server address. The most recently used idle
// connection goes out first: it is the least likely to have been closed by
// the server. The others close when the server closes them, when the server
// timeout passes with no traffic, or when met in the pool too old to trust.
// At most `maxIdle` wait idle (nginx's `keepalive N`) once a burst is over
// (idle-trim.ts).
//
// At most MAX_CONNECTING connections to a server are being opened at once:
// past that a request waits for one to come back to the pool or to finish
// connecting. 5,000 clients arriving together otherwise opened 4,500
// connections to one server at once, and thousands of their requests took
// over 2 s; reusing the connections that come back serves them sooner. An
// open connection is never limited (long polls hold theirs): MAXCONN is the
// limit on those.

import { UpstreamConnection, type Home } from "./connection.js";
import type { ConnectionCounts, Upstream, UpstreamOptions } from "./exchange.js";
import { TRIM_MS, trimIdle } from "./idle-trim.js";

/** Connections to one server being opened at once, at most. */
export const MAX_CONNECTING = 64;

class Pool implements Home {
  /** Oldest first: connections are taken from the end. */
  private readonly idle: UpstreamConnection[] = [];
  private trimmer: NodeJS.Timeout | undefined;
  readonly open = new Set<UpstreamConnection>();
  /** The most connections open at once. */
  peak = 0;
  /** Connections opened and not yet connected (nor closed). */
  private readonly connecting = new Set<UpstreamConnection>();
  /** Requests waiting for a connection, first come first served. */
  private readonly waiting = new Set<() => void>();
  /** A waiting request is trying again: it goes before the others. */
  private granting = false;
  /** When a connection last connected or came back (performance.now()). */
  lastProgress = -Infinity;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly options: UpstreamOptions,
    private readonly maxIdle: number,
  ) {}

  /**
   * An idle connection, else a new one; undefined when MAX_CONNECTING are
   * being opened already, or others wait (wait() then). `fresh` (after a
   * reused one turned out closed): a new one in any case.
   */
  take(fresh: boolean): UpstreamConnection | undefined {
    if (!fresh) {
      for (let connection = this.idle.pop(); connection; connection = this.idle.pop()) {
        if (connection.idle) return connection;
        connection.abort(); // idle too long to trust, or closing
      }
      // A request that comes while others wait queues behind them.
      if (this.connecting.size >= MAX_CONNECTING || (this.waiting.size > 0 && !this.granting))
        return undefined;
    }
    const connection = new UpstreamConnection(this);
    this.open.add(connection);
    this.connecting.add(connection);
    if (this.open.size > this.peak) this.peak = this.open.size;
    return connection;
  }

  /** Calls `retry` once a connection may be had; the function returned cancels that. */
  wait(retry: () => void): () => void {
    this.waiting.add(retry);
    return () => this.waiting.delete(retry);
  }

  /** The first waiting request tries again (a connection came back, or a connect ended). */
  private next(): void {
    for (const retry of this.waiting) {
      this.waiting.delete(retry);
      this.granting = true;
      try {
        retry();
      } finally {
        this.granting = false;
      }
      return;
    }
  }

  connected(connection: UpstreamConnection): void {
    this.lastProgress = performance.now();
    if (this.connecting.delete(connection)) this.next();
  }

  release(connection: UpstreamConnection): void {
    // Its release time, already taken: no second clock read per request.
    this.lastProgress = connection.releasedAt;
    this.idle.push(connection);
    if (this.idle.length > this.maxIdle && this.trimmer === undefined)
      this.trimmer = setTimeout(this.trim, TRIM_MS).unref();
    if (this.waiting.size > 0) this.next();
  }

  private readonly trim = () => {
    this.trimmer = undefined;
    // abort(): forget() takes it out of `idle`.
    if (
      trimIdle(
        this.idle,
        this.maxIdle,
        (c) => c.releasedAt,
        (c) => c.abort(),
      )
    )
      this.trimmer = setTimeout(this.trim, TRIM_MS).unref();
  };

  get idleCount(): number {
    return this.idle.length;
  }

  forget(connection: UpstreamConnection): void {
    this.open.delete(connection);
    if (this.connecting.delete(connection)) this.next();
    const at = this.idle.lastIndexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
  }
}

export function createUpstream(options: UpstreamOptions, maxIdle: number): Upstream {
  const pools = new Map<string, Pool>();
  const poolOf = (target: URL): Pool => {
    let pool = pools.get(target.host);
    if (pool === undefined) {
      // An IPv6 literal keeps its brackets in URL.hostname.
      const host = target.hostname.replace(/^\[(.*)\]$/, "$1");
      pool = new Pool(host, Number(target.port || 80), options, maxIdle);
      pools.set(target.host, pool);
    }
    return pool;
  };
  return {
    connection: (target, fresh) => poolOf(target).take(fresh),
    wait: (target, retry) => poolOf(target).wait(retry),
    progressed: (target, ms) => performance.now() - poolOf(target).lastProgress <= ms,
    counts() {
      const counts = new Map<string, ConnectionCounts>();
      for (const [key, pool] of pools) {
        const idle = pool.idleCount;
        counts.set(key, { busy: pool.open.size - idle, idle, peak: pool.peak });
      }
      return counts;
    },
    close() {
      for (const pool of pools.values()) for (const connection of pool.open) connection.abort();
      pools.clear();
    },
  };
}

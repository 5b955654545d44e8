// Kept-alive connections per server address. The most recently used idle
// connection goes out first: it is the least likely to have been closed by
// the server. The others close when the server closes them, when the server
// timeout passes with no traffic, or when met in the pool too old to trust.
// At most `maxIdle` wait idle (nginx's `keepalive N`) once a burst is over
// (idle-trim.ts).

import { UpstreamConnection, type Home } from "./connection.js";
import type { ConnectionCounts, Upstream, UpstreamOptions } from "./exchange.js";
import { TRIM_MS, trimIdle } from "./idle-trim.js";

class Pool implements Home {
  /** Oldest first: connections are taken from the end. */
  private readonly idle: UpstreamConnection[] = [];
  private trimmer: NodeJS.Timeout | undefined;
  readonly open = new Set<UpstreamConnection>();
  /** The most connections open at once. */
  peak = 0;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly options: UpstreamOptions,
    private readonly maxIdle: number,
  ) {}

  take(fresh: boolean): UpstreamConnection {
    if (!fresh)
      for (let connection = this.idle.pop(); connection; connection = this.idle.pop()) {
        if (connection.idle) return connection;
        connection.abort(); // idle too long to trust, or closing
      }
    const connection = new UpstreamConnection(this);
    this.open.add(connection);
    if (this.open.size > this.peak) this.peak = this.open.size;
    return connection;
  }

  release(connection: UpstreamConnection): void {
    this.idle.push(connection);
    if (this.idle.length > this.maxIdle && this.trimmer === undefined)
      this.trimmer = setTimeout(this.trim, TRIM_MS).unref();
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
    const at = this.idle.lastIndexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
  }
}

export function createUpstream(options: UpstreamOptions, maxIdle: number): Upstream {
  const pools = new Map<string, Pool>();
  return {
    connection(target, fresh) {
      const key = target.host;
      let pool = pools.get(key);
      if (pool === undefined) {
        // An IPv6 literal keeps its brackets in URL.hostname.
        const host = target.hostname.replace(/^\[(.*)\]$/, "$1");
        pool = new Pool(host, Number(target.port || 80), options, maxIdle);
        pools.set(key, pool);
      }
      return pool.take(fresh);
    },
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

// Kept-alive connections per server address. The most recently used idle
// connection goes out first: it is the least likely to have been closed by
// the server. The others close when the server closes them, when the server
// timeout passes with no traffic, or when met in the pool too old to trust.
// At most `maxIdle` wait idle (nginx's `keepalive N`): past it the oldest
// closes, so a burst leaves the server no more connections than requests
// in flight plus that many.

import { UpstreamConnection, type Home, type UpstreamOptions } from "./connection.js";

class Pool implements Home {
  private readonly idle: UpstreamConnection[] = [];
  readonly open = new Set<UpstreamConnection>();

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
    return connection;
  }

  release(connection: UpstreamConnection): void {
    this.idle.push(connection);
    if (this.idle.length > this.maxIdle) this.idle[0]!.abort(); // forget() takes it out
  }

  get idleCount(): number {
    return this.idle.length;
  }

  forget(connection: UpstreamConnection): void {
    this.open.delete(connection);
    const at = this.idle.lastIndexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
  }
}

export interface Upstream {
  /**
   * A connection to `target`'s server for one exchange: an idle one when
   * there is one, unless `fresh` (after a reused one turned out closed).
   */
  connection(target: URL, fresh: boolean): UpstreamConnection;
  /** Connections open per server address (host:port): carrying an exchange, or idle. */
  counts(): Map<string, { busy: number; idle: number }>;
  /** Closes every connection, idle or busy. */
  close(): void;
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
      const counts = new Map<string, { busy: number; idle: number }>();
      for (const [key, pool] of pools) {
        const idle = pool.idleCount;
        counts.set(key, { busy: pool.open.size - idle, idle });
      }
      return counts;
    },
    close() {
      for (const pool of pools.values()) for (const connection of pool.open) connection.abort();
      pools.clear();
    },
  };
}

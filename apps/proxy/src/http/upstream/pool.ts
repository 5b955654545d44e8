// Kept-alive connections per server address. The most recently used idle
// connection goes out first: it is the least likely to have been closed by
// the server. The others close when the server closes them, when the server
// timeout passes with no traffic, or when met in the pool too old to trust.

import { UpstreamConnection, type Home } from "./connection.js";
import type { Upstream, UpstreamOptions } from "./exchange.js";

class Pool implements Home {
  private readonly idle: UpstreamConnection[] = [];
  readonly open = new Set<UpstreamConnection>();

  constructor(
    readonly host: string,
    readonly port: number,
    readonly options: UpstreamOptions,
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
  }

  forget(connection: UpstreamConnection): void {
    this.open.delete(connection);
    const at = this.idle.lastIndexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
  }
}

export function createUpstream(options: UpstreamOptions): Upstream {
  const pools = new Map<string, Pool>();
  return {
    connection(target, fresh) {
      const key = target.host;
      let pool = pools.get(key);
      if (pool === undefined) {
        // An IPv6 literal keeps its brackets in URL.hostname.
        const host = target.hostname.replace(/^\[(.*)\]$/, "$1");
        pool = new Pool(host, Number(target.port || 80), options);
        pools.set(key, pool);
      }
      return pool.take(fresh);
    },
    close() {
      for (const pool of pools.values()) for (const connection of pool.open) connection.abort();
      pools.clear();
    },
  };
}

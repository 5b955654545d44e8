// A request rate per client (CLIENT_RATE): a token bucket per client address,
// as nginx's `limit_req zone=... burst=N nodelay` and HAProxy's stick-table
// `http_req_rate` with `http-request deny deny_status 429` are used at an
// edge. Each client may send `burst` requests at once, then `perSecond` a
// second; a request over it is refused (429) rather than delayed.
//
// Pure: time is passed in. The table is bounded: a client whose bucket has
// filled up again is the same as one never seen, so such entries are the
// first to go; past `maxClients` busy ones, the longest-known goes (it is
// forgiven its debt, never refused wrongly).

export interface ClientRate {
  /** Requests a second, on average. */
  perSecond: number;
  /** Requests at once after a quiet spell. */
  burst: number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date, in ms. */
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  /** A bucket this long untouched is full again. */
  private readonly refillMs: number;

  constructor(
    readonly rate: ClientRate,
    private readonly maxClients = 65_536,
  ) {
    this.refillMs = (rate.burst / rate.perSecond) * 1000;
  }

  /** Takes a token for `client` at `now` (ms): 0 when it had one, else the seconds until it will. */
  take(client: string, now: number): number {
    let bucket = this.buckets.get(client);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxClients) this.makeRoom(now);
      bucket = { tokens: this.rate.burst, at: now };
      this.buckets.set(client, bucket);
    } else {
      const elapsed = Math.max(0, now - bucket.at);
      bucket.tokens = Math.min(
        this.rate.burst,
        bucket.tokens + (elapsed * this.rate.perSecond) / 1000,
      );
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / this.rate.perSecond;
  }

  /** Clients in the table. */
  get size(): number {
    return this.buckets.size;
  }

  /** Drops full buckets, oldest first; if none is full, the oldest one. */
  private makeRoom(now: number): void {
    let dropped = 0;
    // Bounded work per call: at most a few thousand looked at.
    let looked = 0;
    for (const [client, bucket] of this.buckets) {
      if (++looked > 4096) break;
      if (now - bucket.at >= this.refillMs) {
        this.buckets.delete(client);
        dropped++;
      }
    }
    if (dropped === 0) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
  }
}

/** "100/s", "6000/m" or "10" (a second) as a rate, or undefined when it is not one. */
export function parseRate(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|m|sec|min|second|minute))?\s*$/i.exec(text);
  if (match === null) return undefined;
  const count = Number(match[1]);
  if (!(count > 0)) return undefined;
  return match[2] !== undefined && match[2].toLowerCase().startsWith("m") ? count / 60 : count;
}

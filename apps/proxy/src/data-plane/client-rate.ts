// A request rate per client (CLIENT_RATE): a token bucket per client address,
// as nginx's `limit_req zone=... burst=N nodelay` and HAProxy's stick-table
// `http_req_rate` with `http-request deny deny_status 429` are used at an
// edge. Each client may send `burst` requests at once, then `perSecond` a
// second; a request over it is refused (429) rather than delayed.
//
// Pure: time is passed in. The table is bounded and kept in the order its
// clients were last seen: past `maxClients`, the one seen longest ago goes,
// in O(1). Its bucket has most likely filled up again (then nothing is
// lost); if not, it is forgiven its debt: a limit may be lenient, never wrong.

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
  /** By client, the one seen longest ago first. */
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly rate: ClientRate,
    private readonly maxClients = 65_536,
  ) {}

  /** Takes a token for `client` at `now` (ms): 0 when it had one, else the seconds until it will. */
  take(client: string, now: number): number {
    const { perSecond, burst } = this.rate;
    let bucket = this.buckets.get(client);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxClients) {
        const longestUnseen = this.buckets.keys().next().value!;
        this.buckets.delete(longestUnseen);
      }
      bucket = { tokens: burst, at: now };
    } else {
      // Seen now: to the end of the order.
      this.buckets.delete(client);
      const elapsed = Math.max(0, now - bucket.at);
      bucket.tokens = Math.min(burst, bucket.tokens + (elapsed * perSecond) / 1000);
      bucket.at = now;
    }
    this.buckets.set(client, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / perSecond;
  }

  /** Clients in the table. */
  get size(): number {
    return this.buckets.size;
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

/** A rate as people say it: "100 a second", "20 a minute". */
export function describeRate(perSecond: number): string {
  const perMinute = perSecond * 60;
  return perSecond < 1 && Math.abs(perMinute - Math.round(perMinute)) < 1e-9
    ? `${Math.round(perMinute)} a minute`
    : `${Number(perSecond.toPrecision(6))} a second`;
}

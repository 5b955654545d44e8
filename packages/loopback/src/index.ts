// Clients that each send from their own loopback address: every address in
// 127.0.0.0/8 is local on Linux, so thousands of distinct clients need no setup.

import { request, type Agent, type IncomingMessage } from "node:http";

/** The i-th client address, 127.<a>.<b>.<c>, skipping 127.0.0.x (127.0.0.1 is the proxy's). */
export function clientAddress(i: number): string {
  const n = i + 256;
  return `127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** `count` distinct client addresses, starting at the `offset`-th. */
export function clientAddresses(count: number, offset = 0): string[] {
  return Array.from({ length: count }, (_, i) => clientAddress(i + offset));
}

export interface Reply {
  status: number;
  /** The proxy's X-Backend header. */
  backend: string | undefined;
  body: string;
}

export interface GetOptions {
  /** Source address (default: the system's choice). */
  from?: string;
  host?: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  /** A request body, sent whole (give its Content-Length in `headers`). */
  body?: string;
  /** Default false: a connection of its own, closed after the response. */
  agent?: Agent | false;
  timeoutMs?: number;
}

/** A response read whole (HTTP or HTTPS); rejects when it breaks off. */
export function readReply(res: IncomingMessage): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => (body += chunk));
    res.on("end", () =>
      resolve({
        status: res.statusCode!,
        backend: res.headers["x-backend"] as string | undefined,
        body,
      }),
    );
    res.on("error", reject);
    res.on("close", () => {
      if (!res.complete) reject(new Error(`response broken after ${body.length} characters`));
    });
  });
}

/**
 * One request, by default a GET on its own connection. Rejects when the
 * connection fails, the response breaks off, or no answer comes in time.
 */
export function get(port: number, options: GetOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: options.host ?? "127.0.0.1",
        port,
        path: options.path ?? "/",
        method: options.method ?? "GET",
        localAddress: options.from,
        headers: options.headers,
        agent: options.agent ?? false,
      },
      (res) => readReply(res).then(resolve, reject),
    );
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error("client timeout")));
    req.on("error", reject);
    req.end(options.body);
  });
}

/** Runs `task` over `items` with at most `limit` in flight; results in item order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

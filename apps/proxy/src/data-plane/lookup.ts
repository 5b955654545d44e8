// Name resolution for backend connections, off libuv's thread pool.
//
// dns.lookup() (getaddrinfo) runs on a pool of 4 threads and cannot be
// cancelled: a backend name that no longer resolves (a removed container)
// holds a thread for the resolver's whole timeout, and a few of those starve
// the lookups of every healthy backend. The c-ares resolver is asynchronous
// and has its own timeout. Names DNS does not know (/etc/hosts entries such
// as localhost) fall back to dns.lookup.

import {
  lookup as systemLookup,
  promises as dns,
  type LookupAddress,
  type LookupOptions,
} from "node:dns";
import type { LookupFunction } from "node:net";

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

const NOT_IN_DNS = new Set(["ENOTFOUND", "ENODATA"]);

export function createLookup(timeoutMs: number): LookupFunction {
  // c-ares takes whole milliseconds only (TIMEOUT_CONNECT may be written 1500us).
  const resolver = new dns.Resolver({ timeout: Math.ceil(timeoutMs), tries: 2 });

  return function lookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
    const family = options.family === 6 || options.family === "IPv6" ? 6 : 4;
    const query = family === 6 ? resolver.resolve6(hostname) : resolver.resolve4(hostname);
    query.then(
      (addresses) => {
        if (options.all)
          callback(
            null,
            addresses.map((address) => ({ address, family })),
          );
        else callback(null, addresses[0]!, family);
      },
      (error: NodeJS.ErrnoException) => {
        if (NOT_IN_DNS.has(error.code ?? "")) systemLookup(hostname, options, callback as never);
        else callback(error, options.all ? [] : "", family);
      },
    );
  };
}

/**
 * The resolver for backend names, for connections and health checks alike:
 * a try waits at most 2 s (there are two), and never longer than the
 * connect timeout.
 */
export function createBackendLookup(connectMs: number): LookupFunction {
  return createLookup(Math.min(connectMs, 2000));
}

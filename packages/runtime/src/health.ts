// Container health checks. A check that starts node and loads the service
// to learn its settings cost ~0.6 s of CPU each time: every 2 s, for four
// containers, more than a core of a 2-core host, enough to make checks time
// out there. So each service, once it listens, writes where its health
// endpoint is to HEALTHCHECK_FILE (the image sets it), and the image's check
// (infra/healthcheck.sh, a few ms of bash) asks that address. The address
// comes from the running service, so it is right whatever set the port (an
// environment variable, a --config file, port 0).

import { writeFileSync } from "node:fs";

/**
 * A wildcard bind is reached on IPv4's loopback: `::` takes IPv4 too, and a
 * container often has no IPv6 (Docker's default), where `::1` cannot be
 * reached (found by an outside probe).
 */
function reachable(host: string | undefined): string {
  return host === undefined || ["", "0.0.0.0", "::"].includes(host) ? "127.0.0.1" : host;
}

/**
 * Writes "host port path" to HEALTHCHECK_FILE when it is set. One that cannot be
 * written is logged and the service goes on: only the container's health
 * check needs it.
 */
export function announceHealth(
  logger: { warn(message: string): unknown },
  host: string | undefined,
  port: number,
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const file = env.HEALTHCHECK_FILE;
  if (file === undefined || file === "") return;
  try {
    writeFileSync(file, `${reachable(host)} ${port} ${path}\n`);
  } catch (error) {
    logger.warn(
      `HEALTHCHECK_FILE=${file}: cannot write it (${(error as Error).message}); the container health check will fail`,
    );
  }
}

/**
 * `node dist/main.js --healthcheck`: exits 0 when the service's health
 * endpoint answers 2xx within the timeout, 1 otherwise. Slower than the
 * image's check (it loads the service to read its settings); kept for those
 * who call it.
 */
export async function exitWithHealth(
  host: string | undefined,
  port: number,
  path: string,
  timeoutMs = 2000,
): Promise<never> {
  const address = reachable(host);
  const url = `http://${address.includes(":") ? `[${address}]` : address}:${port}${path}`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    process.exit(response.ok ? 0 : 1);
  } catch {
    process.exit(1);
  }
}

// The bound on idle kept-alive connections to a server, shared by both
// engines' pools: past `maxIdle`, the idle ones not taken again within
// TRIM_MS close, oldest first. Not at once: under load many answers end in
// one turn and the next requests come in the next, and closing the surplus
// at once had every request open a new connection (1,000 clients: 1.3k
// against 4.4k req/s).

/** How long an idle connection beyond the bound may wait to be taken again. */
export const TRIM_MS = 1000;

/**
 * Closes the idle connections beyond `maxIdle` (`idle` is oldest first)
 * released more than TRIM_MS ago. True when some beyond the bound are
 * younger: trim again later.
 */
export function trimIdle<T>(
  idle: readonly T[],
  maxIdle: number,
  releasedAt: (connection: T) => number,
  close: (connection: T) => void,
): boolean {
  const before = performance.now() - TRIM_MS;
  // A copy: closing may take a connection out of `idle` at once.
  for (const connection of idle.slice(0, Math.max(0, idle.length - maxIdle))) {
    if (releasedAt(connection) > before) return true;
    close(connection);
  }
  return false;
}

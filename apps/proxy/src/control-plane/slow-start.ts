// Slow start (HAProxy's `slowstart`): a server that comes back up, leaves
// maintenance or joins while the proxy runs takes a growing part of its
// weight and maxconn, from one step to all of it over SLOWSTART, instead of
// its whole share of clients at once. Steps are whole, so every rebuild in
// a ramp is one the clock reached: SLOWSTART/20 apart and at least a second
// (HAProxy's rule), so 20 of them, fewer when SLOWSTART is under 20 s.

/** How far apart a ramp's steps are: SLOWSTART/20, at least a second. */
export function stepOf(durationMs: number): number {
  return Math.max(1000, durationMs / 20);
}

/**
 * The part of its weight a server takes `elapsedMs` into a slow start of
 * `durationMs`: the steps begun so far (at least one) over all of them; 1
 * once the ramp is over or when there is none.
 */
export function rampAt(elapsedMs: number, durationMs: number): number {
  if (durationMs <= 0) return 1;
  const step = stepOf(durationMs);
  const steps = Math.max(1, Math.ceil(elapsedMs / step));
  return Math.min(1, (steps * step) / durationMs);
}

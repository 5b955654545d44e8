// Slow start (HAProxy's `slowstart`): a server that comes back up, leaves
// maintenance or joins while the proxy runs takes a growing part of its
// weight and maxconn over SLOWSTART, instead of its whole share of clients
// at once. The ramp is HAProxy's, level for level, so that a server warming
// up behind stickyring gets the clients it would get behind HAProxy:
// - the duration counts in whole seconds (rounded up), S;
// - a step is S/20 seconds, at least one, timed from the change;
// - at each step the weight becomes floor((16k + S) / S) sixteenths of the
//   server's own, k being the whole seconds since the change: 1/16 at
//   once, all of it from k = S. (16 is HAProxy's weight scale: a server of
//   weight w owns 16w points of the `haproxy` ring, and warming it owns the
//   first 16w x level of them, the points HAProxy's tree holds then.)
// HAProxy counts k on the wall clock's seconds; with steps of a whole number
// of seconds (SLOWSTART up to 20 s, or a multiple of 20 s) that is the steps'
// own count of seconds, else it depends on where in its second the change
// fell: here it is counted as if on a whole second.

/** HAProxy's weight scale: the levels a ramp has. */
const LEVELS = 16;

/** SLOWSTART in HAProxy's unit, whole seconds, rounded up. */
function secondsOf(durationMs: number): number {
  return Math.ceil(durationMs / 1000);
}

/** How far apart a ramp's steps are: SLOWSTART/20, at least a second. */
export function stepOf(durationMs: number): number {
  return Math.max(1000, (secondsOf(durationMs) * 1000) / 20);
}

/**
 * The part of its weight a server takes `elapsedMs` into a slow start of
 * `durationMs`: the level of the last step taken (1/16 from the change); 1
 * once the ramp is over or when there is none.
 */
export function rampAt(elapsedMs: number, durationMs: number): number {
  if (durationMs <= 0) return 1;
  const seconds = secondsOf(durationMs);
  const step = stepOf(durationMs);
  const k = Math.floor((Math.floor(Math.max(0, elapsedMs) / step) * step) / 1000);
  if (k >= seconds) return 1;
  return Math.floor((LEVELS * k + seconds) / seconds) / LEVELS;
}

/**
 * How long after `elapsedMs` into a slow start of `durationMs` its next step
 * is taken: steps are timed from the ramp's own start, as HAProxy times each
 * server's, not by a clock shared by all ramps.
 */
export function nextStepIn(elapsedMs: number, durationMs: number): number {
  const step = stepOf(durationMs);
  return (Math.floor(Math.max(0, elapsedMs) / step) + 1) * step - elapsedMs;
}

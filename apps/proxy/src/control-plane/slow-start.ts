// Slow start (HAProxy's `slowstart`): a server that comes back up, leaves
// maintenance or joins while the proxy runs takes a growing part of its
// weight and maxconn over SLOWSTART, instead of its whole share of clients
// at once. The ramp is HAProxy 2.6's, level for level, so that a server
// warming up behind stickyring gets the clients it gets behind HAProxy:
// - the duration counts in whole seconds (rounded up), S;
// - at k seconds after the change the weight is floor((16k + S) / S)
//   sixteenths of the server's own, 1/16 at once, all of it from k = S; and
//   maxconn max(1, maxconn x floor(100k / S) / 100), from 1. (16 is
//   HAProxy's weight scale: a server of weight w owns 16w points of the
//   `haproxy` ring, and warming it owns the first 16w x level of them, the
//   points HAProxy's tree holds then.)
// - k counts the seconds of the wall clock turned since the change, as
//   HAProxy does (`phaseMs`: where in its second the change fell);
// - the weight moves at a step, every second from the change (HAProxy's
//   step is slowstart/20 in milliseconds of a duration it keeps in seconds:
//   never over a second); maxconn when a second turns (HAProxy works it out
//   at each connection). When the schedule is kept is membership.ts's.

/** How far apart a ramp's steps are. */
export const STEP_MS = 1000;

/** HAProxy's weight scale: the levels a ramp has. */
const LEVELS = 16;

export interface Ramp {
  /** The part of its weight the server takes: sixteenths, 1 when the ramp is over. */
  weight: number;
  /** The percent of its maxconn it takes (at least one connection): 100 when the ramp is over. */
  conns: number;
}

export const FULL: Ramp = Object.freeze({ weight: 1, conns: 100 });

/**
 * A slow start of `durationMs`, `elapsedMs` after the change that started
 * it, which fell `phaseMs` into a second of the wall clock.
 */
export function rampAt(elapsedMs: number, durationMs: number, phaseMs = 0): Ramp {
  if (durationMs <= 0) return FULL;
  const seconds = Math.ceil(durationMs / 1000);
  const k = Math.floor((phaseMs + Math.max(0, elapsedMs)) / 1000);
  if (k >= seconds) return FULL;
  return {
    weight: Math.floor((LEVELS * k + seconds) / seconds) / LEVELS,
    conns: Math.floor((100 * k) / seconds),
  };
}

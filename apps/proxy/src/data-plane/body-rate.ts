// A request body must keep arriving: once it has taken longer than the
// client timeout, its average rate must stay above a minimum (Apache's
// mod_reqtimeout MinRate). A body trickled a byte at a time, each byte
// within the idle timeout, is cut; an upload at any real speed is not.

import type { ClientRequest } from "../http/downstream/request.js";
import type { ResponseWriter } from "../http/downstream/response-writer.js";

export interface BodyRateRule {
  /** How long a body may take before its rate is judged (the client timeout). */
  graceMs: number;
  /** Average bytes per second it must keep after that; 0 turns the rule off. */
  minBytesPerSecond: number;
}

/**
 * Watches `req`'s body and calls `onSlow` once when it falls below the rule.
 * Counts the socket's bytes, so no 'data' listener competes with the reader
 * upstream; time the stream is paused by upstream backpressure does not
 * count against the client. Stops when the body ends or the response
 * closes: a body the server answered early may be dropped unread.
 */
export function watchBodyRate(
  req: ClientRequest,
  res: ResponseWriter,
  rule: BodyRateRule,
  onSlow: () => void,
): void {
  const body = req.body;
  if (rule.minBytesPerSecond <= 0 || req.complete || body === undefined) return;
  const socket = req.socket;
  let since = performance.now();
  let bytesAtStart = socket.bytesRead;
  const check = () => {
    if (req.complete || body.destroyed || res.done) return;
    const now = performance.now();
    if (body.isPaused()) {
      // We are the slow side: start the window again.
      since = now;
      bytesAtStart = socket.bytesRead;
    } else if (now - since >= rule.graceMs) {
      const rate = (socket.bytesRead - bytesAtStart) / ((now - since) / 1000);
      if (rate < rule.minBytesPerSecond) return onSlow();
    }
    timer = setTimeout(check, Math.min(1000, rule.graceMs));
  };
  let timer = setTimeout(check, rule.graceMs);
  const stop = () => clearTimeout(timer);
  body.once("end", stop);
  res.onClose(stop);
}

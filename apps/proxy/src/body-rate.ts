// A request body must keep arriving: once it has taken longer than the
// client timeout, its average rate must stay above a minimum (Apache's
// mod_reqtimeout MinRate). A body trickled a byte at a time, each byte
// within the idle timeout, is cut; an upload at any real speed is not.

import type { IncomingMessage, ServerResponse } from "node:http";

export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

export interface BodyRateRule {
  /** How long a body may take before its rate is judged (the client timeout). */
  graceMs: number;
  /** Average bytes per second it must keep after that; 0 turns the rule off. */
  minBytesPerSecond: number;
}

/**
 * Watches `req`'s body and calls `onSlow` once when it falls below the rule.
 * Counts the socket's bytes, so no 'data' listener competes with the pipe
 * upstream; time the stream is paused by upstream backpressure does not
 * count against the client. Stops when the body ends or the response
 * closes: a body the server answered early may never end (Node leaves such
 * a request neither complete nor destroyed once its response is done).
 */
export function watchBodyRate(
  req: IncomingMessage,
  res: ServerResponse,
  rule: BodyRateRule,
  onSlow: () => void,
): void {
  if (rule.minBytesPerSecond <= 0 || req.complete) return;
  const socket = req.socket;
  let since = performance.now();
  let bytesAtStart = socket.bytesRead;
  const check = () => {
    if (req.complete || req.destroyed || res.closed) return;
    const now = performance.now();
    if (req.isPaused()) {
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
  req.once("end", stop);
  res.once("close", stop);
}

// The dashboard: a static page (built from ../dashboard into dist/dashboard)
// and the event stream it draws from, a snapshot a second.

import { fileURLToPath } from "node:url";
import express, { type Request, type Response } from "express";
import { describeServers, type AdminOptions } from "./describe.js";
import { buildPlacement, type Placement } from "./placement.js";
import { ringArcs, type Arc } from "./ring-view.js";

/** From src/ (tests) and from dist/ (a build) alike. */
const ASSETS = fileURLToPath(new URL("../dist/dashboard/", import.meta.url));

const SECURITY_HEADERS = {
  // Everything is served from here; no inline script, so injected markup could not run.
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

export function dashboardAssets(): express.Handler {
  return express.static(ASSETS, {
    index: "index.html",
    setHeaders: (res) => res.set(SECURITY_HEADERS),
  });
}

interface RingView {
  version: number;
  /** Where each key belongs with every server in at its configured weight. */
  home: Arc[];
  /** Where each key goes now. */
  live: Arc[];
}

/** The arcs of the current placement, rebuilt only when the placement changes. */
function ringViews({ config, membership, placement }: AdminOptions): () => RingView {
  let cached: RingView | undefined;
  return () => {
    const current: Placement = placement();
    if (cached?.version !== current.version) {
      const everyone = membership.list().map((m) => ({ ...m, up: true, admin: "ready" as const }));
      cached = {
        version: current.version,
        home: ringArcs(buildPlacement(everyone, config, current.version).ring),
        live: ringArcs(current.ring),
      };
    }
    return cached;
  };
}

/**
 * Server-sent events: a snapshot at once, then one a second. The snapshot is
 * built once per second for every open dashboard, so the work does not grow
 * with the number of viewers, and the timer runs only while one is open.
 */
export function dashboardEvents(options: AdminOptions): express.Handler {
  const ring = ringViews(options);
  const frame = () =>
    `event: snapshot\ndata: ${JSON.stringify({
      at: Date.now(),
      ...describeServers(options),
      traffic: { intervalMs: 1000, rates: options.traffic.rates() },
      ring: ring(),
    })}\n\n`;
  const streams = new Set<Response>();
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    const text = frame();
    for (const res of streams) res.write(text);
  };
  options.closing.addEventListener(
    "abort",
    () => {
      clearInterval(timer);
      for (const res of streams) res.end();
      streams.clear();
    },
    { once: true },
  );
  return (req: Request, res: Response) => {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      // A reverse proxy in front must not buffer the stream.
      "x-accel-buffering": "no",
    });
    res.write(frame());
    streams.add(res);
    timer ??= setInterval(tick, 1000);
    req.on("close", () => {
      streams.delete(res);
      if (streams.size > 0) return;
      clearInterval(timer);
      timer = undefined;
    });
  };
}

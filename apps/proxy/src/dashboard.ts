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

export function dashboardEvents(options: AdminOptions): express.Handler {
  const ring = ringViews(options);
  const snapshot = () =>
    JSON.stringify({
      at: Date.now(),
      ...describeServers(options),
      traffic: { intervalMs: 1000, rates: options.traffic.rates() },
      ring: ring(),
    });
  return (req: Request, res: Response) => {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      // A reverse proxy in front must not buffer the stream.
      "x-accel-buffering": "no",
    });
    const send = () => res.write(`event: snapshot\ndata: ${snapshot()}\n\n`);
    send();
    const timer = setInterval(send, 1000);
    const end = () => {
      clearInterval(timer);
      res.end();
    };
    options.closing.addEventListener("abort", end, { once: true });
    req.on("close", () => {
      clearInterval(timer);
      options.closing.removeEventListener("abort", end);
    });
  };
}

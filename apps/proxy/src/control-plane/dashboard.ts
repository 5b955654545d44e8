// The dashboard: a static page (built from ../dashboard into dist/dashboard)
// and the event stream it draws from, a snapshot a second.

import { fileURLToPath } from "node:url";
import express, { type Request, type Response } from "express";
import { describeServers, type AdminOptions } from "./describe.js";
import { buildPlacement, type Placement } from "../data-plane/placement.js";
import { ringArcs } from "./ring-view.js";
import type { Snapshot } from "./views.js";

/** From src/ (tests) and from dist/ (a build) alike. */
const ASSETS = fileURLToPath(new URL("../../dist/dashboard/", import.meta.url));

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

/** `home`: where each key belongs with every server in at its weight; `live`: where it goes now. */
type RingView = Snapshot["ring"];

/** The arcs of the current placement, rebuilt only when the placement changes. */
function ringViews({ config, membership, placement }: AdminOptions): () => RingView {
  let cached: RingView | undefined;
  return () => {
    const current: Placement = placement();
    if (cached?.version !== current.version) {
      const everyone = membership
        .list()
        .map((m) => ({ ...m, up: true, admin: "ready" as const, ramp: 1, rampConns: 100 }));
      cached = {
        version: current.version,
        home: ringArcs(buildPlacement(everyone, config, current.version).ring),
        live: ringArcs(current.ring),
      };
    }
    return cached;
  };
}

/** Event streams open at once, at most: each holds a socket and its buffers. */
export const MAX_EVENT_STREAMS = 32;
/** Ticks a stream may keep unsent frames before it is cut: a reader that stopped. */
const STALL_TICKS = 10;

/** What the event streams need of a response. */
export interface EventSink {
  readonly writableLength: number;
  write(text: string): unknown;
  end(): unknown;
  destroy(): unknown;
}

/**
 * The open event streams. Every tick each gets the frame; one whose earlier
 * frames are still waiting to be sent after STALL_TICKS ticks is not
 * reading, and is cut before it holds more memory (its own, and the
 * kernel's socket buffers).
 */
export class EventStreams {
  private readonly stalled = new Map<EventSink, number>();

  get size(): number {
    return this.stalled.size;
  }

  /** False when MAX_EVENT_STREAMS are open already. */
  add(sink: EventSink): boolean {
    if (this.stalled.size >= MAX_EVENT_STREAMS) return false;
    this.stalled.set(sink, 0);
    return true;
  }

  delete(sink: EventSink): void {
    this.stalled.delete(sink);
  }

  broadcast(frame: string): void {
    for (const [sink, ticks] of this.stalled) {
      if (sink.writableLength === 0) this.stalled.set(sink, 0);
      else if (ticks + 1 >= STALL_TICKS) {
        this.stalled.delete(sink);
        sink.destroy();
        continue;
      } else this.stalled.set(sink, ticks + 1);
      sink.write(frame);
    }
  }

  /** Every stream: the proxy is stopping. */
  *[Symbol.iterator](): IterableIterator<EventSink> {
    yield* this.stalled.keys();
  }

  clear(): void {
    this.stalled.clear();
  }
}

/**
 * Server-sent events: a snapshot at once, then one a second. The snapshot is
 * built once per second for every open dashboard, so the work does not grow
 * with the number of viewers, and the timer runs only while one is open.
 */
export function dashboardEvents(options: AdminOptions): express.Handler {
  const ring = ringViews(options);
  const frame = () => {
    const snapshot: Snapshot = {
      at: Date.now(),
      ...describeServers(options),
      traffic: { intervalMs: 1000, rates: options.traffic.rates() },
      ring: ring(),
    };
    return `event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`;
  };
  const streams = new EventStreams();
  let timer: NodeJS.Timeout | undefined;
  const tick = () => streams.broadcast(frame());
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
    if (!streams.add(res)) {
      res
        .status(503)
        .set("retry-after", "10")
        .json({ error: `at most ${MAX_EVENT_STREAMS} event streams are open at once` });
      return;
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      // A reverse proxy in front must not buffer the stream.
      "x-accel-buffering": "no",
    });
    res.write(frame());
    timer ??= setInterval(tick, 1000);
    req.on("close", () => {
      streams.delete(res);
      if (streams.size > 0) return;
      clearInterval(timer);
      timer = undefined;
    });
  };
}

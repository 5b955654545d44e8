// The shapes the admin API answers with, as types only: a declaration file,
// so the dashboard's browser build (dashboard/) reads the very types the
// server's answers are checked against.

import type { AdminState, Balance } from "../data-plane/policy.js";

export interface CheckView {
  ok: boolean;
  at: number;
  detail: string;
}

export interface ServerView {
  id: string;
  /** "static" (BACKENDS by address, or the admin API), or the DNS group that found it. */
  source: string;
  numericId: number;
  url: string;
  weight: number;
  /** The part of its weight (and maxconn) it takes now, in percent: below 100 during a slow start (SLOWSTART). */
  rampPercent: number;
  state: AdminState;
  health: "up" | "down";
  inPlacement: boolean;
  share: number;
  requests: number;
  /** Requests routed to it and not finished: sent, or waiting in its queue. */
  inFlight: number;
  /** Of those, waiting in its queue for a slot (MAXCONN). */
  queued: number;
  /** Requests in flight it takes at most (0: no limit), all workers together. */
  maxconn: number;
  /** The limit that applies now: `maxconn`, or less during a slow start (from 1). */
  maxconnNow: number;
  checks: CheckView[];
}

/** A DNS group (BACKENDS dns:// or dns+srv://) and what DNS last said of it. */
export interface GroupView {
  name: string;
  url: string;
  /** ok; stale: DNS fails and the last servers it named are kept; empty: no records (servers leave after DNS_HOLD); unresolved: never answered. */
  status: "unresolved" | "ok" | "stale" | "empty";
  /** When the status began (ms since the epoch; 0 before any answer). */
  since: number;
  detail: string;
  servers: number;
}

/** GET /api/servers. */
export interface ServersView {
  balance: Balance;
  hashType: string;
  balanceFactor: number | null;
  placementVersion: number;
  discovery: GroupView[];
  servers: ServerView[];
}

/** A run of the ring's keyspace owned by one server (`from` and `to` in 0..1). */
export interface Arc {
  server: string | null;
  from: number;
  to: number;
}

/** One frame of GET /api/events. */
export interface Snapshot extends ServersView {
  at: number;
  traffic: { intervalMs: number; rates: Record<string, readonly number[]> };
  ring: { version: number; home: Arc[]; live: Arc[] };
}

/** A share of the keyspace that moves from one server to another. */
export interface Flow {
  from: string | null;
  to: string | null;
  share: number;
}

/** What a change would move (?dryRun=true). */
export interface Moves {
  dryRun: true;
  moved: number;
  flows: Flow[];
  shares: Record<string, number>;
}

/** GET /api/lookup. */
export interface Lookup {
  key: string;
  hash: number;
  server: string | null;
}

// A conformance case, as data: what the client sends, how the backend
// answers, and what stickyring must do (an expected outcome, RFC 9110/9112).

import type { Script, Step } from "./backend.js";
import type { Piece } from "./client.js";
import type { Outcome } from "./run.js";

/** A header's expected value: exact (repeats joined with ", "), matching, or null for absent. */
export type FieldSpec = Record<string, string | RegExp | null>;

export interface ResponseSpec {
  /** The status, or the statuses that are all acceptable. */
  status: number | number[];
  /** The 1xx statuses received before it, in order (default: none). */
  interim?: number[];
  headers?: FieldSpec;
  /** The body after de-chunking. */
  body?: string | Buffer;
  /**
   * Trailer fields the client gets, each as a trailer or not at all (RFC 9112
   * 7.1.2 lets a proxy drop them; RFC 9110 6.5.1 lists fields that must not be
   * taken from trailers); never as headers.
   */
  trailers?: Record<string, string>;
  /** Default true; false: the response is cut short. */
  complete?: boolean;
  /** The head must be read within this many ms of the request's last byte. */
  headWithinMs?: number;
}

export interface RequestSpec {
  method?: string;
  /** The target, or the targets that are all acceptable. */
  target?: string | string[];
  headers?: FieldSpec;
  body?: string | Buffer;
  /** Trailer fields the server gets, each as a trailer or not at all; never as headers. */
  trailers?: Record<string, string>;
  /** Default true: the request reached the server whole; "any": whole or not. */
  complete?: boolean | "any";
}

/**
 * The case client's connection once its answers are read: "open" (it must
 * then answer a follow-up request exactly), "closed" by the proxy after
 * complete answers, "cut" (closed with an answer incomplete), or "any" of
 * open and closed (a proxy may close after an error it answered).
 */
export type ConnectionSpec = "open" | "closed" | "cut" | "any";

export interface Expect {
  responses: ResponseSpec[];
  /** Default "open". */
  connection?: ConnectionSpec;
  /** When the connection closes (ms after the request's last byte): [earliest, latest]. */
  closedWithinMs?: [number, number];
  /** What the server receives (reuse probes aside), in order; [] for nothing. */
  upstream: RequestSpec[];
  /** Further checks: problems found, as sentences. */
  check?: (outcome: Outcome) => string[];
}

export interface Case {
  /** Unique; "group: what". */
  name: string;
  send: Piece[];
  /** The methods of the requests sent, in order (HEAD answers have no body). Default: one GET. */
  methods?: string[];
  /** Scripts for the case's requests in the order they reach the backend (default: 200 "ok"). */
  server?: (Script | Step[])[];
  /** The expected outcome, or outcomes that are all acceptable (the RFC allows either). */
  expect: Expect | Expect[];
  /** Why stickyring's expected outcome is not HAProxy's, with the RFC section. */
  differsFromHaproxy?: string;
  /** How long the client waits for its answers (ms, default 3000). */
  waitMs?: number;
  /** Runs against a stickyring listening on an IPv4-mapped address (clients seen as ::ffff:a.b.c.d). */
  dualStack?: boolean;
  /** A pause between the case's answers and the reuse probes (ms). */
  probeDelayMs?: number;
  /** The follow-up request on the case's connection, when it is still open (default an HTTP/1.1 GET). */
  followUp?: (target: string) => string;
}

/** The script list a case gives, as scripts. */
export function scriptsOf(c: Case): Script[] {
  const list = c.server ?? [["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]];
  return list.map((s) => (Array.isArray(s) ? { steps: s } : s));
}

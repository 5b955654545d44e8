// Judging an outcome: stickyring's against the case's expected outcome and
// the reuse probes, and both proxies against each other, on a normalised
// outcome (statuses, the end-to-end headers that matter, bodies, what the
// server received).

import { isDeepStrictEqual } from "node:util";
import { probeResponse } from "./backend.js";
import type { Outcome, ProbeResult } from "./run.js";
import type {
  Case,
  ConnectionSpec,
  Expect,
  FieldSpec,
  RequestSpec,
  ResponseSpec,
} from "./types.js";
import { field, show, values, type Fields, type Response } from "./wire.js";

/** What each proxy may add to every response it relays. */
const ADDED_TO_RESPONSES: Record<Outcome["proxy"], [string, string][]> = {
  stickyring: [["x-backend", "app1"]],
  haproxy: [],
};

function matches(actual: string | undefined, expected: string | RegExp | null): boolean {
  if (expected === null) return actual === undefined;
  if (actual === undefined) return false;
  return typeof expected === "string" ? actual === expected : expected.test(actual);
}

function fieldProblems(where: string, fields: Fields, spec: FieldSpec | undefined): string[] {
  const problems: string[] = [];
  for (const [name, expected] of Object.entries(spec ?? {})) {
    const actual = field(fields, name);
    if (!matches(actual, expected))
      problems.push(
        `${where}: ${name} expected ${expected === null ? "absent" : show(String(expected))}, got ${actual === undefined ? "absent" : show(actual)}`,
      );
  }
  return problems;
}

function trailerProblems(
  where: string,
  fields: Fields,
  trailers: Fields,
  spec: Record<string, string> | undefined,
): string[] {
  const problems: string[] = [];
  const expected = Object.entries(spec ?? {});
  for (const [name, value] of expected)
    if (values(fields, name).includes(value))
      problems.push(`${where}: the trailer ${name}: ${value} appeared in the header section`);
  // Each expected trailer field arrives as sent or not at all; nothing else does.
  const want = expected.map(([n, v]) => `${n.toLowerCase()}: ${v}`);
  const extra = trailers
    .map(([n, v]) => `${n.toLowerCase()}: ${v}`)
    .filter((line) => !want.includes(line));
  if (extra.length > 0)
    problems.push(
      `${where}: trailers expected among ${want.length ? want.join(" | ") : "none"} (each or dropped), got also ${extra.join(" | ")}`,
    );
  return problems;
}

function bodyText(body: string | Buffer): Buffer {
  return typeof body === "string" ? Buffer.from(body, "latin1") : body;
}

/** Irregularities that matter in what a proxy sent (chunk extensions may pass). */
function irregular(anomalies: string[]): string[] {
  return anomalies.filter((a) => !a.startsWith("chunk extension"));
}

function responseProblems(
  i: number,
  r: Response,
  spec: ResponseSpec,
  headAfter: number | undefined,
): string[] {
  const where = `response ${i + 1}`;
  const problems: string[] = [];
  const statuses = Array.isArray(spec.status) ? spec.status : [spec.status];
  if (!statuses.includes(r.status))
    problems.push(
      `${where}: status expected ${statuses.join(" or ")}, got ${r.status} ${r.reason}`,
    );
  const interim = r.interim.map((x) => x.status);
  if (!isDeepStrictEqual(interim, spec.interim ?? []))
    problems.push(
      `${where}: interim responses expected [${(spec.interim ?? []).join(", ")}], got [${interim.join(", ")}]`,
    );
  problems.push(...fieldProblems(where, r.fields, spec.headers));
  if (spec.body !== undefined && !r.body.equals(bodyText(spec.body)))
    problems.push(
      `${where}: body expected ${show(bodyText(spec.body), 200)}, got ${show(r.body, 200)}`,
    );
  problems.push(...trailerProblems(where, r.fields, r.trailers, spec.trailers));
  if (spec.trailers === undefined && r.trailers.length > 0)
    problems.push(
      `${where}: unexpected trailers ${r.trailers.map(([n, v]) => `${n}: ${v}`).join(" | ")}`,
    );
  const complete = spec.complete ?? true;
  if (r.complete !== complete)
    problems.push(
      `${where}: expected ${complete ? "complete" : "cut short"}, got ${r.complete ? "complete" : "cut short"}`,
    );
  if (spec.headWithinMs !== undefined && (headAfter === undefined || headAfter > spec.headWithinMs))
    problems.push(
      `${where}: head expected within ${spec.headWithinMs} ms of the request, came after ${headAfter === undefined ? "never" : `${Math.round(headAfter)} ms`}`,
    );
  for (const a of irregular(r.anomalies)) problems.push(`${where}: irregular: ${a}`);
  return problems;
}

function requestProblems(i: number, q: Outcome["upstream"][number], spec: RequestSpec): string[] {
  const where = `server request ${i + 1}`;
  const problems: string[] = [];
  if (spec.method !== undefined && q.method !== spec.method)
    problems.push(`${where}: method expected ${spec.method}, got ${show(q.method)}`);
  const targets =
    spec.target === undefined
      ? undefined
      : Array.isArray(spec.target)
        ? spec.target
        : [spec.target];
  if (targets !== undefined && !targets.includes(q.target))
    problems.push(
      `${where}: target expected ${targets.map((t) => show(t)).join(" or ")}, got ${show(q.target)}`,
    );
  problems.push(...fieldProblems(where, q.fields, spec.headers));
  if (spec.body !== undefined && !q.body.equals(bodyText(spec.body)))
    problems.push(
      `${where}: body expected ${show(bodyText(spec.body), 200)}, got ${show(q.body, 200)}`,
    );
  problems.push(...trailerProblems(where, q.fields, q.trailers, spec.trailers));
  if (spec.trailers === undefined && q.trailers.length > 0)
    problems.push(
      `${where}: unexpected trailers ${q.trailers.map(([n, v]) => `${n}: ${v}`).join(" | ")}`,
    );
  const complete = spec.complete ?? true;
  if (complete !== "any" && q.complete !== complete)
    problems.push(
      `${where}: expected ${complete ? "complete" : "incomplete"}, got ${q.complete ? "complete" : "incomplete"}`,
    );
  for (const a of irregular(q.anomalies)) problems.push(`${where}: irregular: ${a}`);
  if (q.error) problems.push(`${where}: unreadable: ${q.error}`);
  return problems;
}

/** The case connection's state once its answers were read. */
export function connectionState(o: Outcome): Exclude<ConnectionSpec, "any"> {
  if (o.closed === undefined) return "open";
  const cut =
    o.read.responses.some((r) => !r.complete) ||
    o.read.pendingInterim.length > 0 ||
    o.read.rest.length > 0;
  return cut ? "cut" : "closed";
}

/** Problems with a reuse probe: its answer must be the backend's probe response exactly, plus the proxy's own header. */
export function probeProblems(o: Outcome, p: ProbeResult): string[] {
  const where = `probe ${p.target} from ${p.from}`;
  const problems: string[] = [];
  const expectedRaw = probeResponse(p.target);
  const [head = "", body = ""] = expectedRaw.split("\r\n\r\n");
  const expectedFields = head
    .split("\r\n")
    .slice(1)
    .map((l) => l.split(": ") as [string, string]);
  const [r, ...more] = p.read.responses;
  if (!r) problems.push(`${where}: no answer; read ${show(p.raw, 300)}`);
  else {
    // A keep-alive HTTP/1.0 follow-up is answered with Connection: keep-alive.
    const added = [
      ...ADDED_TO_RESPONSES[o.proxy],
      ...(p.http10 ? [["connection", "keep-alive"] as [string, string]] : []),
    ];
    const own = r.fields
      .map(([n, v]) => [n.toLowerCase(), v] as [string, string])
      .filter(([n, v]) => !added.some(([an, av]) => an === n && av === v));
    const want = expectedFields.map(([n, v]) => [n.toLowerCase(), v]);
    if (
      r.status !== 200 ||
      r.reason !== "OK" ||
      r.interim.length > 0 ||
      !isDeepStrictEqual(own, want) ||
      !r.body.equals(Buffer.from(body, "latin1")) ||
      r.trailers.length > 0 ||
      !r.complete
    )
      problems.push(
        `${where}: expected the probe response ${show(expectedRaw)} (+ ${added.map(([n, v]) => `${n}: ${v}`).join(", ") || "nothing"}), read ${show(p.raw, 500)}`,
      );
  }
  if (more.length > 0 || p.read.rest.length > 0 || p.read.error)
    problems.push(`${where}: more than the probe response: read ${show(p.raw, 500)}`);
  const seen = o.probeRequests.filter((q) => q.target === p.target);
  if (seen.length !== 1) problems.push(`${where}: the server received it ${seen.length} times`);
  for (const q of seen) {
    const fromAddress = p.from.startsWith("(") ? o.from : p.from;
    const forwarded: [string, string][] = [
      ["x-forwarded-for", fromAddress],
      ["x-forwarded-proto", "http"],
      ["x-forwarded-host", "probe.test"],
      ...(p.http10 ? [["connection", "keep-alive"] as [string, string]] : []),
    ];
    const rest = q.fields
      .map(([n, v]) => [n.toLowerCase(), v] as [string, string])
      .filter(([n, v]) => !forwarded.some(([fn, fv]) => fn === n && fv === v));
    if (
      q.method !== "GET" ||
      !isDeepStrictEqual(rest, [["host", "probe.test"]]) ||
      q.body.length > 0 ||
      !q.complete ||
      q.trailers.length > 0 ||
      irregular(q.anomalies).length > 0 ||
      field(q.fields, "x-forwarded-for") !== fromAddress
    )
      problems.push(
        `${where}: the server expected GET ${p.target} with Host: probe.test and X-Forwarded-For: ${fromAddress}, received ${show(q.raw, 500)}`,
      );
  }
  return problems;
}

/**
 * Everything wrong with an outcome against the case's expectation; with
 * several acceptable outcomes, nothing when one of them holds.
 */
export function judge(c: Case, o: Outcome): string[] {
  if (!Array.isArray(c.expect)) return judgeOne(c.expect, o);
  const each = c.expect.map((e) => judgeOne(e, o));
  if (each.some((p) => p.length === 0)) return [];
  return each.flatMap((p, i) =>
    p.map((line) => `(acceptable outcome ${i + 1} of ${each.length}) ${line}`),
  );
}

function judgeOne(spec: Expect, o: Outcome): string[] {
  const problems: string[] = [];
  const { responses } = o.read;
  if (responses.length !== spec.responses.length)
    problems.push(
      `client: expected ${spec.responses.length} response(s) [${spec.responses.map((r) => r.status).join(", ")}], got ${responses.length} [${responses.map((r) => r.status).join(", ")}]`,
    );
  responses.forEach((r, i) => {
    const s = spec.responses[i];
    if (s) problems.push(...responseProblems(i, r, s, o.headAfterMs[i]));
  });
  if (o.read.pendingInterim.length > 0)
    problems.push(
      `client: interim response(s) ${o.read.pendingInterim.map((x) => x.status).join(", ")} with no final response`,
    );
  const state = connectionState(o);
  const wanted = spec.connection ?? "open";
  const ok = wanted === "any" ? state !== "cut" : state === wanted;
  if (!ok)
    problems.push(
      `client connection: expected ${wanted === "any" ? "open or closed" : wanted}, got ${state}${o.closed ? ` (${o.closed} after ${Math.round(o.closedAfterMs ?? 0)} ms)` : ""}`,
    );
  if (state !== "cut" && (o.read.rest.length > 0 || o.read.error))
    problems.push(
      `client: unreadable bytes after the responses: ${o.read.error ?? ""} ${show(o.read.rest, 300)}`,
    );
  if (spec.closedWithinMs) {
    const [min, max] = spec.closedWithinMs;
    if (o.closedAfterMs === undefined || o.closedAfterMs < min || o.closedAfterMs > max)
      problems.push(
        `client connection: expected closed ${min}-${max} ms after the request, ${o.closedAfterMs === undefined ? "still open" : `closed after ${Math.round(o.closedAfterMs)} ms`}`,
      );
  }

  if (o.upstream.length !== spec.upstream.length)
    problems.push(
      `server: expected ${spec.upstream.length} request(s), received ${o.upstream.length}: ${o.upstream.map((q) => show(q.raw, 200)).join(" , ") || "none"}`,
    );
  o.upstream.forEach((q, i) => {
    const s = spec.upstream[i];
    if (s) problems.push(...requestProblems(i, q, s));
    const xff = field(q.fields, "x-forwarded-for");
    const last = xff?.split(",").pop()?.trim();
    if (q.complete && last !== o.from)
      problems.push(
        `server request ${i + 1}: X-Forwarded-For expected to end with ${o.from}, got ${xff === undefined ? "absent" : show(xff)}`,
      );
  });
  for (const conn of o.connections)
    if (conn.unreadable.length > 0)
      problems.push(
        `server connection ${conn.id}: bytes that are no request: ${show(conn.unreadable, 300)}`,
      );
  for (const p of o.probes) problems.push(...probeProblems(o, p));
  for (const q of o.upstream.filter((q) => /\/probe-\d+/.test(q.target)))
    problems.push(`server: received a mangled probe ${show(q.raw, 300)}`);
  if (spec.check) problems.push(...spec.check(o));
  return problems;
}

/** Response headers left out of the comparison: framing, connection management, what each proxy adds. */
const RESPONSE_SKIP = new Set([
  "x-backend",
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "content-length",
  "trailer",
  "date",
]);
/**
 * Request headers left out: framing, connection management, the -Proto and
 * -Host that only stickyring adds, and Expect (stickyring answers
 * 100-continue itself, as a proxy may, instead of passing it on).
 */
const REQUEST_SKIP = new Set([
  "x-forwarded-proto",
  "x-forwarded-host",
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "transfer-encoding",
  "content-length",
  "trailer",
  "expect",
]);

function normaliseFields(fields: Fields, skip: Set<string>, client = ""): Record<string, string> {
  // A Map: a field may be named `constructor` or `__proto__`.
  const out = new Map<string, string[]>();
  for (const [name, value] of fields) {
    const lower = name.toLowerCase();
    if (skip.has(lower)) continue;
    // The backend's and the client's addresses differ from lane to lane.
    let v = value;
    if (lower === "host") v = v.replace(/^127\.0\.0\.1:\d+$/, "<backend>");
    if (lower === "x-forwarded-for")
      v = v
        .split(",")
        .map((a) => (a.trim() === client ? "<client>" : a.trim()))
        .join(", ");
    const list = out.get(lower);
    if (list) list.push(v);
    else out.set(lower, [v]);
  }
  return Object.fromEntries(
    [...out.keys()].sort().map((k) => [k, out.get(k)!.join(k === "set-cookie" ? " \n " : ", ")]),
  );
}

/**
 * An absolute-form target as the origin-form it stands for: to an origin
 * server both mean the same (RFC 9112 3.2.2), and HAProxy passes
 * absolute-form on where stickyring rewrites it.
 */
function originForm(target: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?]*(.*)$/i.exec(target);
  if (!m) return target;
  return m[1]!.startsWith("/") ? m[1]! : `/${m[1]!}`;
}

/** What is compared between the proxies. */
export function normalise(o: Outcome): unknown {
  const state = connectionState(o);
  return {
    responses: o.read.responses.map((r) => {
      const interim = r.interim.map((x) => x.status);
      // An error of the proxy's own making: its wording is its own.
      if (r.status >= 400 && !o.backendStatuses.has(r.status))
        return { status: r.status, interim, by: "proxy", complete: r.complete };
      return {
        status: r.status,
        interim,
        headers: normaliseFields(r.fields, RESPONSE_SKIP),
        body: show(r.body, 2000),
        complete: r.complete,
      };
    }),
    pendingInterim: o.read.pendingInterim.map((x) => x.status),
    cut: state === "cut",
    upstream: o.upstream.map((q) => ({
      method: q.method,
      target: originForm(q.target),
      headers: normaliseFields(q.fields, REQUEST_SKIP, o.from),
      body: show(q.body, 2000),
      complete: q.complete,
    })),
    probesClean: o.probes.every((p) => probeProblems(o, p).length === 0),
  };
}

/** A readable account of what happened, for a failure message. */
export function account(o: Outcome): string {
  const lines = [
    `  client ${o.from} read (${o.closed ? `then ${o.closed} after ${Math.round(o.closedAfterMs ?? 0)} ms` : "connection left open"}): ${show(o.raw, 1500)}`,
    `  server received ${o.upstream.length} case request(s):`,
    ...o.upstream.map(
      (q) =>
        `    on connection ${q.connection}: ${show(q.raw, 800)}${q.complete ? "" : " (incomplete)"}`,
    ),
    ...o.probes.map((p) => `  probe ${p.target} read: ${show(p.raw, 400)}`),
  ];
  return lines.join("\n");
}

// Runs cases: each through stickyring and through HAProxy at once, each
// proxy in front of its own scripted backend; then reuse probes from other
// clients, and a follow-up on the case's own connection when it is open.
// Cases run in lanes (a stickyring, a HAProxy and their backends each), one
// case at a time per lane, so what a case leaves behind shows in its probes.

import { ScriptedBackend, type ConnectionRecord, type Received } from "./backend.js";
import { RawClient } from "./client.js";
import { startHaproxy, startStickyring, type RunningProxy } from "./proxies.js";
import { scriptsOf, type Case } from "./types.js";
import type { ResponseStream } from "./wire.js";

export type ProxyName = "stickyring" | "haproxy";

export interface ProbeResult {
  target: string;
  from: string;
  /** Sent as a keep-alive HTTP/1.0 request. */
  http10: boolean;
  /** What the client read. */
  raw: Buffer;
  read: ResponseStream;
}

export interface Outcome {
  proxy: ProxyName;
  /** The case client's address. */
  from: string;
  /** Everything the case client read before its follow-up, and what it made of it. */
  raw: Buffer;
  read: ResponseStream;
  closed: "fin" | "reset" | undefined;
  /** When it closed, ms after the request's last byte. */
  closedAfterMs: number | undefined;
  /** When each final response's head was read, ms after the request's last byte. */
  headAfterMs: (number | undefined)[];
  /** Per read of the case client: [ms after the request's last byte, bytes read up to then]. */
  arrivals: [number, number][];
  /** The case's requests as the backend received them. */
  upstream: Received[];
  /** The reuse probes' requests as the backend received them. */
  probeRequests: Received[];
  connections: ConnectionRecord[];
  probes: ProbeResult[];
  /** Statuses the backend's scripts wrote (a response with another one is the proxy's own). */
  backendStatuses: Set<number>;
  ms: number;
}

interface Side {
  name: ProxyName;
  backend: ScriptedBackend;
  proxy: RunningProxy;
}

export interface Lane {
  sides: Side[];
  /** Serves only cases marked dualStack. */
  dualStack: boolean;
}

let addressCounter = 0;

/** A client address of its own: 127.21.x.y. */
export function nextAddress(): string {
  const n = addressCounter++;
  return `127.21.${Math.floor(n / 250) % 256}.${(n % 250) + 2}`;
}

let probeCounter = 0;

export async function startLane(dualStack = false): Promise<Lane> {
  const make = async (name: ProxyName): Promise<Side> => {
    const backend = new ScriptedBackend();
    const port = await backend.start();
    const proxy =
      name === "stickyring"
        ? await startStickyring(port, dualStack ? "::ffff:127.0.0.1" : "127.0.0.1")
        : await startHaproxy(port);
    return { name, backend, proxy };
  };
  const sides = await Promise.all([make("stickyring"), make("haproxy")]);
  // stickyring's first health check reaches the backend at start: let it pass.
  await new Promise((resolve) => setTimeout(resolve, 100));
  return { sides, dualStack };
}

export async function stopLane(lane: Lane): Promise<void> {
  await Promise.all(
    lane.sides.map(async (s) => {
      await s.proxy.stop();
      await s.backend.close();
    }),
  );
}

const PROBE_WAIT_MS = 2500;

async function probe(
  port: number,
  target: string,
  client?: RawClient,
  line?: string,
): Promise<ProbeResult> {
  const from = client ? "(the case's own connection)" : nextAddress();
  const own = client ?? new RawClient(port, from);
  const offset = own.received.length;
  const request = line ?? `GET ${target} HTTP/1.1\r\nHost: probe.test\r\n\r\n`;
  await own.send([request]);
  const read = await own.responses(offset, ["GET"], 1, PROBE_WAIT_MS);
  const raw = own.received.subarray(offset);
  if (!client) own.destroy();
  return { target, from, http10: request.includes(" HTTP/1.0\r\n"), raw, read };
}

function scriptStatuses(c: Case): Set<number> {
  const statuses = new Set<number>();
  for (const script of scriptsOf(c))
    for (const step of script.steps) {
      if (typeof step !== "string" && !Buffer.isBuffer(step)) continue;
      const text = typeof step === "string" ? step : step.toString("latin1");
      for (const m of text.matchAll(/HTTP\/\d\.\d (\d{3})/g)) statuses.add(Number(m[1]));
    }
  return statuses;
}

async function runSide(side: Side, c: Case): Promise<Outcome> {
  const started = performance.now();
  const methods = c.methods ?? ["GET"];
  side.backend.begin(c.name, scriptsOf(c));
  const from = nextAddress();
  const client = new RawClient(side.proxy.port, from);
  await client.send(c.send);
  const read = await client.responses(0, methods, methods.length, c.waitMs ?? 3000);
  const raw = client.received;
  const closed = client.closed;
  const closedAfterMs = client.closedAt === undefined ? undefined : client.closedAt - client.sentAt;
  const headAfterMs = read.responses.map((r) => {
    const at = client.timeOf(r.headEnd - 1);
    return at === undefined ? undefined : at - client.sentAt;
  });

  if (c.probeDelayMs) await new Promise((resolve) => setTimeout(resolve, c.probeDelayMs));
  const n = ++probeCounter;
  const probes: ProbeResult[] = [await probe(side.proxy.port, `/probe-${n}`)];
  const upgraded = read.responses.some((r) => r.status === 101);
  if (!client.closed && !upgraded) {
    const target = `/probe-${n}-again`;
    probes.push(await probe(side.proxy.port, target, client, c.followUp?.(target)));
  }
  client.destroy();
  const record = await side.backend.end();
  await new Promise((resolve) => setTimeout(resolve, 20));
  return {
    proxy: side.name,
    from,
    raw,
    read,
    closed,
    closedAfterMs,
    headAfterMs,
    arrivals: client.arrivals.map(([at, upTo]) => [at - client.sentAt, upTo]),
    upstream: record.requests.filter((r) => r.kind === "case"),
    probeRequests: record.requests.filter((r) => r.kind === "probe"),
    connections: record.connections,
    probes,
    backendStatuses: scriptStatuses(c),
    ms: performance.now() - started,
  };
}

/** When the case client had read the byte at `offset`, ms after the request's last byte. */
export function readAt(o: Outcome, offset: number): number | undefined {
  return o.arrivals.find(([, upTo]) => upTo > offset)?.[0];
}

export type Results = Map<string, Record<ProxyName, Outcome>>;

/** Runs every case on the lanes, one case at a time per lane, both proxies of a lane at once. */
export async function runCases(cases: readonly Case[], lanes: Lane[]): Promise<Results> {
  const results: Results = new Map();
  const ordinary = cases.filter((c) => !c.dualStack);
  const dual = cases.filter((c) => c.dualStack);
  if (dual.length > 0 && !lanes.some((l) => l.dualStack)) throw new Error("no dual-stack lane");
  // Each lane takes the next case as soon as it is free.
  await Promise.all(
    lanes.map(async (lane) => {
      const queue = lane.dualStack ? dual : ordinary;
      for (let c = queue.shift(); c; c = queue.shift()) {
        const [s, h] = await Promise.all(lane.sides.map((side) => runSide(side, c!)));
        results.set(c.name, { stickyring: s!, haproxy: h! });
      }
    }),
  );
  return results;
}

// The multi-core mode (WORKERS=N): the primary process is the control plane
// (membership, health checks, placement, admin API, dashboard, metrics) and
// N workers are data planes sharing the proxy port. The primary sends each
// worker every membership snapshot; each worker builds its placement from it
// with the same pure function, so every worker sends a client to the same
// server. Workers report failed connections (passive health), requests
// served and in flight, and their metrics on request. HAProxy's
// master-worker mode and Envoy's main thread/worker threads split the same way.

import cluster, { type Worker } from "node:cluster";
import { announceHealth, listen, onShutdownSignal, type Logger } from "@stickyring/runtime";
import { AggregatorRegistry } from "prom-client";
import type { ProxyConfig } from "./config.js";
import { createDataPlane } from "./data-plane/data-plane.js";
import { claimPort } from "./http/listeners.js";
import { createBackendLookup } from "./data-plane/lookup.js";
import { createMetrics } from "./control-plane/metrics.js";
import {
  buildPlacement,
  shareOfLimit,
  type MemberState,
  type Placement,
} from "./data-plane/placement.js";
import { watchCertificates } from "./certificate-reload.js";
import { newTicketKeys, rotateTicketKeys } from "./http/tls/ticket-keys.js";

/** A MemberState as it crosses the IPC channel: the URL as text. */
type MemberSnapshot = Omit<MemberState, "url"> & { url: string };

type ToWorker =
  /** `share`: the worker's index (0..WORKERS-1), which picks its share of the limits. */
  | { t: "placement"; version: number; members: MemberSnapshot[]; share?: number }
  | { t: "metrics"; id: number }
  /** The TLS session ticket key, hex: the same in every worker, so any of them resumes a session. */
  | { t: "ticket-keys"; keys: string };

type ToPrimary =
  | { t: "ready" }
  | { t: "down"; id: string; detail: string }
  | {
      t: "served";
      counts: Record<string, number>;
      inFlight: Record<string, number>;
      queued: Record<string, number>;
    }
  | { t: "metrics"; id: number; json: object[] };

/** How often workers report requests: often enough for a smooth per-second rate. */
const REPORT_MS = 250;
const METRICS_WAIT_MS = 1000;
const STOP_MS = 10_000;

/**
 * Loaded in the primary only: workers need not hold the admin API, the
 * dashboard and Express in memory (3-4 MB less RSS per worker, measured).
 */
const controlPlaneModule = () => import("./control-plane/control-plane.js");

export function runCluster(config: ProxyConfig, logger: Logger): Promise<void> {
  return cluster.isPrimary ? runPrimary(config, logger) : runWorker(config, logger);
}

async function runPrimary(config: ProxyConfig, logger: Logger): Promise<void> {
  // Each worker accepts its own connections (no hand-off through the primary).
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const metrics = createMetrics();
  const workers = new Set<Worker>();
  const inFlight = new Map<Worker, Record<string, number>>();
  const queuedBy = new Map<Worker, Record<string, number>>();
  const queued = new Map<string, number>();
  let snapshot: Extract<ToWorker, { t: "placement" }> | undefined;
  let stopping = false;

  // A worker that exits takes its counters with it: the sums would go down
  // (a counter reset to Prometheus, a spike in every rate). Its counters and
  // histograms as last scraped stay in the sums, as HAProxy's counters
  // survive a thread; its gauges go, being of a process that is gone.
  const lastScraped = new Map<Worker, object[]>();
  let retired: object[] = [];
  // One after another: two workers exiting together must not both start from the same sums.
  let retiring = Promise.resolve();
  const retire = (worker: Worker) => {
    const last = lastScraped.get(worker);
    lastScraped.delete(worker);
    if (last === undefined) return;
    const cumulative = (last as { type: string }[]).filter(
      (metric) => metric.type === "counter" || metric.type === "histogram",
    );
    retiring = retiring.then(async () => {
      retired = (await AggregatorRegistry.aggregate([
        retired,
        cumulative,
      ]).getMetricsAsJSON()) as object[];
    });
  };

  const pending = new Map<number, (json: object[] | undefined) => void>();
  let nextRequest = 0;
  const workerMetrics = (worker: Worker) =>
    new Promise<object[] | undefined>((resolve) => {
      // Exiting: it would not answer (and the send would fail).
      if (!worker.isConnected()) return resolve(undefined);
      const id = ++nextRequest;
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(undefined);
      }, METRICS_WAIT_MS);
      pending.set(id, (json) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(json);
      });
      worker.send({ t: "metrics", id } satisfies ToWorker);
    });

  const control = (await controlPlaneModule()).createControlPlane({
    config,
    logger,
    metrics,
    lookup: createBackendLookup(config.timeouts.connectMs),
    // Counters of every process summed, as prom-client's cluster support does.
    metricsText: async () => {
      const all = await Promise.all(
        [...workers].map(async (worker) => {
          const json = await workerMetrics(worker);
          if (json !== undefined) lastScraped.set(worker, json);
          return json;
        }),
      );
      const registry = AggregatorRegistry.aggregate([
        await metrics.registry.getMetricsAsJSON(),
        ...all.filter((json) => json !== undefined),
        retired,
      ]);
      return { contentType: registry.contentType, text: await registry.metrics() };
    },
    queued: (id) => queued.get(id) ?? 0,
    onPlacement: (placement: Placement, members: readonly MemberState[]) => {
      snapshot = {
        t: "placement",
        version: placement.version,
        members: members.map((m) => ({
          id: m.id,
          url: m.url.href,
          numericId: m.numericId,
          weight: m.weight,
          admin: m.admin,
          up: m.up,
          maxconn: m.maxconn,
          ramp: m.ramp,
          rampConns: m.rampConns,
        })),
      };
      for (const worker of workers) sendSnapshot(worker);
    },
  });
  const { membership } = control;

  const sumInFlight = () => {
    membership.inFlight.clear();
    for (const counts of inFlight.values())
      for (const [id, n] of Object.entries(counts))
        membership.inFlight.set(id, (membership.inFlight.get(id) ?? 0) + n);
    queued.clear();
    for (const counts of queuedBy.values())
      for (const [id, n] of Object.entries(counts)) queued.set(id, (queued.get(id) ?? 0) + n);
  };

  // Chosen once here (PORT=0): workers join one another's sockets on it.
  const port = await claimPort(config.port, config.host);
  let ready = 0;
  const allReady = Promise.withResolvers<void>();
  const shareOf = new Map<Worker, number>();
  const sendSnapshot = (worker: Worker) =>
    worker.send({ ...snapshot!, share: shareOf.get(worker) } satisfies ToWorker);
  const fork = (share: number) => {
    const worker = cluster.fork({ PORT: String(port) });
    workers.add(worker);
    shareOf.set(worker, share);
    worker.on("online", () => sendSnapshot(worker));
    // A message sent as it exits fails (EPIPE, channel closed): the 'exit'
    // below deals with the worker; unhandled, the error ended the primary.
    worker.on("error", (error) =>
      logger.warn({ pid: worker.process.pid, err: error }, "message to a worker failed"),
    );
    worker.on("message", (message: ToPrimary) => {
      switch (message.t) {
        case "ready":
          if (++ready === config.workers) allReady.resolve();
          return;
        case "down":
          return membership.markDown(message.id, message.detail);
        case "served":
          for (const [id, n] of Object.entries(message.counts)) membership.countServed(id, n);
          inFlight.set(worker, message.inFlight);
          queuedBy.set(worker, message.queued);
          return sumInFlight();
        case "metrics":
          return pending.get(message.id)?.(message.json);
      }
    });
    worker.on("exit", (code, signal) => {
      workers.delete(worker);
      retire(worker);
      inFlight.delete(worker);
      queuedBy.delete(worker);
      sumInFlight();
      if (stopping) return;
      // One that could not start (the port taken, say) would fail again:
      // the proxy does not start rather than fork forever.
      if (ready < config.workers) {
        stopping = true;
        for (const other of workers) other.process.kill("SIGTERM");
        allReady.reject(
          new Error(`a worker could not start (exit code ${code}): see its log line`),
        );
        return;
      }
      logger.error({ pid: worker.process.pid, code, signal }, "worker exited; starting another");
      fork(shareOf.get(worker)!);
    });
  };
  for (let i = 0; i < config.workers; i++) fork(i);

  if (config.tls !== undefined) {
    let keys: ToWorker = { t: "ticket-keys", keys: newTicketKeys().toString("hex") };
    cluster.on("online", (worker) => worker.send(keys));
    rotateTicketKeys((next) => {
      keys = { t: "ticket-keys", keys: next.toString("hex") };
      for (const worker of workers) worker.send(keys);
    });
    // Each worker reads its certificates again; the primary holds none.
    process.on("SIGHUP", () => {
      for (const worker of workers) worker.process.kill("SIGHUP");
    });
  }

  // The admin listener (and so /healthz) opens once every worker listens.
  await allReady.promise;
  const adminPort = await control.start();
  logger.info(
    { port, adminPort, adminHost: config.admin.host, workers: config.workers },
    "proxy listening",
  );
  announceHealth(logger, config.admin.host, adminPort, "/healthz");

  onShutdownSignal(logger, config.graceMs + STOP_MS, async () => {
    stopping = true;
    // Each worker drains its in-flight requests and exits on its own signal.
    const exited = [...workers].map((w) => new Promise((r) => w.once("exit", r)));
    for (const worker of workers) worker.process.kill("SIGTERM");
    await Promise.all([...exited, control.close()]);
  });
}

async function runWorker(config: ProxyConfig, logger: Logger): Promise<void> {
  const send = (message: ToPrimary) => process.send!(message);
  const metrics = createMetrics();
  const loads = new Map<string, number>();
  let served: Record<string, number> = {};
  let current: Placement | undefined;

  const data = createDataPlane({
    // CLIENT_MAXCONN is for all workers together: each serves its share (set with the first placement).
    config: { ...config, clientMaxconn: shareOfLimit(config.clientMaxconn, 0, config.workers) },
    logger,
    metrics,
    lookup: createBackendLookup(config.timeouts.connectMs),
    placement: () => current!,
    loads,
    hooks: {
      markDown: (id, detail) => send({ t: "down", id, detail }),
      served: (id) => {
        served[id] = (served[id] ?? 0) + 1;
      },
    },
  });

  const listening = Promise.withResolvers<void>();
  process.on("message", (message: ToWorker) => {
    if (message.t === "placement") {
      const members = message.members.map((m) => ({ ...m, url: new URL(m.url) }));
      // Each worker holds its share of a server's maxconn and of CLIENT_MAXCONN.
      const share = message.share ?? 0;
      for (const m of members) m.maxconn = shareOfLimit(m.maxconn, share, config.workers);
      data.setClientLimit(shareOfLimit(config.clientMaxconn, share, config.workers));
      current = buildPlacement(members, config, message.version);
      data.placementChanged();
      metrics.keepServers(members.map((m) => m.id));
      listening.resolve();
    } else if (message.t === "metrics") {
      // A scrape that comes before the first placement waits for it: the
      // load gauges read the placement.
      void listening.promise
        .then(() => metrics.registry.getMetricsAsJSON())
        .then((json) => send({ t: "metrics", id: message.id, json: json as object[] }));
    } else if (message.t === "ticket-keys") {
      data.setTicketKeys(Buffer.from(message.keys, "hex"));
    }
  });
  // The primary is gone: nobody keeps the placement current any more.
  process.on("disconnect", () => void data.close(STOP_MS).then(() => process.exit(1)));

  await listening.promise;
  await data.listen(config.port, config.host);
  if (config.tls !== undefined) {
    await listen(data.tlsServer!, config.tls.port, config.host);
    watchCertificates(config.tls.sources, (cause) => data.reloadCertificates(cause), logger);
  }
  // Idle workers stay quiet: a report goes out while requests are served or
  // in flight, and once after, so the primary sees the in-flight counts at 0.
  let wasBusy = false;
  setInterval(() => {
    const busy = [...loads.values()].some((n) => n > 0);
    if (Object.keys(served).length === 0 && !busy && !wasBusy) return;
    wasBusy = busy;
    const queued: Record<string, number> = {};
    // A queued request is counted in `loads` too: its server has an entry there.
    for (const id of loads.keys()) {
      const n = data.queued(id);
      if (n > 0) queued[id] = n;
    }
    send({ t: "served", counts: served, inFlight: Object.fromEntries(loads), queued });
    served = {};
  }, REPORT_MS).unref();
  send({ t: "ready" });
  onShutdownSignal(logger, config.graceMs + STOP_MS, () => data.close(STOP_MS));
}

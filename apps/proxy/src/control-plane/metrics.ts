// Prometheus metrics. No label carries a client address: label sets stay
// bounded by the number of servers.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { DataPlaneMetrics, LoadView, ServerLoad } from "../data-plane/data-plane.js";
import type { DiscoveryMetrics } from "./discovery/discovery.js";

/** The data plane's counts (DataPlaneMetrics) and the control plane's gauges, in one registry. */
export interface Metrics extends DataPlaneMetrics, DiscoveryMetrics {
  registry: Registry;
  serverUp: Gauge<"server">;
  rebuilds: Counter;
  /** The servers that exist now: series of those removed go, so they do not pile up. */
  keepServers(ids: readonly string[]): void;
}

/**
 * Label children cached by their label values, so the request path does
 * not call labels() each time (nor builds a string to look one up).
 * prom-client still checks and hashes the label set inside every inc() and
 * observe(): both metrics together cost about 0.7 µs per request (1,000,000
 * calls in a loop), about 1% of the proxy's CPU per request; keeping our own
 * counts and buckets measured 0.07 µs, not worth a histogram of our own.
 */
function cachedChildren<K, T>(make: (key: K) => T): Children<K, T> {
  const children = new Map<K, T>();
  const get = (key: K) => {
    let child = children.get(key);
    if (child === undefined) children.set(key, (child = make(key)));
    return child;
  };
  return Object.assign(get, { cached: children });
}

type Children<K, T> = ((key: K) => T) & { cached: Map<K, T> };

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({
    register: registry,
    prefix: "stickyring_process_",
    // Event-loop lag sampled every 100 ms, not prom-client's 10: its timer
    // woke an idle proxy 100 times a second (187 -> 49 wakeups a second in
    // all), every worker too; a scrape's percentiles still hold 150 samples.
    eventLoopMonitoringPrecision: 100,
  });
  const requests = new Counter({
    name: "stickyring_requests_total",
    help: "Requests answered, by backend and HTTP status (backend is 'none' when no server was chosen).",
    labelNames: ["backend", "code"],
    registers: [registry],
  });
  const upstreamSeconds = new Histogram({
    name: "stickyring_upstream_response_seconds",
    help: "Time from routing a request to the backend's response headers.",
    labelNames: ["backend"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const requestChildren = cachedChildren((backend: string) =>
    cachedChildren((code: number) => requests.labels(backend, String(code))),
  );
  const upstreamChild = cachedChildren((backend: string) => upstreamSeconds.labels(backend));
  let known = new Set<string>();
  // Servers removed from the membership: the end of a request they still held
  // is not counted, or their series, just dropped, would come back.
  const removed = new Set<string>();
  const gone = (backend: string) => removed.size > 0 && removed.has(backend);
  const lookups = new Counter({
    name: "stickyring_dns_lookups_total",
    help: "DNS lookups of a discovery group, by result: ok (servers named), partial (one address family failed: its last addresses are kept), empty (NXDOMAIN or no records), error (timeout, SERVFAIL, REFUSED...: the last servers are kept).",
    labelNames: ["group", "result"],
    registers: [registry],
  });
  const groupServers = new Gauge({
    name: "stickyring_dns_group_servers",
    help: "Servers a discovery group names now.",
    labelNames: ["group"],
    registers: [registry],
  });
  const groupStale = new Gauge({
    name: "stickyring_dns_group_stale",
    help: "1 while DNS fails for a discovery group and the last servers it named are kept (HAProxy's hold obsolete).",
    labelNames: ["group"],
    registers: [registry],
  });
  const serverUp = new Gauge({
    name: "stickyring_server_up",
    help: "1 when the server is in the placement (up and not in maintenance), else 0.",
    labelNames: ["server"],
    registers: [registry],
  });
  const retries = new Counter({
    name: "stickyring_retries_total",
    help: "Requests retried on the next server after a failed connection, by the server that failed.",
    labelNames: ["from"],
    registers: [registry],
  });
  const queueSeconds = new Histogram({
    name: "stickyring_queue_seconds",
    help: "Time requests waited in a server's queue for a slot (MAXCONN), until granted, timed out (503) or moved because the server left.",
    labelNames: ["backend"],
    buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const queueChild = cachedChildren((backend: string) => queueSeconds.labels(backend));
  let load: (() => LoadView) | undefined;
  // One view per scrape, shared by every gauge below: a scrape collects them
  // all in one turn, and the view is dropped before the next.
  let view: LoadView | undefined;
  const currentView = (): LoadView | undefined => {
    if (view === undefined && load !== undefined) {
      view = load();
      setImmediate(() => (view = undefined));
    }
    return view;
  };
  /** A gauge read from the data plane at scrape time. */
  const loadGauge = <L extends string>(
    name: string,
    help: string,
    labelNames: L[],
    fill: (gauge: Gauge<L>, view: LoadView) => void,
  ) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        const current = currentView();
        if (current) fill(this, current);
      },
    });
  /** A gauge of one figure per server, read from the data plane at scrape time. */
  const serverGauge = (name: string, help: string, pick: (s: ServerLoad) => number) =>
    loadGauge(name, help, ["backend"], (gauge, view) => {
      for (const [backend, s] of view.servers) gauge.set({ backend }, pick(s));
    });
  loadGauge(
    "stickyring_server_requests",
    "Requests per server: in flight (holding one of its MAXCONN slots) or queued (waiting for one).",
    ["backend", "state"],
    (gauge, view) => {
      for (const [backend, s] of view.servers) {
        gauge.set({ backend, state: "in_flight" }, s.busy);
        gauge.set({ backend, state: "queued" }, s.queued);
      }
    },
  );
  serverGauge(
    "stickyring_server_requests_max",
    "The most requests holding one of a server's slots at once (sent to it, or waiting for a connection to it) since it joined the placement, as HAProxy's smax. Summed over workers.",
    (s) => s.busyPeak,
  );
  serverGauge(
    "stickyring_server_maxconn",
    "Requests in flight a server takes at most (MAXCONN; 0: no limit). Summed over workers: each holds a share.",
    (s) => s.limit,
  );
  loadGauge(
    "stickyring_server_connections",
    "Connections open to each server: carrying a request (busy) or kept alive (idle, at most MAX_IDLE_PER_SERVER).",
    ["backend", "state"],
    (gauge, view) => {
      for (const [backend, s] of view.servers) {
        gauge.set({ backend, state: "busy" }, s.connections.busy);
        gauge.set({ backend, state: "idle" }, s.connections.idle);
      }
    },
  );
  serverGauge(
    "stickyring_server_connections_max",
    "The most connections open to a server at once (busy and idle) since the proxy started. Summed over workers.",
    (s) => s.connections.peak,
  );
  loadGauge(
    "stickyring_client_connections",
    "Client connections: served (open), or accepted past CLIENT_MAXCONN and waiting unread (waiting).",
    ["state"],
    (gauge, view) => {
      gauge.set({ state: "open" }, view.clients.open);
      gauge.set({ state: "waiting" }, view.clients.waiting);
    },
  );
  loadGauge(
    "stickyring_client_connections_limit",
    "CLIENT_MAXCONN: client connections served at once.",
    [],
    (gauge, view) => gauge.set(view.clients.limit),
  );
  loadGauge(
    "stickyring_client_connections_refused",
    "Connections closed at once since start because the served and the waiting were both full.",
    [],
    (gauge, view) => gauge.set(view.clients.refused),
  );
  loadGauge(
    "stickyring_client_connections_refused_per_address",
    "Connections closed at once since start because their client address held CLIENT_ADDRESS_MAXCONN already.",
    [],
    (gauge, view) => gauge.set(view.clients.refusedPerAddress),
  );
  return {
    registry,
    watchLoad(source) {
      load = source;
    },
    observeQueue(backend, seconds) {
      if (!gone(backend)) queueChild(backend).observe(seconds);
    },
    countRequest(backend, code) {
      if (!gone(backend)) requestChildren(backend)(code).inc();
    },
    observeUpstream(backend, seconds) {
      if (!gone(backend)) upstreamChild(backend).observe(seconds);
    },
    serverUp,
    rebuilds: new Counter({
      name: "stickyring_placement_rebuilds_total",
      help: "Placement tables built since start.",
      registers: [registry],
    }),
    countRetry(from) {
      if (!gone(from)) retries.inc({ from });
    },
    countLookup(group, result) {
      lookups.inc({ group, result });
    },
    groupState(group, servers, stale) {
      groupServers.set({ group }, servers);
      groupStale.set({ group }, stale ? 1 : 0);
    },
    keepServers(ids) {
      const now = new Set(ids);
      for (const server of now) removed.delete(server);
      for (const server of known) {
        if (now.has(server)) continue;
        removed.add(server);
        // Bounded: a request outlives its server's removal by seconds, not by thousands of removals.
        if (removed.size > 1024) removed.delete(removed.values().next().value!);
        serverUp.remove({ server });
        retries.remove({ from: server });
        const codes = requestChildren.cached.get(server)?.cached;
        for (const code of codes?.keys() ?? []) requests.remove(server, String(code));
        requestChildren.cached.delete(server);
        if (upstreamChild.cached.delete(server)) upstreamSeconds.remove(server);
        if (queueChild.cached.delete(server)) queueSeconds.remove(server);
      }
      known = now;
    },
  };
}

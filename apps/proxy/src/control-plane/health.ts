// Active health checks: every `inter`, GET the check path of every server
// that is not in maintenance, one check per server at a time. Off the
// request path.

import { Agent, request } from "node:http";
import type { LookupFunction } from "node:net";
import { isLocalShortage } from "../http/upstream/exchange.js";
import type { Membership } from "./membership.js";

export interface HealthOptions {
  path: string;
  interMs: number;
  timeoutMs: number;
}

function check(
  url: URL,
  options: HealthOptions,
  agent: Agent,
): Promise<{ ok: boolean | undefined; detail: string }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(new URL(options.path, url), {
      agent,
      headers: { "user-agent": "stickyring-health-check", connection: "close" },
    });
    let answered = false;
    // Timers run before I/O in each turn of the event loop: after a busy turn
    // an answer already in the socket would lose to the timer. It is read
    // first (setImmediate runs after this turn's I/O), and only then is the
    // check a timeout.
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (answered) return;
          req.destroy();
          resolve({ ok: false, detail: `timeout after ${options.timeoutMs}ms` });
        }),
      options.timeoutMs,
    );
    req.on("response", (res) => {
      answered = true;
      res.resume();
      clearTimeout(timer);
      const ms = Math.round(performance.now() - started);
      const status = res.statusCode ?? 0;
      resolve({ ok: status >= 200 && status < 400, detail: `HTTP ${status} in ${ms}ms` });
    });
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      // The proxy out of descriptors or ports says nothing of the server:
      // no verdict (ok undefined), or every server would go down at once.
      const ours = isLocalShortage(error.code);
      resolve({ ok: ours ? undefined : false, detail: error.code ?? error.message });
    });
    req.end();
  });
}

/** Starts checking; returns a function that stops it. */
export function startHealthChecks(
  membership: Membership,
  options: HealthOptions,
  lookup: LookupFunction,
): () => void {
  const agent = new Agent({ keepAlive: false, lookup });
  const inFlight = new Set<string>();
  let stopped = false;
  const round = () => {
    for (const member of membership.list()) {
      // A check still running (a server slow to answer or to resolve) is not
      // doubled: HAProxy, too, runs one check per server at a time.
      if (member.admin === "maint" || inFlight.has(member.id)) continue;
      inFlight.add(member.id);
      void check(member.url, options, agent).then(({ ok, detail }) => {
        inFlight.delete(member.id);
        if (!stopped && ok !== undefined) membership.recordCheck(member.id, ok, detail);
      });
    }
  };
  const timer = setInterval(round, options.interMs);
  timer.unref();
  round();
  return () => {
    stopped = true;
    clearInterval(timer);
    agent.destroy();
  };
}

// Active health checks: every `inter`, GET the check path of every server
// that is not in maintenance. Off the request path.

import type { Membership } from "./membership.js";

export interface HealthOptions {
  path: string;
  interMs: number;
  timeoutMs: number;
}

async function check(url: URL, options: HealthOptions): Promise<{ ok: boolean; detail: string }> {
  const started = performance.now();
  try {
    const response = await fetch(new URL(options.path, url), {
      signal: AbortSignal.timeout(options.timeoutMs),
      headers: { "user-agent": "stickyring-health-check" },
    });
    await response.body?.cancel();
    const ms = Math.round(performance.now() - started);
    return {
      ok: response.status >= 200 && response.status < 400,
      detail: `HTTP ${response.status} in ${ms}ms`,
    };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    const name =
      (error as Error).name === "TimeoutError" ? `timeout after ${options.timeoutMs}ms` : undefined;
    return { ok: false, detail: name ?? cause ?? (error as Error).message };
  }
}

/** Starts checking; returns a function that stops it. */
export function startHealthChecks(membership: Membership, options: HealthOptions): () => void {
  let stopped = false;
  const round = () => {
    for (const member of membership.list()) {
      if (member.admin === "maint") continue;
      void check(member.url, options).then(({ ok, detail }) => {
        if (!stopped) membership.recordCheck(member.id, ok, detail);
      });
    }
  };
  const timer = setInterval(round, options.interMs);
  timer.unref();
  round();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

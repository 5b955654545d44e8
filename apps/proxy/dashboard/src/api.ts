// The admin API, from the page. Relative URLs: the page works behind a path prefix.

import type { Lookup, Moves } from "../../src/control-plane/views.js";

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = (await response.json().catch(() => ({}))) as { error?: string };
  if (!response.ok) throw new Error(data.error ?? `${response.status} ${response.statusText}`);
  return data as T;
}

/** A change the admin API knows: its path, method and body. */
export interface Change {
  label: string;
  method: "POST" | "DELETE";
  path: string;
  body?: unknown;
}

export const preview = (change: Change) =>
  call<Moves>(change.method, `${change.path}?dryRun=true`, change.body);

export const apply = (change: Change) => call<unknown>(change.method, change.path, change.body);

export const lookup = (params: Record<string, string>) =>
  call<Lookup>("GET", `api/lookup?${new URLSearchParams(params)}`);

export const serverPath = (id: string, action = "") =>
  `api/servers/${encodeURIComponent(id)}${action && `/${action}`}`;

// Open-file limits for runs with thousands of connections. Every connection
// is a descriptor: a proxy holds a client socket and, while it forwards, an
// upstream socket per request in flight, so 5,000 connections need about
// 10,000 descriptors in the proxy where the usual soft limit is 1,024.

import { readFileSync } from "node:fs";

/** Descriptors a proxy keeps beside its connections: listening sockets (stickyring binds 16), admin API, health checks, logs, samplers. */
const RESERVED = 256;

/** The soft and hard RLIMIT_NOFILE of this process, from /proc (Node has no getrlimit). */
export function openFilesLimit(): { soft: number; hard: number } {
  const line = readFileSync("/proc/self/limits", "utf8")
    .split("\n")
    .find((l) => l.startsWith("Max open files"));
  const [soft, hard] = (line ?? "").split(/\s+/).slice(3, 5);
  // "unlimited" is bounded by the kernel's per-process maximum anyway.
  const nrOpen = () => Number(readFileSync("/proc/sys/fs/nr_open", "utf8").trim());
  const read = (value: string | undefined) =>
    value === "unlimited" ? nrOpen() : Number(value ?? NaN);
  const limits = { soft: read(soft), hard: read(hard) };
  if (!Number.isFinite(limits.soft) || !Number.isFinite(limits.hard))
    throw new Error(`cannot read "Max open files" from /proc/self/limits: ${line}`);
  return limits;
}

/**
 * The limit the benchmark's children run with: the hard limit, the most an
 * unprivileged process may set. (Node raises its own soft limit to the hard
 * one at start-up and children inherit it, but HAProxy, nginx and wrk are
 * given it explicitly, so the cap below is computed from the limit they have
 * however the benchmark was started.)
 */
export const OPEN_FILES = openFilesLimit().hard;

/** The most client connections a proxy can hold with `limit` descriptors: one client and one upstream socket each. */
export function connectionsAllowed(limit = OPEN_FILES): number {
  return Math.floor((limit - RESERVED) / 2);
}

/** `command args` run by sh with the soft open-file limit raised to `limit` (`exec`: the pid stays the command's). */
export function withOpenFiles(
  command: string,
  args: readonly string[],
  limit = OPEN_FILES,
): [string, string[]] {
  return ["sh", ["-c", `ulimit -n ${limit} && exec "$0" "$@"`, command, ...args]];
}

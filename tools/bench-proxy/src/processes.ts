// The processes under test, each on its own loopback port.

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { waitForPort } from "@stickyring/runtime";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connectionsAllowed, OPEN_FILES, withOpenFiles } from "./limits.js";

export interface Started {
  name: string;
  port: number;
  pid: number;
  /** SIGTERM (a graceful stop), SIGKILL after 3 s; `SIGKILL` at once to kill it as a crash would. */
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
}

export const repo = fileURLToPath(new URL("../../..", import.meta.url));

/**
 * Every benchmark's ports are this plus a fixed offset (19000 unless
 * BENCH_PORT_BASE says otherwise), so a run can keep to a range of its own.
 */
export const PORT_BASE = Number(process.env.BENCH_PORT_BASE ?? 19000);

/**
 * How `pnpm start` (and, with the same values, the image) runs the proxy,
 * read from apps/proxy/package.json so the benchmark runs exactly that:
 * environment settings (glibc's malloc tunables) and node's flags.
 * PROXY_NODE_FLAGS replaces the flags, to compare others side by side.
 */
function readStartScript(): { env: Record<string, string>; flags: string[] } {
  const manifest = JSON.parse(readFileSync(join(repo, "apps/proxy/package.json"), "utf8")) as {
    scripts: { start: string };
  };
  const words = manifest.scripts.start.split(/\s+/);
  const env: Record<string, string> = {};
  while (/^[A-Z_]+=/.test(words[0]!)) {
    const [name, ...value] = words.shift()!.split("=");
    env[name!] = value.join("=");
  }
  if (words.shift() !== "node" || words.pop() !== "dist/main.js")
    throw new Error(
      `apps/proxy's start script is not "node [flags] dist/main.js": ${manifest.scripts.start}`,
    );
  const flags = process.env.PROXY_NODE_FLAGS?.split(" ").filter(Boolean) ?? words;
  return { env, flags };
}

export const PROXY_START = readStartScript();

/** The proxy's command line as the reports quote it. */
export function launchLine(): string {
  const env = Object.entries(PROXY_START.env).map(([k, v]) => `${k}=${v}`);
  return `\`${[...env, "node", ...PROXY_START.flags].join(" ")}\``;
}

const work = mkdtempSync(join(tmpdir(), "stickyring-bench-"));

/** Installs haproxy, nginx-light and wrk from Debian when missing (root only). */
export function ensureTools(): void {
  const missing = ["haproxy", "nginx", "wrk"].filter(
    (tool) => spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0,
  );
  if (missing.length === 0) return;
  const packages = missing.map((t) => (t === "nginx" ? "nginx-light" : t));
  console.error(`installing ${packages.join(", ")} from Debian`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  if (
    spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env }).status !== 0 ||
    spawnSync("apt-get", ["install", "-y", "-qq", ...packages], { stdio: "inherit", env })
      .status !== 0
  ) {
    throw new Error(`cannot install ${packages.join(", ")}: run as root, or install them yourself`);
  }
}

export async function startProcess(
  name: string,
  port: number,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<Started> {
  const log = join(work, `${name.replace(/\W+/g, "-")}.log`);
  writeFileSync(log, "");
  // Every child gets the raised open-file limit: 1,000 connections and more need it.
  const [shell, shellArgs] = withOpenFiles(command, args);
  const child = spawn(shell, shellArgs, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.stderr!.on("data", (d: Buffer) => writeFileSync(log, d, { flag: "a" }));
  try {
    await waitForPort(port, { alive: () => child.exitCode === null });
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(
      `${name} did not start: ${(error as Error).message}\n${readFileSync(log, "utf8").slice(-2000)}`,
      { cause: error },
    );
  }
  return {
    name,
    port,
    pid: child.pid!,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill(signal);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      child.kill("SIGKILL");
    },
  };
}

/**
 * Three nginx servers answering `Hello from App N`: fast enough never to be
 * the bottleneck, and with room for as many connections as the open-file
 * limit allows (a proxy at 5,000 connections may open 5,000 to them).
 */
export function startBackends(ports: number[]): Promise<Started> {
  const dir = join(work, "nginx");
  for (const sub of ["body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"])
    mkdirSync(join(dir, sub), { recursive: true });
  const servers = ports
    .map(
      (port, i) =>
        `  server { listen 127.0.0.1:${port}; keepalive_requests 1000000; location / { default_type text/plain; return 200 "Hello from App ${i + 1}"; } }`,
    )
    .join("\n");
  writeFileSync(
    join(dir, "nginx.conf"),
    `worker_processes 1;\nworker_rlimit_nofile ${OPEN_FILES};\ndaemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/logs/error.log warn;\nevents { worker_connections ${Math.max(1024, OPEN_FILES - 64)}; }\nhttp {\n  access_log off;\n  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;\n${servers}\n}\n`,
  );
  return startProcess("nginx backends", ports[0]!, "nginx", [
    "-p",
    dir,
    "-c",
    join(dir, "nginx.conf"),
  ]);
}

/**
 * HAProxy 2.6, one thread; with `tls`, the frontend terminates TLS as
 * stickyring's TLS port does: `ssl crt` (certificate and key in one PEM),
 * ALPN h2 and http/1.1, Mozilla intermediate's TLS 1.2 suites. `maxconn`
 * (4,096 unless given) is set globally and for the frontend, whose own
 * default is lower; it is lowered to what the open-file limit has room for,
 * as HAProxy, needing two descriptors per connection, refuses to start otherwise.
 */
export function startHaproxy(
  port: number,
  backends: number[],
  options: { tls?: { pem: string; ciphers: string }; maxconn?: number } = {},
): Promise<Started> {
  const { tls } = options;
  const maxconn = Math.min(options.maxconn ?? 4096, connectionsAllowed());
  const config = [
    "global",
    "  nbthread 1",
    `  maxconn ${maxconn}`,
    ...(tls
      ? [
          `  ssl-default-bind-ciphers ${tls.ciphers}`,
          "  ssl-default-bind-options ssl-min-ver TLSv1.2",
        ]
      : []),
    "defaults",
    "  mode http",
    `  maxconn ${maxconn}`,
    "  timeout connect 5s",
    "  timeout client 30s",
    "  timeout server 30s",
    "  option http-keep-alive",
    "frontend fe",
    `  bind 127.0.0.1:${port}${tls ? ` ssl crt ${tls.pem} alpn h2,http/1.1` : ""}`,
    "  default_backend be",
    "backend be",
    "  balance source",
    "  hash-type consistent",
    ...backends.map((p, i) => `  server app${i + 1} 127.0.0.1:${p}`),
    "",
  ].join("\n");
  const file = join(work, tls ? "haproxy-tls.cfg" : "haproxy.cfg");
  writeFileSync(file, config);
  return startProcess("HAProxy 2.6", port, "haproxy", ["-f", file, "-db"]);
}

/**
 * stickyring's proxy as a user runs it (`pnpm start`, the image): default
 * configuration apart from ports, backends and, for the multi-core rows, WORKERS.
 */
export async function startStickyring(
  port: number,
  adminPort: number,
  backends: number[],
  workers = 0,
  build = { name: "stickyring", main: join(repo, "apps/proxy/dist/main.js") },
  /** Further settings (the TLS port's, high-load runs'); with TLS_PORT, `port` is the TLS port, waited for too. */
  settings: Record<string, string> = {},
): Promise<Started & { adminPort: number }> {
  const started = await startProcess(
    workers === 0 ? build.name : `${build.name}, ${workers} workers`,
    port,
    process.execPath,
    [...PROXY_START.flags, build.main],
    {
      ...PROXY_START.env,
      PORT: String(port),
      ADMIN_PORT: String(adminPort),
      BACKENDS: backends.map((p, i) => `app${i + 1}=http://127.0.0.1:${p}`).join(","),
      WORKERS: String(workers),
      ...settings,
    },
  );
  // Workers listen one after the other: wait until the admin API answers, which the primary opens after them.
  await waitForPort(adminPort);
  return { ...started, adminPort };
}

export function startBaseline(port: number, backends: number[]): Promise<Started> {
  const script = fileURLToPath(new URL("./baseline.js", import.meta.url));
  return startProcess("tutorial baseline", port, process.execPath, [
    script,
    String(port),
    ...backends.map((p) => `http://127.0.0.1:${p}`),
  ]);
}

/** Sums `read(/proc/<pid>/<file>)` over a process and its children; a process gone counts 0. */
function sumOverProcesses(pid: number, file: string, read: (text: string) => number): number {
  return [pid, ...childPids(pid)].reduce((sum, p) => {
    try {
      return sum + read(readFileSync(`/proc/${p}/${file}`, "utf8"));
    } catch {
      return sum;
    }
  }, 0);
}

/** USER_HZ on Linux: the unit of the times in /proc/<pid>/stat. */
const TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system) a process and its children have used, in seconds.
 * Per request it is steadier than requests/s on a machine where the load
 * generator and the backends compete for the same cores.
 */
export function cpuSeconds(pid: number): number {
  return sumOverProcesses(pid, "stat", (stat) => {
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  });
}

/** Peak resident memory of a process and its children so far, in MB (VmHWM). */
export function peakRssMb(pid: number): number {
  return sumOverProcesses(pid, "status", (status) => {
    const match = /VmHWM:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) / 1024 : 0;
  });
}

export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** A scratch file in the run's folder (removed by cleanup). */
export function workFile(name: string): string {
  return join(work, name);
}

export function cleanup(): void {
  rmSync(work, { recursive: true, force: true });
}

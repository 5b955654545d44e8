// Real HAProxy and nginx, started from Debian's binaries with a generated
// configuration, for side-by-side placement checks.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { waitForPort } from "@stickyring/runtime";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Upstream {
  id: string;
  port: number;
  weight: number;
}

export interface Reference {
  port: number;
  /** HAProxy only: a runtime API command such as `disable server be/app2`. */
  command(line: string): Promise<string>;
  stop(): Promise<void>;
}

async function run(
  binary: string,
  args: string[],
  port: number,
  dir: string,
): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d));
  child.stderr!.on("data", (d: Buffer) => (output += d));
  child.once("error", (error) => (output += `\n${error.message}`));
  try {
    await waitForPort(port, { timeoutMs: 10_000, alive: () => child.exitCode === null });
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `${binary} did not start (is Debian's ${binary === "haproxy" ? "haproxy" : "nginx-light"} installed?): ${(error as Error).message}`,
      { cause: error },
    );
  }
  return child;
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 3000)))]);
    clearTimeout(timer); // a pending timer would keep jest waiting after the run
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
}

/**
 * HAProxy with `balance <balance>` and `hash-type consistent`, servers
 * declared in order; with `cookie`, persistence as `cookie <name> insert
 * indirect`, each server's cookie value its id.
 */
export function startHaproxy(
  port: number,
  balance: string,
  upstreams: Upstream[],
  cookie?: string,
  /** Added to every server line, e.g. `slowstart 6s`. */
  serverOptions = "",
): Promise<Reference> {
  const serverCookie = (u: Upstream) => (cookie === undefined ? "" : ` cookie ${u.id}`);
  return haproxy(port, [
    "  mode http",
    `  balance ${balance}`,
    "  hash-type consistent",
    ...(cookie === undefined ? [] : [`  cookie ${cookie} insert indirect`]),
    ...upstreams.map((u) =>
      `  server ${u.id} 127.0.0.1:${u.port} weight ${u.weight}${serverCookie(u)} ${serverOptions}`.trimEnd(),
    ),
  ]);
}

/**
 * HAProxy as a layer-4 balancer in front (`mode tcp`), passing each
 * connection to `target` with a PROXY protocol header (`send-proxy` for v1,
 * `send-proxy-v2`).
 */
export function startHaproxyTcpFront(
  port: number,
  target: number,
  send: "send-proxy" | "send-proxy-v2",
): Promise<Reference> {
  return haproxy(port, ["  mode tcp", `  server next 127.0.0.1:${target} ${send}`]);
}

/** HAProxy listening on `port`, its backend `be` made of `backend` lines. */
async function haproxy(port: number, backend: string[]): Promise<Reference> {
  const dir = mkdtempSync(join(tmpdir(), "stickyring-haproxy-"));
  const socket = join(dir, "admin.sock");
  const mode = backend.find((line) => line.trim().startsWith("mode "))!;
  const config = [
    "global",
    `  stats socket ${socket} mode 600 level admin`,
    "defaults",
    mode,
    "  timeout connect 2s",
    "  timeout client 10s",
    "  timeout server 10s",
    "frontend fe",
    `  bind 127.0.0.1:${port}`,
    "  default_backend be",
    "backend be",
    ...backend.filter((line) => line !== mode),
    "",
  ].join("\n");
  writeFileSync(join(dir, "haproxy.cfg"), config);
  const child = await run("haproxy", ["-f", join(dir, "haproxy.cfg"), "-db"], port, dir);
  return {
    port,
    command: (line) =>
      new Promise((resolve, reject) => {
        const client = connect(socket);
        let answer = "";
        client.on("data", (d) => (answer += d));
        client.on("end", () => resolve(answer));
        client.on("error", reject);
        client.end(`${line}\n`);
      }),
    stop: stopper(child, dir),
  };
}

/** nginx with `hash <key> consistent`; `down` marks servers as nginx's `down` parameter does. */
export async function startNginx(
  port: number,
  key: string,
  upstreams: Upstream[],
  down: string[] = [],
): Promise<Reference> {
  const dir = mkdtempSync(join(tmpdir(), "stickyring-nginx-"));
  for (const sub of ["body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"])
    mkdirSync(join(dir, sub));
  const config = `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream be {
    hash ${key} consistent;
${upstreams.map((u) => `    server 127.0.0.1:${u.port} weight=${u.weight}${down.includes(u.id) ? " down" : ""};`).join("\n")}
  }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://be; }
  }
}
`;
  writeFileSync(join(dir, "nginx.conf"), config);
  const child = await run("nginx", ["-p", dir, "-c", join(dir, "nginx.conf")], port, dir);
  return { port, command: async () => "", stop: stopper(child, dir) };
}

// The proxy's configuration: read from the environment (over an optional JSON
// file given with --config), validated once, here, with zod. Nothing else in
// the proxy reads process.env.

import { availableParallelism } from "node:os";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { z } from "zod";
import { MAX_WEIGHT, parseAddress } from "@stickyring/hashing";
import {
  DNS_SCHEMES,
  SERVER_ID,
  parseBackendUrl,
  parseDnsGroup,
  weightSchema,
  type DnsGroupSpec,
  type MaxconnSettings,
  type ServerSpec,
} from "./control-plane/servers.js";
import { parseCidrList, type AddressMatcher } from "./data-plane/cidr.js";
import { COOKIE_NAME } from "./data-plane/cookie.js";
import { ENGINES, type EngineName } from "./data-plane/engine.js";
import type { Balance } from "./data-plane/key-policy.js";
import { HASH_TYPES, type HashType } from "./data-plane/placement.js";
import { parseDuration } from "./duration.js";
import type { TlsSettings } from "./data-plane/tls-port.js";
import type { Timeouts } from "./data-plane/data-plane.js";
import { loadCertificates } from "./http/tls/certificates.js";
import { INTERMEDIATE_CIPHERS } from "./http/tls/policy.js";
import { parseRate, type ClientRate } from "./data-plane/client-rate.js";
import { SET_BY_PROXY as FORWARDED_BY_PROXY } from "./data-plane/forwarded-headers.js";
import { LOG_LEVELS, type LogLevel } from "@stickyring/runtime";

export interface ProxyConfig {
  /** 0: one process; otherwise a control process and this many data-plane workers. */
  workers: number;
  port: number;
  host: string | undefined;
  /** Servers listed by address. */
  backends: ServerSpec[];
  /** Groups of servers found by DNS. */
  discovery: DnsGroupSpec[];
  dns: {
    /** How often each group is looked up again. */
    refreshMs: number;
    /** How long a group that no longer resolves (NXDOMAIN, no records) keeps its servers. */
    holdMs: number;
    /** Name servers to ask (ip or ip:port); undefined: the system's (/etc/resolv.conf). */
    servers: string[] | undefined;
  };
  /** HAProxy `monitor-uri`: answered on the proxy port by the proxy itself. */
  monitorUri: string | undefined;
  /** HAProxy `grace`: after SIGTERM, how long the proxy keeps accepting (MONITOR_URI says 503) before it drains. */
  graceMs: number;
  balance: Balance;
  hashType: HashType;
  /** HAProxy `hash-balance-factor` as a factor (125 -> 1.25); undefined: off. */
  balanceFactor: number | undefined;
  health: { path: string; interMs: number; timeoutMs: number; rise: number; fall: number };
  /** SLOWSTART: a server back up (or joining) reaches its full weight over this (0: at once). */
  slowStartMs: number;
  timeouts: Timeouts;
  /** HAProxy's server `maxconn`: a default for every server and overrides by id or DNS group (0: no limit). */
  maxconn: MaxconnSettings;
  /** Idle kept-alive connections kept per server; beyond it the oldest is closed. */
  maxIdlePerServer: number;
  /** HAProxy's global `maxconn`: client connections served at once, all workers together. */
  clientMaxconn: number;
  /** Connections one client address may hold at once, in each worker (0: no cap). */
  clientAddressMaxconn: number;
  /** Bytes/s a request body must average once it has taken longer than the client timeout (0: off). */
  clientMinBodyRate: number;
  /** Requests a client may send (CLIENT_RATE, CLIENT_RATE_BURST); undefined: no limit. */
  clientRate: ClientRate | undefined;
  /** REQUEST_ID_HEADER, lower case: every routed request gets an id in it; undefined: off. */
  requestIdHeader: string | undefined;
  /** Undefined when no proxy is trusted. */
  trustedProxies: AddressMatcher | undefined;
  logLevel: LogLevel;
  /** One line per request (at info level). */
  accessLog: boolean;
  /** Every connection to the proxy port starts with a PROXY protocol header (HAProxy `accept-proxy`). */
  acceptProxy: boolean;
  /**
   * A request still waiting for its server (in the MAXCONN queue, or for a
   * connection) is dropped when its client shuts its sending side (HAProxy
   * `option abortonclose`).
   */
  abortOnClose: boolean;
  /**
   * HAProxy's `on-marked-down`: `shutdown-sessions` cuts the requests a
   * server holds unanswered when it is marked down (an idempotent one goes
   * to the next server); `none` lets them run to their server timeout.
   */
  onMarkedDown: "none" | "shutdown-sessions";
  /** Cookie persistence (HAProxy `cookie <name> insert indirect`): the cookie's name. */
  cookie: string | undefined;
  admin: { host: string; port: number; token: string | undefined };
  /** The TLS port (HTTPS and HTTP/2), when TLS_PORT is set; its certificates are read and checked. */
  tls: TlsSettings | undefined;
  /** HTTPS_REDIRECT: the plain port answers 308 to the https URL (MONITOR_URI excepted). */
  httpsRedirect: boolean;
  /** HTTP_ENGINE: the proxy's own HTTP/1.1 on llhttp (fast), or node:http with Express (express). */
  engine: EngineName;
  /** What start logs as a warning: settings that look mistyped, defaults a deployment should not keep. */
  notices: string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

const DEFAULT_BACKENDS =
  "app1=http://127.0.0.1:5001,app2=http://127.0.0.1:5002,app3=http://127.0.0.1:5003";

/** A setting arrives as text from the environment, or as JSON from the file. */
const text = z
  .union([z.string(), z.number(), z.boolean()], {
    error: (issue) =>
      `expected text, a number or true/false, got ${issue.input === null ? "null" : Array.isArray(issue.input) ? "a list" : typeof issue.input}`,
  })
  .transform(String);

const integer = (
  fallback: number,
  min: number,
  max: number,
  message = `expected an integer from ${min} to ${max}`,
) =>
  text.optional().transform((v, ctx) => {
    if (v === undefined || v === "") return fallback;
    const n = Number(v);
    if (/^\s*\d+\s*$/.test(v) && n >= min && n <= max) return n;
    ctx.addIssue({ code: "custom", message });
    return z.NEVER;
  });

const port = (fallback: number) =>
  integer(fallback, 0, 65535, "expected a port number from 0 to 65535");

const duration = (fallback: string, minMs: number) =>
  text.optional().transform((v, ctx) => {
    const ms = parseDuration(v === undefined || v === "" ? fallback : v);
    if (ms !== undefined && ms >= minMs && ms <= 86_400_000) return ms;
    ctx.addIssue({
      code: "custom",
      message: `expected a duration such as 500ms, 2s or 1m (at least ${minMs}ms, at most 1d)`,
    });
    return z.NEVER;
  });

/** A file or folder path; empty means unset. */
const path = text.optional().transform((v) => (v === undefined || v.trim() === "" ? undefined : v));

const backendItem = z.object({
  id: z
    .string()
    .regex(SERVER_ID, "expected an id of letters, digits, '.', '_' or '-' (at most 64)"),
  url: z.string(),
  weight: weightSchema.optional(),
});

const BACKENDS_FORM =
  "expected comma-separated entries: id=http://host:port, [name=]dns://host:port or [name=]dns+srv://_service._proto.name";

/** Static servers and DNS groups, in the order written; ids and group names unique. */
const backends = z
  .union([z.string(), z.array(backendItem)])
  .optional()
  .transform((v, ctx) => {
    const items: [string | undefined, string, number | undefined][] =
      v === undefined || v === ""
        ? DEFAULT_BACKENDS.split(",").map((entry) => splitEntry(entry))
        : typeof v === "string"
          ? v.split(",").map((entry) => splitEntry(entry.trim()))
          : v.map((b) => [b.id, b.url, b.weight]);
    const servers: ServerSpec[] = [];
    const groups: DnsGroupSpec[] = [];
    const seen = new Set<string>();
    const fail = (message: string) => {
      ctx.addIssue({ code: "custom", message });
      return z.NEVER;
    };
    for (const [id, url, weight] of items) {
      if (url === "" || (id !== undefined && !SERVER_ID.test(id))) return fail(BACKENDS_FORM);
      if (DNS_SCHEMES.test(url)) {
        if (weight !== undefined)
          return fail(
            `"${url}": a DNS group takes its weights from DNS (SRV weights; 1 per A/AAAA address), not a weight of its own`,
          );
        const group = parseDnsGroup(id, url);
        if (typeof group === "string") return fail(group);
        if (seen.has(group.name)) return fail(`backend "${group.name}" is listed twice`);
        seen.add(group.name);
        groups.push(group);
        continue;
      }
      if (id === undefined) return fail(BACKENDS_FORM);
      if (seen.has(id)) return fail(`backend "${id}" is listed twice`);
      seen.add(id);
      const parsed = parseBackendUrl(id, url);
      if (typeof parsed === "string") return fail(parsed);
      servers.push({ id, url: parsed, weight: weight ?? 1 });
    }
    return { servers, groups };
  });

/** `id=url`, or a bare `dns://` or `dns+srv://` URL. */
function splitEntry(entry: string): [string | undefined, string, undefined] {
  const eq = entry.indexOf("=");
  if (eq < 0 || DNS_SCHEMES.test(entry)) return [undefined, entry, undefined];
  return [entry.slice(0, eq), entry.slice(eq + 1), undefined];
}

/** `app1=2,app3=0`: weights by backend id. */
const weights = text.optional().transform((v, ctx) => {
  const map = new Map<string, number>();
  for (const pair of (v ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [id, w] = pair.split("=");
    const n = Number(w);
    if (!id || w === undefined || !/^\d+$/.test(w) || n > MAX_WEIGHT) {
      ctx.addIssue({
        code: "custom",
        message: `expected id=weight pairs with weights 0..${MAX_WEIGHT}, e.g. app1=2,app2=1`,
      });
      return z.NEVER;
    }
    map.set(id, n);
  }
  return map;
});

const MAXCONN_LIMIT = 1_000_000;

/** `100,app1=50,web=20`: a default for every server, then overrides by server id or DNS group. */
const maxconn = text.optional().transform((v, ctx) => {
  const byName = new Map<string, number>();
  let fallback: number | undefined;
  for (const item of (v ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [name, n] = item.includes("=") ? item.split("=") : [undefined, item];
    if (
      !/^\d{1,7}$/.test(n ?? "") ||
      Number(n) > MAXCONN_LIMIT ||
      (name !== undefined && !SERVER_ID.test(name))
    ) {
      ctx.addIssue({
        code: "custom",
        message: `expected a number of requests in flight per server (0: no limit, at most ${MAXCONN_LIMIT}) and/or id=number overrides by server or DNS group, e.g. 100,app1=50,web=20`,
      });
      return z.NEVER;
    }
    // Given twice, which one was meant would be a guess.
    const twice = name === undefined ? fallback !== undefined : byName.has(name);
    if (twice) {
      ctx.addIssue({
        code: "custom",
        message: `${name === undefined ? "the default" : `"${name}"`} is given twice`,
      });
      return z.NEVER;
    }
    if (name === undefined) fallback = Number(n);
    else byName.set(name, Number(n));
  }
  return { fallback: fallback ?? 0, byName };
});

/** HAProxy's syntax: `source`, `uri [whole] [len N] [depth N] [path-only]`, `hdr(name)`. */
export function parseBalance(value: string): Balance | undefined {
  const words = value.trim().split(/\s+/);
  const [kind, ...rest] = words;
  if (kind === "source" && rest.length === 0) return { kind: "source" };
  const header = /^hdr\(([!#$%&'*+.^_`|~0-9A-Za-z-]+)\)$/.exec(value.trim());
  if (header) return { kind: "hdr", header: header[1]!.toLowerCase() };
  if (kind !== "uri") return undefined;
  const balance = { kind: "uri" as const, whole: false, len: 0, depth: 0, pathOnly: false };
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    if (word === "whole") balance.whole = true;
    else if (word === "path-only") balance.pathOnly = true;
    else if ((word === "len" || word === "depth") && /^\d{1,6}$/.test(rest[i + 1] ?? "")) {
      balance[word] = Number(rest[++i]);
    } else return undefined;
  }
  return balance;
}

const balance = text.optional().transform((v, ctx) => {
  const parsed = parseBalance(v === undefined || v === "" ? "source" : v);
  if (parsed) return parsed;
  ctx.addIssue({
    code: "custom",
    message: "expected source, uri [whole] [len N] [depth N] [path-only], or hdr(<header-name>)",
  });
  return z.NEVER;
});

const schema = z.object({
  PORT: port(8080),
  HOST: text.optional(),
  BACKENDS: backends,
  WEIGHTS: weights,
  BALANCE: balance,
  HASH_TYPE: z
    .enum(HASH_TYPES, { error: `expected one of ${HASH_TYPES.join(", ")}` })
    .default("consistent"),
  HASH_BALANCE_FACTOR: integer(0, 0, 100_000).refine((n) => n === 0 || n >= 100, {
    message:
      "expected 0 (off) or a percentage of at least 100, as HAProxy's hash-balance-factor (e.g. 125)",
  }),
  DNS_REFRESH: duration("5s", 100),
  DNS_HOLD: duration("30s", 0),
  DNS_SERVERS: text.optional().transform((v, ctx) => {
    if (v === undefined || v.trim() === "") return undefined;
    const servers = v.split(",").map((entry) => entry.trim());
    for (const server of servers)
      if (!nameServer(server)) {
        ctx.addIssue({
          code: "custom",
          message: `"${server}" is not a name server address (expected ip or ip:port, e.g. 10.96.0.10 or 127.0.0.1:5353)`,
        });
        return z.NEVER;
      }
    return servers;
  }),
  MONITOR_URI: text
    .optional()
    .refine((v) => v === undefined || v === "" || /^\/[^\s?#]*$/.test(v), {
      message: "expected a path starting with / (no query), e.g. /stickyring/healthz",
    })
    .transform((v) => (v === "" ? undefined : v)),
  GRACE: duration("0s", 0),
  HEALTH_PATH: z
    .string()
    .regex(/^\/[^\s]*$/, "expected a path starting with /")
    .default("/healthz"),
  HEALTH_INTER: duration("2s", 100),
  HEALTH_TIMEOUT: text.optional(),
  HEALTH_RISE: integer(2, 1, 100),
  HEALTH_FALL: integer(3, 1, 100),
  SLOWSTART: duration("0s", 0),
  TIMEOUT_CONNECT: duration("5s", 1),
  TIMEOUT_SERVER: duration("30s", 1),
  TIMEOUT_CLIENT: duration("30s", 1),
  TIMEOUT_TUNNEL: text.optional(),
  CLIENT_MIN_BODY_RATE: integer(500, 0, 1_000_000_000),
  CLIENT_RATE: text.optional().transform((v, ctx) => {
    if (v === undefined || v.trim() === "" || v.trim() === "0") return undefined;
    const perSecond = parseRate(v);
    if (perSecond !== undefined && perSecond <= 1_000_000) return perSecond;
    ctx.addIssue({
      code: "custom",
      message:
        "expected requests a second or a minute per client, as 100/s or 600/m (at most 1000000/s), or empty (no limit)",
    });
    return z.NEVER;
  }),
  REQUEST_ID_HEADER: text.optional().transform((v, ctx) => {
    if (v === undefined || v.trim() === "") return undefined;
    const name = v.trim().toLowerCase();
    if (REQUEST_ID_NAME.test(name) && !SET_BY_PROXY.has(name)) return name;
    ctx.addIssue({
      code: "custom",
      message: SET_BY_PROXY.has(name)
        ? "the proxy sets this header itself; choose another, e.g. X-Request-ID"
        : "expected a header name beginning with X- (letters, digits and -), or Request-ID or Correlation-ID: e.g. X-Request-ID, X-Correlation-ID",
    });
    return z.NEVER;
  }),
  // 0: not given (the default follows the rate).
  CLIENT_RATE_BURST: integer(0, 1, 1_000_000),
  MAXCONN: maxconn,
  TIMEOUT_QUEUE: text.optional(),
  MAX_IDLE_PER_SERVER: integer(16, 0, 100_000),
  CLIENT_MAXCONN: text.optional(),
  CLIENT_ADDRESS_MAXCONN: integer(0, 0, 1_000_000),
  TRUSTED_PROXIES: text.optional().transform((v, ctx) => {
    const parsed = parseCidrList(v ?? "");
    if ("matcher" in parsed) return parsed.matcher;
    ctx.addIssue({
      code: "custom",
      message: `"${parsed.invalid}" is not an address or CIDR block (e.g. 10.0.0.0/8, ::1)`,
    });
    return z.NEVER;
  }),
  WORKERS: text.optional().transform((v, ctx) => {
    if (v === undefined || v === "" || v === "0") return 0;
    if (v === "auto") return availableParallelism();
    if (/^\d{1,3}$/.test(v) && Number(v) <= 256) return Number(v);
    ctx.addIssue({
      code: "custom",
      message:
        "expected 0 (one process), a number of worker processes up to 256, or auto (one per core)",
    });
    return z.NEVER;
  }),
  // Off by default, as in HAProxy (no `log` line) and Envoy: a line per
  // request costs about a fifth of the proxy's CPU per request (README).
  ACCESS_LOG: z.enum(["on", "off"], { error: "expected on or off" }).default("off"),
  ACCEPT_PROXY: z.enum(["on", "off"], { error: "expected on or off" }).default("off"),
  // Off, as in HAProxy: HTTP lets a client shut its side and wait for the answer.
  ABORT_ON_CLOSE: z.enum(["on", "off"], { error: "expected on or off" }).default("off"),
  // None, as in HAProxy: a server marked down may still be finishing its work.
  ON_MARKED_DOWN: z
    .enum(["none", "shutdown-sessions"], { error: "expected none or shutdown-sessions" })
    .default("none"),
  COOKIE: text
    .optional()
    .refine((v) => v === undefined || v === "" || COOKIE_NAME.test(v), {
      message:
        "expected a cookie name (letters, digits and !#$%&'*+-.^_`|~, at most 64) or empty (off)",
    })
    .transform((v) => (v === "" ? undefined : v)),
  LOG_LEVEL: z
    .enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(", ")}` })
    .default("info"),
  ADMIN_HOST: text.optional().transform((v) => (v === undefined || v === "" ? "127.0.0.1" : v)),
  ADMIN_PORT: port(8404),
  ADMIN_TOKEN: text.optional().transform((v) => (v === "" ? undefined : v)),
  TLS_PORT: text.optional().transform((v, ctx) => {
    if (v === undefined || v === "") return undefined;
    if (/^\s*\d{1,5}\s*$/.test(v) && Number(v) <= 65535) return Number(v);
    ctx.addIssue({
      code: "custom",
      message: "expected a port number from 0 to 65535, or empty (no TLS)",
    });
    return z.NEVER;
  }),
  TLS_CERT: path,
  TLS_KEY: path,
  TLS_CERTS: path,
  TLS_CLIENT_CA: path,
  TLS_CLIENT_CRL: path,
  TLS_CLIENT_VERIFY: z
    .enum(["required", "optional", ""], { error: "expected required or optional" })
    .optional()
    .transform((v) => (v === "" ? undefined : v)),
  TLS_MIN_VERSION: z
    .enum(["1.2", "1.3", "TLSv1.2", "TLSv1.3"], { error: "expected 1.2 or 1.3" })
    .default("1.2")
    .transform((v) => (v.startsWith("TLS") ? v : `TLSv${v}`) as "TLSv1.2" | "TLSv1.3"),
  TLS_CIPHERS: text
    .optional()
    .transform((v) => (v === undefined || v.trim() === "" ? INTERMEDIATE_CIPHERS : v.trim()))
    .refine(knownCiphers, {
      message:
        "expected an OpenSSL cipher list that names at least one cipher OpenSSL knows, e.g. ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256",
    }),
  HSTS: text
    .optional()
    .refine((v) => v === undefined || v === "" || HSTS_VALUE.test(v), {
      message:
        "expected a Strict-Transport-Security value such as max-age=63072000 or max-age=31536000; includeSubDomains; preload",
    })
    .transform((v) => (v === "" ? undefined : v)),
  HTTPS_REDIRECT: z.enum(["on", "off"], { error: "expected on or off" }).default("off"),
  H2_MAX_STREAMS: integer(100, 1, 10_000),
  HTTP_ENGINE: z
    .enum(ENGINES as [EngineName, ...EngineName[]], { error: `expected ${ENGINES.join(" or ")}` })
    .default("fast"),
});

/**
 * A request id's header: an X- name, or one of the two names without it
 * that such ids go by. Any other field may mean something to HTTP, a server
 * or a browser (Location, Date, Sec-WebSocket-Key, ...) and be broken by an id.
 */
const REQUEST_ID_NAME = /^(x-[a-z0-9][a-z0-9-]{0,62}|request-id|correlation-id)$/;
/** What the proxy sets itself: never a request id's. */
const SET_BY_PROXY = new Set([...FORWARDED_BY_PROXY, "x-backend"]);

/** RFC 6797 6.1: max-age, and the includeSubDomains and preload directives. */
const HSTS_VALUE = /^max-age=\d{1,10}(\s*;\s*(includeSubDomains|preload))*\s*;?$/i;

function knownCiphers(ciphers: string): boolean {
  try {
    createSecureContext({ ciphers });
    return true;
  } catch {
    return false;
  }
}

/** Every setting the proxy reads. */
export const SETTINGS = Object.keys(schema.shape);

/** Prefixes of settings no other program's variables are likely to share. */
const OWN_PREFIXES = ["HEALTH_", "TIMEOUT_", "CLIENT_", "DNS_", "ADMIN_", "HASH_", "TLS_"];

/**
 * Warnings about the environment: a variable that looks like a setting but
 * is none is ignored (HEALTH_INTERVAL for HEALTH_INTER), and BACKENDS unset
 * or empty means the development servers on 127.0.0.1:5001-5003.
 */
function noticesOf(env: NodeJS.ProcessEnv, backendsGiven: boolean): string[] {
  const notices = Object.keys(env)
    .filter((key) => OWN_PREFIXES.some((p) => key.startsWith(p)) && !SETTINGS.includes(key))
    .sort()
    .map((key) => `${key} is not a setting and is ignored (docs/configuration.md lists them)`);
  if (!backendsGiven)
    notices.push(`BACKENDS is not set: using the development servers ${DEFAULT_BACKENDS}`);
  return notices;
}

/** `ip` or `ip:port` (`[v6]:port`), as node:dns's setServers takes them. */
function nameServer(server: string): boolean {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(server);
  const [address, port] = bracketed
    ? [bracketed[1]!, bracketed[2]]
    : server.split(":").length === 2
      ? server.split(":")
      : [server, undefined];
  return (
    parseAddress(address!) !== undefined &&
    (port === undefined || (Number(port) >= 1 && Number(port) <= 65535))
  );
}

function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  const bytes = parseAddress(host);
  if (!bytes) return false;
  return bytes.length === 4 ? bytes[0] === 127 : bytes.every((b, i) => b === (i === 15 ? 1 : 0));
}

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? "undefined");
}

/** Reads the JSON file given with --config: an object of the same settings as the environment. */
function readConfigFile(path: string): Record<string, unknown> {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError([
      `--config ${path}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? error})`,
    ]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new ConfigError([`--config ${path}: not valid JSON (${(error as Error).message})`]);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError([
      `--config ${path}: expected a JSON object of settings such as {"PORT": 8080}`,
    ]);
  }
  const unknown = Object.keys(parsed).filter((k) => !SETTINGS.includes(k));
  if (unknown.length > 0) {
    throw new ConfigError([
      `--config ${path}: unknown setting ${unknown.join(", ")} (known: ${SETTINGS.join(", ")})`,
    ]);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Builds the configuration from the environment over the file's settings.
 * Throws a ConfigError listing every bad setting with its value and the
 * expected form.
 */
export function loadConfig(env: NodeJS.ProcessEnv, configFile?: string): ProxyConfig {
  const input: Record<string, unknown> = configFile ? readConfigFile(configFile) : {};
  for (const key of SETTINGS) if (env[key] !== undefined) input[key] = env[key];

  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const key = String(issue.path[0]);
        return `${key}=${show(input[key])}: ${issue.message}`;
      }),
    );
  }
  const s = parsed.data;
  const problems: string[] = [];
  const backendList = s.BACKENDS.servers.map((b) => ({
    ...b,
    weight: s.WEIGHTS.get(b.id) ?? b.weight,
  }));
  for (const id of s.WEIGHTS.keys()) {
    if (!backendList.some((b) => b.id === id))
      problems.push(`WEIGHTS: "${id}" is not a backend in BACKENDS`);
  }
  // HAProxy's default `hash-key id` places servers by their numeric ids, given
  // in the order they are declared; servers a DNS group finds have no such
  // order (each replica numbers them as it learns them), so replicas would
  // disagree. HAProxy points to `hash-key addr-port` there; here the ring
  // placements key servers by their ids, which name address and port.
  if (s.HASH_TYPE === "haproxy" && s.BACKENDS.groups.length > 0)
    problems.push(
      `HASH_TYPE=haproxy: places servers by the order they are declared (HAProxy's hash-key id), which servers found by DNS (${s.BACKENDS.groups.map((g) => g.name).join(", ")}) do not have; replicas would disagree. Use HASH_TYPE=consistent (the default), maglev, map-based or nginx with DNS groups`,
    );
  if (s.SLOWSTART > 0 && s.HASH_TYPE === "map-based")
    problems.push(
      `SLOWSTART=${show(input.SLOWSTART)}: HASH_TYPE=map-based cannot raise a weight in steps (each step would move nearly every client); use HASH_TYPE=consistent (the default), maglev, haproxy or nginx, or SLOWSTART=0`,
    );
  if (s.ADMIN_PORT !== 0 && s.ADMIN_PORT === s.PORT)
    problems.push(`ADMIN_PORT=${s.ADMIN_PORT}: the proxy's PORT listens there`);
  if (!isLoopback(s.ADMIN_HOST) && s.ADMIN_TOKEN === undefined) {
    problems.push(
      `ADMIN_TOKEN: required when ADMIN_HOST=${show(s.ADMIN_HOST)} is not a loopback address`,
    );
  }
  if (s.ADMIN_TOKEN !== undefined && s.ADMIN_TOKEN.length < 16) {
    problems.push("ADMIN_TOKEN: expected at least 16 characters");
  }
  // As HAProxy's `timeout check`: at most the interval, 1s unless set.
  const checkTimeout =
    s.HEALTH_TIMEOUT === undefined
      ? Math.min(1000, s.HEALTH_INTER)
      : parseDuration(s.HEALTH_TIMEOUT);
  if (checkTimeout === undefined || checkTimeout < 10 || checkTimeout > s.HEALTH_INTER) {
    problems.push(
      `HEALTH_TIMEOUT=${show(input.HEALTH_TIMEOUT)}: expected a duration from 10ms up to HEALTH_INTER (${s.HEALTH_INTER}ms)`,
    );
  }
  const tunnelMs =
    s.TIMEOUT_TUNNEL === undefined || s.TIMEOUT_TUNNEL === ""
      ? s.TIMEOUT_CLIENT
      : parseDuration(s.TIMEOUT_TUNNEL);
  if (tunnelMs === undefined || tunnelMs < 1 || tunnelMs > 86_400_000)
    problems.push(
      `TIMEOUT_TUNNEL=${show(input.TIMEOUT_TUNNEL)}: expected a duration such as 30s or 1h (at most 1d)`,
    );
  // As HAProxy's `timeout queue`: unless set, the connect timeout.
  const queueMs =
    s.TIMEOUT_QUEUE === undefined || s.TIMEOUT_QUEUE === ""
      ? s.TIMEOUT_CONNECT
      : parseDuration(s.TIMEOUT_QUEUE);
  if (queueMs === undefined || queueMs < 1 || queueMs > 86_400_000)
    problems.push(
      `TIMEOUT_QUEUE=${show(input.TIMEOUT_QUEUE)}: expected a duration such as 500ms or 5s (at most 1d)`,
    );
  const names = new Set([...backendList.map((b) => b.id), ...s.BACKENDS.groups.map((g) => g.name)]);
  for (const name of s.MAXCONN.byName.keys())
    if (!names.has(name))
      problems.push(`MAXCONN: "${name}" is not a backend or DNS group in BACKENDS`);
  const clientMaxconn = clientLimit(s.CLIENT_MAXCONN, Math.max(1, s.WORKERS), problems);
  const tls = tlsSettings(s, problems);
  if (s.HTTP_ENGINE === "express" && s.TLS_PORT !== undefined)
    problems.push(
      `HTTP_ENGINE=express: the TLS port (TLS_PORT=${s.TLS_PORT}) runs on the fast engine only; unset TLS_PORT or use HTTP_ENGINE=fast`,
    );
  if (
    s.REQUEST_ID_HEADER !== undefined &&
    s.BALANCE.kind === "hdr" &&
    s.BALANCE.header === s.REQUEST_ID_HEADER
  )
    problems.push(
      `BALANCE=hdr(${s.BALANCE.header}): REQUEST_ID_HEADER replaces that header with a new id per request, so nothing would stick; hash another header, or choose another REQUEST_ID_HEADER`,
    );
  let clientRate: ClientRate | undefined;
  if (s.CLIENT_RATE !== undefined)
    // A second's worth at once unless told: 100/s lets 100 through together, 60/m one.
    clientRate = {
      perSecond: s.CLIENT_RATE,
      burst: s.CLIENT_RATE_BURST || Math.max(1, Math.ceil(s.CLIENT_RATE)),
    };
  else if (s.CLIENT_RATE_BURST !== 0)
    problems.push(
      "CLIENT_RATE: required when CLIENT_RATE_BURST is set (the rate the burst refills at)",
    );
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    workers: s.WORKERS,
    port: s.PORT,
    host: s.HOST === "" ? undefined : s.HOST,
    backends: backendList,
    discovery: s.BACKENDS.groups,
    dns: { refreshMs: s.DNS_REFRESH, holdMs: s.DNS_HOLD, servers: s.DNS_SERVERS },
    monitorUri: s.MONITOR_URI,
    graceMs: s.GRACE,
    balance: s.BALANCE,
    hashType: s.HASH_TYPE,
    balanceFactor: s.HASH_BALANCE_FACTOR === 0 ? undefined : s.HASH_BALANCE_FACTOR / 100,
    health: {
      path: s.HEALTH_PATH,
      interMs: s.HEALTH_INTER,
      timeoutMs: checkTimeout!,
      rise: s.HEALTH_RISE,
      fall: s.HEALTH_FALL,
    },
    slowStartMs: s.SLOWSTART,
    timeouts: {
      connectMs: s.TIMEOUT_CONNECT,
      serverMs: s.TIMEOUT_SERVER,
      clientMs: s.TIMEOUT_CLIENT,
      // As HAProxy's `timeout tunnel`: unless set, the client timeout applies to open tunnels.
      tunnelMs: tunnelMs!,
      queueMs: queueMs!,
    },
    maxconn: s.MAXCONN,
    maxIdlePerServer: s.MAX_IDLE_PER_SERVER,
    clientMaxconn,
    clientAddressMaxconn: s.CLIENT_ADDRESS_MAXCONN,
    clientMinBodyRate: s.CLIENT_MIN_BODY_RATE,
    clientRate,
    requestIdHeader: s.REQUEST_ID_HEADER,
    trustedProxies: s.TRUSTED_PROXIES,
    logLevel: s.LOG_LEVEL,
    accessLog: s.ACCESS_LOG === "on",
    acceptProxy: s.ACCEPT_PROXY === "on",
    abortOnClose: s.ABORT_ON_CLOSE === "on",
    onMarkedDown: s.ON_MARKED_DOWN,
    cookie: s.COOKIE,
    admin: { host: s.ADMIN_HOST, port: s.ADMIN_PORT, token: s.ADMIN_TOKEN },
    tls,
    httpsRedirect: s.HTTPS_REDIRECT === "on",
    engine: s.HTTP_ENGINE,
    notices: noticesOf(env, input.BACKENDS !== undefined && input.BACKENDS !== ""),
  };
}

/**
 * CLIENT_MAXCONN, or as HAProxy derives its global maxconn from `ulimit -n`:
 * each client connection may hold a connection to a server too, and past the
 * limit a connection waits with its descriptor open (client-limit.ts), so a
 * process keeps a third of its descriptors per client it serves at once.
 */
function clientLimit(value: string | undefined, processes: number, problems: string[]): number {
  const files = openFileLimit();
  const perProcess = Math.max(64, Math.floor((files - RESERVED_FDS) / 3));
  if (value === undefined || value === "") return perProcess * processes;
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || n < 1) {
    problems.push(
      `CLIENT_MAXCONN=${show(value)}: expected a number of client connections from 1 up (default here: ${perProcess * processes}, from the open-files limit)`,
    );
    return 0;
  }
  // Set by hand, it must at least leave each client its server connection:
  // past the open-files limit the proxy cannot reach its servers (HAProxy
  // refuses to start when its maxconn cannot fit the limit, too).
  const fits = Math.max(1, Math.floor((files - RESERVED_FDS) / 2)) * processes;
  if (n <= fits) return n;
  problems.push(
    `CLIENT_MAXCONN=${show(value)}: more client connections than the open-files limit allows (${files} per process, ulimit -n: each client connection may hold a server connection, and ${RESERVED_FDS} are kept for the rest; at most ${fits} here); raise the limit (ulimit -n, LimitNOFILE=, docker --ulimit nofile=) or lower CLIENT_MAXCONN`,
  );
  return 0;
}

/**
 * Descriptors kept for all but client and server connections: the proxy
 * port's 128 listening sockets (listeners.ts), the admin API's connections
 * (at most ADMIN_MAXCONN), health checks, DNS, the TLS port, logs.
 */
const RESERVED_FDS = 512;

/** The soft open-files limit (Node raises it to the hard limit at start); 1024 where unknown. */
function openFileLimit(): number {
  try {
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(
      readFileSync("/proc/self/limits", "utf8"),
    );
    if (match) return match[1] === "unlimited" ? 1_048_576 : Number(match[1]);
  } catch {
    // not Linux
  }
  return 1024;
}

/** The TLS port's settings, its certificates read and checked; problems go to `problems`. */
function tlsSettings(s: z.infer<typeof schema>, problems: string[]): TlsSettings | undefined {
  const files = {
    cert: s.TLS_CERT,
    key: s.TLS_KEY,
    dir: s.TLS_CERTS,
    clientCa: s.TLS_CLIENT_CA,
    clientCrl: s.TLS_CLIENT_CRL,
  };
  if (s.TLS_PORT === undefined) {
    const problem = requiredWhen("TLS_PORT", [
      ["TLS_CERT", s.TLS_CERT],
      ["TLS_KEY", s.TLS_KEY],
      ["TLS_CERTS", s.TLS_CERTS],
      ["TLS_CLIENT_CA", s.TLS_CLIENT_CA],
      ["TLS_CLIENT_CRL", s.TLS_CLIENT_CRL],
      ["TLS_CLIENT_VERIFY", s.TLS_CLIENT_VERIFY],
      ["HSTS", s.HSTS],
      ["HTTPS_REDIRECT", s.HTTPS_REDIRECT === "on" ? "on" : undefined],
    ]);
    if (problem !== undefined) problems.push(problem);
    return undefined;
  }
  if (s.TLS_PORT !== 0 && s.TLS_PORT === s.PORT)
    problems.push(`TLS_PORT=${s.TLS_PORT}: the plain PORT already listens there`);
  if (s.TLS_PORT !== 0 && s.TLS_PORT === s.ADMIN_PORT)
    problems.push(`TLS_PORT=${s.TLS_PORT}: the admin listener (ADMIN_PORT) listens there`);
  if (files.cert === undefined && files.dir === undefined) {
    problems.push(
      "TLS_CERT or TLS_CERTS: required when TLS_PORT is set (a PEM file with certificate and key, or a folder of them)",
    );
    return undefined;
  }
  if (files.key !== undefined && files.cert === undefined) {
    problems.push("TLS_KEY: given without TLS_CERT, the certificate it belongs to");
    return undefined;
  }
  if (files.clientCa === undefined) {
    const problem = requiredWhen(
      "TLS_CLIENT_CA",
      [
        ["TLS_CLIENT_VERIFY", s.TLS_CLIENT_VERIFY],
        ["TLS_CLIENT_CRL", s.TLS_CLIENT_CRL],
      ],
      " (the authorities client certificates are checked against)",
    );
    if (problem !== undefined) {
      problems.push(problem);
      return undefined;
    }
  }
  const policy = { minVersion: s.TLS_MIN_VERSION, ciphers: s.TLS_CIPHERS };
  const loaded = loadCertificates(files, policy);
  if ("problem" in loaded) {
    const { setting, file, reason } = loaded.problem;
    problems.push(`${setting}=${show(file)}: ${reason}`);
    return undefined;
  }
  return {
    port: s.TLS_PORT,
    sources: files,
    policy,
    certificates: loaded.set,
    maxStreams: s.H2_MAX_STREAMS,
    hsts: s.HSTS,
    // A CA given means certificates are checked: required unless said otherwise (HAProxy's `verify required`).
    clientVerify: files.clientCa === undefined ? undefined : (s.TLS_CLIENT_VERIFY ?? "required"),
  };
}

/** "<setting>: required when A, B are set<why>", when any of `given` has a value. */
function requiredWhen(setting: string, given: [string, unknown][], why = ""): string | undefined {
  const names = given.filter(([, value]) => value !== undefined).map(([name]) => name);
  if (names.length === 0) return undefined;
  return `${setting}: required when ${names.join(", ")} ${names.length > 1 ? "are" : "is"} set${why}`;
}

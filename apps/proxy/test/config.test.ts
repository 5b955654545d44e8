import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { listen } from "@stickyring/runtime";
import { ConfigError, loadConfig, SETTINGS } from "../src/config.js";
import { configProblems } from "./harness.js";

const main = fileURLToPath(new URL("../dist/main.js", import.meta.url));

const problemsOf = configProblems;

describe("configuration", () => {
  it("has HAProxy-like defaults", () => {
    const config = loadConfig({});
    expect(config.port).toBe(8080);
    expect(config.backends.map((b) => `${b.id}=${b.url.origin}`)).toEqual([
      "app1=http://127.0.0.1:5001",
      "app2=http://127.0.0.1:5002",
      "app3=http://127.0.0.1:5003",
    ]);
    expect(config.balance).toEqual({ kind: "source" });
    expect(config.hashType).toBe("consistent");
    expect(config.health).toEqual({
      path: "/healthz",
      interMs: 2000,
      timeoutMs: 1000,
      rise: 2,
      fall: 3,
    });
    expect(config.admin).toEqual({ host: "127.0.0.1", port: 8404, token: undefined });
    expect(config.logLevel).toBe("info");
  });

  it("reads DNS groups beside static servers in BACKENDS, and the DNS settings", () => {
    const config = loadConfig({
      BACKENDS:
        "app1=http://127.0.0.1:5001,dns://web:5000,api=dns+srv://_http._tcp.api.default.svc.cluster.local,dns+srv://_grpc._tcp.cache",
      DNS_REFRESH: "2s",
      DNS_HOLD: "1m",
      DNS_SERVERS: "127.0.0.1:5353,[::1]:53,10.96.0.10",
      MONITOR_URI: "/stickyring/healthz",
      GRACE: "3s",
    });
    expect(config.backends.map((b) => b.id)).toEqual(["app1"]);
    expect(config.discovery).toEqual([
      { name: "web", kind: "a", host: "web", port: 5000, url: "dns://web:5000" },
      {
        name: "api",
        kind: "srv",
        host: "_http._tcp.api.default.svc.cluster.local",
        port: 80,
        url: "dns+srv://_http._tcp.api.default.svc.cluster.local",
      },
      {
        name: "cache",
        kind: "srv",
        host: "_grpc._tcp.cache",
        port: 80,
        url: "dns+srv://_grpc._tcp.cache",
      },
    ]);
    expect(config.dns).toEqual({
      refreshMs: 2000,
      holdMs: 60_000,
      servers: ["127.0.0.1:5353", "[::1]:53", "10.96.0.10"],
    });
    expect(config.monitorUri).toBe("/stickyring/healthz");
    expect(config.graceMs).toBe(3000);
    // A final dot is kept (asked only as written); an IPv6 address as DNS answers write it.
    const exact = loadConfig({
      BACKENDS: "dns://web.example.com.:80,v6=dns://[0:0:0:0:0:0:0:1]:81",
    });
    expect(exact.discovery.map((g) => [g.name, g.host])).toEqual([
      ["web", "web.example.com."],
      ["v6", "::1"],
    ]);
    // An address names its own group; an IPv6 one is written in brackets and named.
    const addresses = loadConfig({
      BACKENDS: "dns://10.0.0.1:5000,dns://10.0.0.2:5000,v6=dns://[fd00::1]:5000",
    });
    expect(addresses.discovery.map((g) => [g.name, g.host])).toEqual([
      ["10.0.0.1", "10.0.0.1"],
      ["10.0.0.2", "10.0.0.2"],
      ["v6", "fd00::1"],
    ]);
    const defaults = loadConfig({ BACKENDS: "dns://web" });
    expect(defaults.discovery[0]!.port).toBe(80);
    expect(defaults.dns).toEqual({ refreshMs: 5000, holdMs: 30_000, servers: undefined });
    expect(defaults.monitorUri).toBeUndefined();
  });

  it("reads HAProxy's balance syntax, weights, durations and the balance factor", () => {
    const config = loadConfig({
      BALANCE: "uri whole len 20 depth 3 path-only",
      WEIGHTS: "app1=3,app3=0",
      HEALTH_INTER: "500ms",
      TIMEOUT_SERVER: "1m",
      HASH_BALANCE_FACTOR: "125",
    });
    expect(config.balance).toEqual({ kind: "uri", whole: true, len: 20, depth: 3, pathOnly: true });
    expect(config.backends.map((b) => b.weight)).toEqual([3, 1, 0]);
    expect(config.health.interMs).toBe(500);
    expect(config.health.timeoutMs).toBe(500);
    expect(config.timeouts.serverMs).toBe(60_000);
    expect(config.balanceFactor).toBe(1.25);
    expect(loadConfig({ BALANCE: "hdr(X-Session)" }).balance).toEqual({
      kind: "hdr",
      header: "x-session",
    });
  });

  it.each([
    [{ PORT: "80a" }, 'PORT="80a": expected a port number from 0 to 65535'],
    [{ PORT: "70000" }, 'PORT="70000"'],
    [
      { BACKENDS: "app1" },
      'BACKENDS="app1": expected comma-separated entries: id=http://host:port',
    ],
    [{ BACKENDS: "dns://web:5000/x" }, "expected dns://host:port with no path or query"],
    [{ BACKENDS: "dns+srv://_http._tcp.web:80" }, "an SRV record gives the port"],
    [{ BACKENDS: "dns://we b:5000" }, '"we b" is not a DNS name'],
    [{ BACKENDS: "dns://web:99999" }, "port 99999 is not from 1 to 65535"],
    [{ BACKENDS: "web=dns://a:1,web=dns://b:1" }, 'backend "web" is listed twice'],
    [{ BACKENDS: "dns://_x._y:1" }, "write name=dns://_x._y:1"],
    [{ BACKENDS: "dns://[fd00::1]:1" }, "write name=dns://[fd00::1]:1"],
    [{ BACKENDS: "dns://[web]:1" }, "expected dns://host:port"],
    [{ BACKENDS: "dns+srv://web" }, "an SRV name reads _service._proto.name"],
    [
      { BACKENDS: "dns://web:5000", HASH_TYPE: "haproxy" },
      "HASH_TYPE=haproxy: places servers by the order they are declared",
    ],
    [{ DNS_SERVERS: "8.8.8.8:dns" }, '"8.8.8.8:dns" is not a name server address'],
    [{ DNS_REFRESH: "10ms" }, 'DNS_REFRESH="10ms": expected a duration'],
    [{ MONITOR_URI: "healthz" }, "expected a path starting with /"],
    [{ BACKENDS: "a=http://h:1,a=http://h:2" }, 'backend "a" is listed twice'],
    [{ BACKENDS: "a=https://h:1" }, "only http:// backends are supported"],
    [{ BACKENDS: "a=http://h:1/x" }, "expected http://host:port with no path"],
    [{ BALANCE: "roundrobin" }, 'BALANCE="roundrobin": expected source, uri'],
    [{ BALANCE: "uri len x" }, 'BALANCE="uri len x"'],
    [{ HASH_TYPE: "random" }, 'HASH_TYPE="random": expected one of consistent, maglev, map-based'],
    [{ HASH_BALANCE_FACTOR: "50" }, "percentage of at least 100"],
    [{ HEALTH_INTER: "soon" }, 'HEALTH_INTER="soon": expected a duration'],
    [{ HEALTH_RISE: "0" }, 'HEALTH_RISE="0": expected an integer from 1 to 100'],
    [{ TRUSTED_PROXIES: "10.0.0.0/33" }, '"10.0.0.0/33" is not an address or CIDR block'],
    [{ LOG_LEVEL: "loud" }, 'LOG_LEVEL="loud": expected one of fatal'],
    [{ WEIGHTS: "app9=2" }, 'WEIGHTS: "app9" is not a backend'],
    [{ WEIGHTS: "app1=300" }, "weights 0..256"],
    [{ ADMIN_HOST: "0.0.0.0" }, "ADMIN_TOKEN: required when ADMIN_HOST"],
    [{ PORT: "9000", ADMIN_PORT: "9000" }, "ADMIN_PORT=9000: the proxy's PORT listens there"],
    [
      { HEALTH_INTER: "1s", HEALTH_TIMEOUT: "2s" },
      "expected a duration from 10ms up to HEALTH_INTER (1000ms)",
    ],
  ])("refuses %j naming the setting", (env, message) => {
    expect(problemsOf(env).join("\n")).toContain(message);
  });

  it("reads HTTP_ENGINE: fast by default, or express; anything else is refused by name", () => {
    expect(loadConfig({}).engine).toBe("fast");
    expect(loadConfig({ HTTP_ENGINE: "express" }).engine).toBe("express");
    expect(problemsOf({ HTTP_ENGINE: "node" })).toEqual([
      'HTTP_ENGINE="node": expected fast or express',
    ]);
    const run = spawnSync(process.execPath, [main], {
      env: { ...process.env, HTTP_ENGINE: "Express" },
      encoding: "utf8",
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('HTTP_ENGINE="Express": expected fast or express');
  });

  it("lists every bad setting at once", () => {
    expect(problemsOf({ PORT: "x", HASH_TYPE: "y" })).toHaveLength(2);
  });

  it("either accepts or refuses random values for every setting, never throwing anything else", () => {
    // Every setting, so one added later is fuzzed too.
    const settings = SETTINGS;
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom(...settings),
          fc.oneof(fc.string(), fc.integer().map(String)),
        ),
        (env) => {
          try {
            loadConfig(env);
          } catch (error) {
            expect(error).toBeInstanceOf(ConfigError);
            expect((error as ConfigError).problems.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("exits 2 with a message naming the setting, value and expected form", () => {
    const run = spawnSync(process.execPath, [main], {
      env: { ...process.env, PORT: "eighty" },
      encoding: "utf8",
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('PORT="eighty": expected a port number from 0 to 65535');
    expect(run.stderr).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
  });

  it("exits 1 naming PORT when another program holds the port, alone and with WORKERS=2", async () => {
    // Not SO_REUSEPORT: stickyring's own sockets would join it (a takeover).
    const holder = createServer();
    const port = await listen(holder, 0, "127.0.0.1");
    try {
      for (const workers of ["0", "2"]) {
        const run = spawnSync(process.execPath, [main], {
          env: {
            ...process.env,
            PORT: String(port),
            HOST: "127.0.0.1",
            ADMIN_PORT: "0",
            WORKERS: workers,
            BACKENDS: "app1=http://127.0.0.1:1",
          },
          encoding: "utf8",
          timeout: 20_000,
        });
        expect(run.status).toBe(1);
        expect(run.stdout).toContain(`cannot start: PORT=${port}: another program listens on it`);
      }
    } finally {
      holder.close();
    }
  });

  it("warns of a variable that looks like a setting but is none, and of BACKENDS unset", () => {
    const given = { BACKENDS: "app1=http://127.0.0.1:5001" };
    expect(loadConfig(given).notices).toEqual([]);
    expect(loadConfig({ ...given, HEALTH_INTERVAL: "5s", HTTP_PROXY: "x" }).notices).toEqual([
      "HEALTH_INTERVAL is not a setting and is ignored (docs/configuration.md lists them)",
    ]);
    for (const env of [{}, { BACKENDS: "" }])
      expect(loadConfig(env).notices).toEqual([
        expect.stringMatching(/^BACKENDS is not set: using the development servers app1=/),
      ]);
  });

  it("names HOST when it is not an address of this machine nor a name that resolves", () => {
    const run = spawnSync(process.execPath, [main], {
      env: { ...process.env, PORT: "0", ADMIN_PORT: "0", HOST: "no-such-host.invalid" },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain("cannot start: HOST=no-such-host.invalid: not an address");
  });

  it("refuses a weight on a DNS group in a --config file's BACKENDS array", () => {
    const file = join(mkdtempSync(join(tmpdir(), "stickyring-config-")), "config.json");
    writeFileSync(
      file,
      JSON.stringify({ BACKENDS: [{ id: "web", url: "dns://web:5000", weight: 5 }] }),
    );
    expect(() => loadConfig({}, file)).toThrow(/a DNS group takes its weights from DNS/);
    writeFileSync(file, JSON.stringify({ BACKENDS: [{ id: "web", url: "dns://web:5000" }] }));
    expect(loadConfig({}, file).discovery.map((g) => g.name)).toEqual(["web"]);
  });

  it("names what a --config file's setting holds when it is neither text, a number nor true/false", () => {
    const file = join(mkdtempSync(join(tmpdir(), "stickyring-config-")), "config.json");
    writeFileSync(file, JSON.stringify({ SLOWSTART: null, HEALTH_INTER: [1], PORT: { n: 1 } }));
    expect(() => loadConfig({}, file)).toThrow(
      /SLOWSTART=null: expected text, a number or true\/false, got null/,
    );
    expect(() => loadConfig({}, file)).toThrow(/HEALTH_INTER=\[1\]: .* got a list/);
    expect(() => loadConfig({}, file)).toThrow(/PORT=.* got object/);
  });

  it("exits 2 for a bad --config file", () => {
    const missing = spawnSync(process.execPath, [main, "--config", "/nonexistent.json"], {
      encoding: "utf8",
    });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("--config /nonexistent.json: cannot read the file");
    const unknown = spawnSync(process.execPath, [main, "--bogus"], { encoding: "utf8" });
    expect(unknown.status).toBe(2);
  });
});

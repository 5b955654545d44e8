import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createBackend } from "../src/app.js";
import { hostname } from "node:os";
import { readBackendConfig } from "../src/config.js";

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer(createBackend({ id: "app2", greeting: "Hello from App 2" }));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe("backend", () => {
  it("greets on / and on any other path, as text/plain", async () => {
    for (const path of ["/", "/cart/42", "/a/b?c=d"]) {
      const res = await fetch(base + path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
      expect(await res.text()).toBe("Hello from App 2");
    }
  });

  it("answers /healthz with JSON", async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", app: "app2" });
  });

  it("reports the forwarding headers it received", async () => {
    const res = await fetch(`${base}/whoami`, { headers: { "x-forwarded-for": "203.0.113.9" } });
    expect(await res.json()).toMatchObject({ app: "app2", forwardedFor: "203.0.113.9" });
  });

  it("counts an uploaded body without keeping it", async () => {
    const body = new Uint8Array(3 * 1024 * 1024);
    const res = await fetch(`${base}/upload`, { method: "POST", body });
    expect(await res.json()).toEqual({ app: "app2", bytes: body.length });
  });
});

describe("download", () => {
  it("streams the size asked for and refuses others", async () => {
    const res = await fetch(`${base}/download?mb=3`);
    expect((await res.arrayBuffer()).byteLength).toBe(3 << 20);
    expect((await fetch(`${base}/download?mb=0`)).status).toBe(400);
    expect((await fetch(`${base}/download?mb=x`)).status).toBe(400);
  });
});

describe("backend configuration", () => {
  it("defaults the port per app and reads PORT", () => {
    expect(readBackendConfig({}, 5003).port).toBe(5003);
    expect(readBackendConfig({ PORT: "6001" }, 5001).port).toBe(6001);
  });

  it("answers with BACKEND_NAME, or the host's own name for @hostname", () => {
    expect(readBackendConfig({}, 5001).name).toBeUndefined();
    expect(readBackendConfig({ BACKEND_NAME: "web-7" }, 5001).name).toBe("web-7");
    expect(readBackendConfig({ BACKEND_NAME: "@hostname" }, 5001).name).toBe(hostname());
    expect(() => readBackendConfig({ BACKEND_NAME: "a b" }, 5001)).toThrow(/BACKEND_NAME="a b"/);
  });

  it("names a bad setting", () => {
    expect(() => readBackendConfig({ PORT: "http" }, 5001)).toThrow(
      'PORT="http": PORT must be a port number',
    );
    expect(() => readBackendConfig({ LOG_LEVEL: "chatty" }, 5001)).toThrow(/LOG_LEVEL="chatty"/);
  });
});

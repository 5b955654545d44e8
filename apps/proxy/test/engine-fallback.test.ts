// When Node no longer has what the fast engine needs (its llhttp binding
// through `_http_common`, deprecated as DEP0199, or a net.Socket method), the
// proxy starts on the express engine and says why, instead of failing.

import type { ChildProcess } from "node:child_process";
import { Agent, request } from "node:http";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import { freePort } from "@stickyring/runtime";
import { loadConfig } from "../src/config.js";
import { fastEngineProblem } from "../src/data-plane/engine.js";
import { socketProblem } from "../src/http/downstream/connection.js";
import { llhttpProblem } from "../src/http/llhttp.js";
import { createStickyProxy } from "../src/proxy.js";
import {
  clientAddresses,
  get,
  spawnProxy,
  startBackend,
  waitFor,
  type Backend,
} from "./harness.js";

const NO_BINDING = fileURLToPath(new URL("./no-llhttp-binding.mjs", import.meta.url));

/** node:http's server says how long it keeps the connection; the fast engine does not. */
function servedByExpress(port: number, from: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const agent = new Agent({ keepAlive: true, localAddress: from });
    const req = request({ host: "127.0.0.1", port, path: "/", agent }, (res) => {
      res.resume();
      res.on("end", () => {
        agent.destroy();
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
        else resolve(res.headers["keep-alive"] !== undefined);
      });
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the fast engine's check", () => {
  it("finds what it needs in this Node", () => {
    expect(fastEngineProblem()).toBeUndefined();
  });

  it("names what is missing: the binding, one of its methods, a socket method", () => {
    expect(llhttpProblem(undefined)).toMatch(/_http_common\.HTTPParser.*missing/);
    expect(llhttpProblem({ methods: [] })).toMatch(/_http_common\.HTTPParser.*missing/);
    const common = process.getBuiltinModule("_http_common") as {
      HTTPParser: { prototype: object };
    };
    class WithoutConsume {
      static REQUEST = 1;
      static RESPONSE = 2;
      static kOnHeadersComplete = 1;
      static kOnExecute = 5;
    }
    expect(llhttpProblem({ HTTPParser: WithoutConsume, methods: ["GET"] })).toBeDefined();
    expect(llhttpProblem(common)).toBeUndefined();
    expect(socketProblem({})).toMatch(/_unrefTimer is missing/);
    expect(fastEngineProblem({})).toMatch(/HTTPParser/);
  });
});

describe("falling back to the express engine", () => {
  let backend: Backend;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    backend = await startBackend(1);
  });
  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    await backend.kill();
  });

  it("starts on the express engine with a warning when the check fails (in process)", async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: "info" },
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const config = loadConfig({
      PORT: "0",
      ADMIN_PORT: "0",
      HOST: "127.0.0.1",
      HTTP_ENGINE: "fast",
      BACKENDS: `app1=http://127.0.0.1:${backend.port}`,
      HEALTH_INTER: "500ms",
    });
    const proxy = createStickyProxy(config, logger, () => fastEngineProblem({}));
    const { port } = await proxy.start();
    try {
      const warning = lines.map((l) => JSON.parse(l)).find((l) => l.level === 40);
      expect(warning.msg).toMatch(
        /^HTTP_ENGINE=fast cannot run: Node's HTTP parser binding .* is missing .*; serving with the express engine/,
      );
      expect(await servedByExpress(port, clientAddresses(1)[0]!)).toBe(true);
    } finally {
      await proxy.stop(1000);
    }
  });

  it("starts on the express engine with a warning on a Node without the binding (the built proxy)", async () => {
    const port = await freePort();
    const env = {
      PORT: String(port),
      ADMIN_PORT: String(await freePort()),
      HOST: "127.0.0.1",
      BACKENDS: `app1=http://127.0.0.1:${backend.port}`,
      HEALTH_INTER: "500ms",
      HTTP_ENGINE: "fast",
      NODE_OPTIONS: `--import=${NO_BINDING}`,
    };
    const child = await spawnProxy(env, "pipe");
    children.push(child);
    let text = "";
    child.stdout!.on("data", (d: Buffer) => (text += d));
    await waitFor(() => text.includes("serving with the express engine"));
    const warning = text
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .find((l) => l.level === 40)!;
    expect(warning.msg).toContain("_http_common.HTTPParser) is missing");
    await waitFor(async () => (await get(port)).status === 200);
    expect(await servedByExpress(port, clientAddresses(1, 1)[0]!)).toBe(true);
    // The same proxy without the preload serves on the fast engine.
    const fastPort = await freePort();
    const fast = await spawnProxy({
      ...env,
      PORT: String(fastPort),
      ADMIN_PORT: String(await freePort()),
      NODE_OPTIONS: "",
    });
    children.push(fast);
    await waitFor(async () => (await get(fastPort)).status === 200);
    expect(await servedByExpress(fastPort, clientAddresses(1, 2)[0]!)).toBe(false);
  });
});

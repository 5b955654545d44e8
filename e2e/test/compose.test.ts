// infra/compose.yml brought up as a user would, then taken down.

import { freePort } from "@stickyring/runtime";
import { afterAll, describe, expect, it } from "@jest/globals";
import { compose } from "./docker.js";

const project = `stickyring-e2e-compose-${process.pid}`;
const env = () => ({ PROXY_PORT: String(port) });

let port: number;

afterAll(async () => {
  await compose(project, ["down", "--volumes", "--rmi", "all", "--timeout", "5"], env()).catch(
    () => undefined,
  );
});

describe("docker compose -f infra/compose.yml up", () => {
  it("serves Hello from App N through the proxy", async () => {
    port = await freePort();
    await compose(project, ["up", "-d"], env());
    const deadline = Date.now() + 120_000;
    let body = "";
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
        body = await res.text();
        if (res.status === 200) break;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(body).toMatch(/^Hello from App [123]$/);
    const services = await compose(project, ["ps"], env());
    for (const service of ["app1", "app2", "app3", "proxy"]) expect(services).toContain(service);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import WebSocket from "ws";
import {
  clientAddresses,
  get,
  startBackend,
  startProxy,
  type Backend,
  type RunningProxy,
} from "./harness.js";

let backends: Backend[];
let running: RunningProxy;
beforeAll(async () => {
  backends = await Promise.all([1, 2, 3].map(startBackend));
  running = await startProxy(backends);
});
afterAll(async () => {
  await running.stop();
  await Promise.all(backends.map((b) => b.kill()));
});

function firstMessage(port: number, from: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/live`, { localAddress: from });
    socket.once("message", (data) => {
      resolve(String(data));
      socket.close();
    });
    socket.once("error", reject);
  });
}

describe("WebSocket upgrades", () => {
  it("reach the same backend as the client's HTTP requests", async () => {
    for (const from of clientAddresses(30)) {
      const http = await get(running.port, { from });
      const greeting = await firstMessage(running.port, from);
      expect(greeting).toBe(http.body);
    }
  });
});

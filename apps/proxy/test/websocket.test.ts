import { describe, expect, it } from "@jest/globals";
import WebSocket from "ws";
import { clientAddresses, get, useTopology } from "./harness.js";

const topology = useTopology();

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
      const http = await get(topology.running.port, { from });
      const greeting = await firstMessage(topology.running.port, from);
      expect(greeting).toBe(http.body);
    }
  });
});

import { connect } from "node:net";
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

  it("carry bytes sent right behind the upgrade request, in the same write", async () => {
    // A masked text frame "early" (a zero mask leaves the payload as it is).
    const frame = Buffer.concat([Buffer.from([0x81, 0x85, 0, 0, 0, 0]), Buffer.from("early")]);
    const head =
      "GET /live HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    const received = await new Promise<string>((resolve, reject) => {
      const socket = connect(topology.running.port, "127.0.0.1", () =>
        socket.write(Buffer.concat([Buffer.from(head, "latin1"), frame])),
      );
      let text = "";
      socket.on("data", (d: Buffer) => {
        text += d.toString("latin1");
        if (/Hello from App \d: early/.test(text)) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on("error", reject);
      socket.on("close", () => reject(new Error(`closed after ${JSON.stringify(text)}`)));
      socket.setTimeout(3000, () => {
        socket.destroy();
        reject(new Error(`no echo of the early frame in ${JSON.stringify(text)}`));
      });
    });
    expect(received).toMatch(/^HTTP\/1\.1 101 /);
  });
});

import { connect } from "node:net";
import { describe, expect, it } from "@jest/globals";
import WebSocket from "ws";
import { clientAddresses, get, useTopology, waitFor } from "./harness.js";

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

  it("count as in flight on their server while open, in /api/servers as in /metrics", async () => {
    const admin = `http://127.0.0.1:${topology.running.adminPort}`;
    const counts = async () => {
      const view = (await (await fetch(`${admin}/api/servers`)).json()) as {
        servers: { id: string; inFlight: number }[];
      };
      const metrics = await (await fetch(`${admin}/metrics`)).text();
      const gauge = (id: string) =>
        Number(
          new RegExp(
            `stickyring_server_requests\\{backend="${id}",state="in_flight"\\} (\\d+)`,
          ).exec(metrics)?.[1] ?? 0,
        );
      return view.servers.map((s) => [s.id, s.inFlight, gauge(s.id)]);
    };
    const from = clientAddresses(1)[0]!;
    const server = `app${/App (\d)/.exec((await get(topology.running.port, { from })).body)![1]}`;
    const socket = new WebSocket(`ws://127.0.0.1:${topology.running.port}/live`, {
      localAddress: from,
    });
    await new Promise((resolve, reject) => socket.once("message", resolve).once("error", reject));
    const open = await counts();
    expect(open).toContainEqual([server, 1, 1]);
    for (const [id, api, gauge] of open) if (id !== server) expect([api, gauge]).toEqual([0, 0]);
    socket.close();
    await waitFor(async () => (await counts()).every(([, api, gauge]) => api === 0 && gauge === 0));
  });
});

// Which timeout applies when: a request waiting on its server is governed by
// the server timeout, not the client's, and an upgrade the server never
// answers ends in a 504 with both sockets freed.

import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "@jest/globals";
import { listen } from "@stickyring/runtime";
import { proxyToPort } from "./harness.js";
import { converse } from "./raw-client.js";

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/** A TCP server whose connections `onRequest` answers (or not) once a head has arrived. */
async function server(onRequest: (socket: Socket, head: string) => void) {
  const sockets = new Set<Socket>();
  const open = { count: 0 };
  const tcp: Server = createServer((socket) => {
    sockets.add(socket);
    open.count++;
    socket.on("close", () => {
      sockets.delete(socket);
      open.count--;
    });
    socket.on("error", () => undefined);
    let text = "";
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = text.slice(0, end);
      text = text.slice(end + 4);
      if (head.startsWith("GET /healthz "))
        socket.end("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
      else onRequest(socket, head);
    });
  });
  const port = await listen(tcp, 0, "127.0.0.1");
  cleanup.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((r) => tcp.close(r));
  });
  return { port, open };
}

const proxyTo = (port: number, env: Record<string, string> = {}) => proxyToPort(port, cleanup, env);

const ok = "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nlate";

describe("a request waiting on a slow server", () => {
  it("gets the server's answer even when it takes longer than the client timeout", async () => {
    const backend = await server((socket) => setTimeout(() => socket.write(ok), 2000));
    const running = await proxyTo(backend.port, { TIMEOUT_CLIENT: "1s", TIMEOUT_SERVER: "5s" });
    const talk = await converse(running.port, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
    const text = await talk.until(/late$/, 4000);
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    talk.socket.destroy();
  });

  it("gets a 504 at the server timeout, not a cut connection at the client timeout", async () => {
    const backend = await server(() => undefined);
    const running = await proxyTo(backend.port, { TIMEOUT_CLIENT: "1s", TIMEOUT_SERVER: "2s" });
    const started = performance.now();
    const talk = await converse(running.port, "GET /never HTTP/1.1\r\nHost: a\r\n\r\n");
    const text = await talk.until(/did not answer in time\n$/, 4000);
    expect(text).toMatch(/^HTTP\/1\.1 504 Gateway Timeout\r\n/);
    expect(performance.now() - started).toBeGreaterThan(1900);
    talk.socket.destroy();
  });

  it("an idle kept-alive client is closed at the client timeout, without a word", async () => {
    const backend = await server((socket) => socket.write(ok));
    const running = await proxyTo(backend.port, { TIMEOUT_CLIENT: "1s" });
    const talk = await converse(running.port, "GET /once HTTP/1.1\r\nHost: a\r\n\r\n");
    const answer = await talk.until(/late$/);
    const started = performance.now();
    await talk.closed;
    // At the timeout, not a head check's interval later (the express engine was 0.3 s late).
    expect(performance.now() - started).toBeGreaterThan(900);
    expect(performance.now() - started).toBeLessThan(1250);
    expect(talk.text()).toBe(answer);
  });
});

describe("a WebSocket upgrade the server never answers", () => {
  const upgrade =
    "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

  it("gets a 504 at the server timeout, and the server's socket is closed", async () => {
    const backend = await server(() => undefined);
    const running = await proxyTo(backend.port, { TIMEOUT_SERVER: "1s" });
    const talk = await converse(running.port, upgrade);
    await talk.closed;
    expect(talk.text()).toMatch(/^HTTP\/1\.1 504 Gateway Timeout\r\n/);
    await waitUntil(() => backend.open.count === 0);
  });

  it("frees both sockets when the client gives up first", async () => {
    const backend = await server(() => undefined);
    const running = await proxyTo(backend.port, { TIMEOUT_SERVER: "30s" });
    const talk = await converse(running.port, upgrade);
    await waitUntil(() => backend.open.count === 1);
    talk.socket.end();
    await talk.closed;
    await waitUntil(() => backend.open.count === 0);
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("a WebSocket tunnel", () => {
  it("closes once silent both ways for TIMEOUT_TUNNEL, and stays open while it carries frames", async () => {
    const { createServer: createHttpServer } = await import("node:http");
    const { WebSocketServer, default: WebSocket } = await import("ws");
    const http = createHttpServer((_req, res) => res.end("ok"));
    const wss = new WebSocketServer({ server: http });
    wss.on("connection", (ws) => ws.on("message", (m) => ws.send(m)));
    const port = await listen(http, 0, "127.0.0.1");
    cleanup.push(async () => {
      wss.close();
      http.closeAllConnections();
      await new Promise((r) => http.close(r));
    });
    const running = await proxyTo(port, { TIMEOUT_TUNNEL: "1s" });
    const open = (path: string) =>
      new Promise<InstanceType<typeof WebSocket>>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${running.port}${path}`);
        ws.once("open", () => resolve(ws));
        ws.once("error", reject);
      });
    const idle = await open("/idle");
    const busy = await open("/busy");
    const ticker = setInterval(() => busy.send("ping"), 300);
    const started = performance.now();
    await new Promise((r) => idle.once("close", r));
    expect(performance.now() - started).toBeGreaterThan(900);
    expect(performance.now() - started).toBeLessThan(3000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(busy.readyState).toBe(WebSocket.OPEN);
    clearInterval(ticker);
    busy.close();
  });

  it("is offered to the server alone when the client lists WebSocket among other protocols", async () => {
    const backend = await server((socket, head) => {
      expect(head).toMatch(/\r\nupgrade: websocket\r\n/i);
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
      );
    });
    const running = await proxyTo(backend.port, {});
    const talk = await converse(
      running.port,
      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket, h2c\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    await talk.until(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    talk.socket.destroy();
  });

  it("is not opened for an upgrade request with a body: it goes on as plain HTTP", async () => {
    const backend = await server((socket, head) =>
      socket.write(
        head.toLowerCase().includes("upgrade:")
          ? "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"
          : "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nplain",
      ),
    );
    const running = await proxyTo(backend.port, { TIMEOUT_SERVER: "2s" });
    const talk = await converse(
      running.port,
      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nBODY!",
    );
    await talk.until(/plain$/, 1500);
    talk.socket.destroy();
  });
});

import type { Server } from "node:http";
import { WebSocketServer } from "ws";

/** Answers every WebSocket message with `<greeting>: <message>`. */
export function attachWebSocketEcho(server: Server, greeting: string): WebSocketServer {
  const wss = new WebSocketServer({ server });
  wss.on("connection", (socket) => {
    socket.send(greeting);
    socket.on("message", (data) => socket.send(`${greeting}: ${String(data)}`));
  });
  return wss;
}

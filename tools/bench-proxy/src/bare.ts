// Calibration servers for `pnpm bench:floor`: what Node itself costs, with
// none of stickyring's work (no ring, forwarding headers, metrics, timeouts,
// retries or error pages). Not a proxy to use: each skips what a real one
// must do, to show how much of stickyring's CPU per request is Node's.
// `node dist/bare.js <mode> <port> <backend ports...>`
//   hello   answers itself, forwards nothing: Node's HTTP server alone
//   undici  forwards on undici's pools (as stickyring did before its own client)
//   raw     forwards on kept-alive net sockets with a minimal response reader
//           (Content-Length bodies only): the floor of any node:http proxy

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";
import { Agent, type Dispatcher } from "undici";
import { pickByAddress } from "./client-hash.js";

const [mode, portText, ...backendPorts] = process.argv.slice(2);
const backends = backendPorts.map(Number);

/** The client address picks the backend, so each client sticks to one, as in every contender. */
const backendFor = (req: IncomingMessage) => pickByAddress(req.socket.remoteAddress, backends);

function hello(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, ["content-type", "text/plain", "content-length", "16"]);
  res.end("Hello from App 1");
}

const agent = new Agent({ pipelining: 1 });

function viaUndici(req: IncomingMessage, res: ServerResponse): void {
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart() {},
    onResponseStart(_controller, status, headers) {
      delete headers.connection;
      res.writeHead(status, headers as Record<string, string>);
    },
    onResponseData(_controller, chunk) {
      res.write(chunk);
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError(_controller, error) {
      console.error(error.message);
      res.destroy();
    },
  };
  agent.dispatch(
    {
      origin: `http://127.0.0.1:${backendFor(req)}`,
      path: req.url!,
      method: req.method as Dispatcher.HttpMethod,
      headers: req.rawHeaders,
    },
    handler,
  );
}

/** Idle kept-alive connections per backend port. */
const idle = new Map<number, Socket[]>();

/** Reads one response (status line, headers, Content-Length body) and relays it. */
function relayOne(socket: Socket, port: number, res: ServerResponse): void {
  let buffered: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = buffered.toString("latin1", 0, end).split("\r\n");
    const status = Number(head[0]!.slice(9, 12));
    const headers: string[] = [];
    let length = 0;
    for (let i = 1; i < head.length; i++) {
      const colon = head[i]!.indexOf(":");
      const name = head[i]!.slice(0, colon).toLowerCase();
      const value = head[i]!.slice(colon + 1).trim();
      if (name === "content-length") length = Number(value);
      if (name !== "connection" && name !== "keep-alive") headers.push(name, value);
    }
    if (buffered.length < end + 4 + length) return; // the body is not all here yet
    socket.off("data", onData);
    res.writeHead(status, headers);
    res.end(buffered.subarray(end + 4, end + 4 + length));
    idle.get(port)!.push(socket);
  };
  socket.on("data", onData);
}

function viaRaw(req: IncomingMessage, res: ServerResponse): void {
  const port = backendFor(req);
  if (!idle.has(port)) idle.set(port, []);
  const socket =
    idle.get(port)!.pop() ?? connect({ port, host: "127.0.0.1", noDelay: true }).setKeepAlive(true);
  const lines = [`${req.method} ${req.url} HTTP/1.1`];
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  socket.write(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
  relayOne(socket, port, res);
}

const handlers = { hello, undici: viaUndici, raw: viaRaw } as Record<
  string,
  (req: IncomingMessage, res: ServerResponse) => void
>;
const handle = handlers[mode ?? ""];
if (!handle) {
  console.error(`usage: bare.js hello|undici|raw <port> <backend ports...>`);
  process.exit(2);
}
createServer(handle).listen(Number(portText), "127.0.0.1");

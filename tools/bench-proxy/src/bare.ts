// Calibration servers for `pnpm bench:floor`: what Node itself costs, with
// none of stickyring's work (no ring, forwarding headers, metrics, timeouts,
// retries or error pages). Not a proxy to use: each skips what a real one
// must do, to show how much of stickyring's CPU per request is Node's.
// `node dist/bare.js <mode> <port> <backend ports...>`
//   hello   answers itself, forwards nothing: Node's HTTP server alone
//   raw     node:http's server in front, forwarding on kept-alive net sockets
//           with a minimal response reader (Content-Length bodies only)
//   net     the same forwarding with net sockets on the client side too and
//           a minimal request reader (GET only): the floor of any Node proxy
//   h2hello node:http2 over TLS (BARE_TLS_PEM: certificate and key) answering
//           each stream itself: Node's HTTP/2 server alone
//   h2net   node:http2 over TLS forwarding each stream (GET only) on the same
//           kept-alive net sockets: the floor of a Node HTTP/2-to-HTTP/1.1 proxy
//   h2pipe  the same, pipelining the requests on 4 connections per backend,
//           each tick's requests in one write: an experiment on where h2net's
//           time goes (socket wakeups), not a way to forward (a server that
//           closes mid-pipeline loses the requests behind, and no well-known
//           proxy pipelines to its servers)

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, createServer as createNetServer, type Socket } from "node:net";
import {
  createSecureServer,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import { readFileSync } from "node:fs";
import { pickByAddress } from "./client-hash.js";

const [mode, portText, ...backendPorts] = process.argv.slice(2);
const backends = backendPorts.map(Number);

/** The client address picks the backend, so each client sticks to one, as in every contender. */
const backendFor = (req: IncomingMessage) => pickByAddress(req.socket.remoteAddress, backends);

function hello(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, ["content-type", "text/plain", "content-length", "16"]);
  res.end("Hello from App 1");
}

/** Idle kept-alive connections per backend port. */
const idle = new Map<number, Socket[]>();

/** Where a relayed answer goes: node:http's response, or a client socket written to directly. */
type Answer = (status: number, headers: string[], body: Buffer) => void;

/** One whole response (status line, headers, Content-Length body) at the start of `buffered`, if it is all there. */
function readAnswer(buffered: Buffer) {
  const end = buffered.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const head = buffered.toString("latin1", 0, end).split("\r\n");
  const headers: string[] = [];
  let length = 0;
  for (const line of head.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") length = Number(value);
    if (name !== "connection" && name !== "keep-alive") headers.push(name, value);
  }
  const used = end + 4 + length;
  if (buffered.length < used) return undefined; // the body is not all here yet
  const status = Number(head[0]!.slice(9, 12));
  return { status, headers, body: buffered.subarray(end + 4, used), used };
}

/** Reads one response and relays it; the socket goes back to the idle list. */
function relayOne(socket: Socket, port: number, answer: Answer): void {
  let buffered: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const read = readAnswer(buffered);
    if (read === undefined) return;
    socket.off("data", onData);
    answer(read.status, read.headers, read.body);
    idle.get(port)!.push(socket);
  };
  socket.on("data", onData);
}

/** Sends a request head to `port` on a kept-alive socket; the answer goes to `answer`. */
function forward(port: number, head: string, answer: Answer): void {
  if (!idle.has(port)) idle.set(port, []);
  const socket =
    idle.get(port)!.pop() ?? connect({ port, host: "127.0.0.1", noDelay: true }).setKeepAlive(true);
  socket.write(head, "latin1");
  relayOne(socket, port, answer);
}

function viaRaw(req: IncomingMessage, res: ServerResponse): void {
  const lines = [`${req.method} ${req.url} HTTP/1.1`];
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  forward(backendFor(req), `${lines.join("\r\n")}\r\n\r\n`, (status, headers, body) => {
    res.writeHead(status, headers);
    res.end(body);
  });
}

/** Client side on a bare socket: each request head (no body) forwarded as it is, answers written whole. */
function viaNet(client: Socket): void {
  const port = pickByAddress(client.remoteAddress, backends);
  let buffered = "";
  client.setEncoding("latin1");
  client.on("data", (data: string) => {
    buffered += data;
    for (let end = buffered.indexOf("\r\n\r\n"); end >= 0; end = buffered.indexOf("\r\n\r\n")) {
      const head = buffered.slice(0, end + 4);
      buffered = buffered.slice(end + 4);
      forward(port, head, (status, headers, body) => {
        let out = `HTTP/1.1 ${status} OK\r\n`;
        for (let i = 0; i < headers.length; i += 2) out += `${headers[i]}: ${headers[i + 1]}\r\n`;
        client.write(Buffer.concat([Buffer.from(`${out}\r\n`, "latin1"), body]));
      });
    }
  });
  client.on("error", () => client.destroy());
}

function h2hello(stream: ServerHttp2Stream): void {
  stream.respond({ ":status": 200, "content-type": "text/plain", "content-length": 16 });
  stream.end("Hello from App 1");
}

/** A stream's GET as an HTTP/1.1 request head. */
const getHead = (headers: IncomingHttpHeaders) =>
  `GET ${headers[":path"]} HTTP/1.1\r\nhost: ${headers[":authority"]}\r\n\r\n`;

/** Relays an answer on a stream as one HEADERS and one DATA frame. */
const answerOn =
  (stream: ServerHttp2Stream): Answer =>
  (status, fields, body) => {
    if (stream.destroyed) return;
    const answer: OutgoingHttpHeaders = { ":status": status };
    for (let i = 0; i < fields.length; i += 2) answer[fields[i]!] = fields[i + 1]!;
    stream.respond(answer);
    stream.end(body);
  };

/** Each stream as an HTTP/1.1 GET to the client's backend on a kept-alive socket of its own. */
function h2net(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  const port = pickByAddress(stream.session!.socket.remoteAddress, backends);
  forward(port, getHead(headers), answerOn(stream));
}

/** One pipelined connection: answers come back in the order the requests were written. */
function pipeline(port: number) {
  const socket = connect({ port, host: "127.0.0.1", noDelay: true });
  const waiting: Answer[] = [];
  let batch: string[] = [];
  let buffered: Buffer = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    for (let read = readAnswer(buffered); read !== undefined; read = readAnswer(buffered)) {
      waiting.shift()!(read.status, read.headers, read.body);
      buffered = buffered.subarray(read.used);
    }
  });
  return (head: string, answer: Answer) => {
    waiting.push(answer);
    if (batch.length === 0)
      setImmediate(() => {
        socket.write(batch.join(""), "latin1");
        batch = [];
      });
    batch.push(head);
  };
}

/** 4 pipelined connections per backend port, opened at its first request. */
const pipelines = new Map<number, ReturnType<typeof pipeline>[]>();
let turn = 0;

function h2pipe(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  const port = pickByAddress(stream.session!.socket.remoteAddress, backends);
  let connections = pipelines.get(port);
  if (connections === undefined)
    pipelines.set(port, (connections = Array.from({ length: 4 }, () => pipeline(port))));
  connections[turn++ % connections.length]!(getHead(headers), answerOn(stream));
}

function h2Server(onStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void) {
  const pem = readFileSync(process.env.BARE_TLS_PEM!, "utf8");
  const server = createSecureServer({ cert: pem, key: pem, allowHTTP1: false });
  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    onStream(stream, headers);
  });
  return server;
}

const port = Number(portText);
if (mode === "hello") createServer(hello).listen(port, "127.0.0.1");
else if (mode === "raw") createServer(viaRaw).listen(port, "127.0.0.1");
else if (mode === "net") createNetServer({ noDelay: true }, viaNet).listen(port, "127.0.0.1");
else if (mode === "h2hello") h2Server(h2hello).listen(port, "127.0.0.1");
else if (mode === "h2net") h2Server(h2net).listen(port, "127.0.0.1");
else if (mode === "h2pipe") h2Server(h2pipe).listen(port, "127.0.0.1");
else {
  console.error(`usage: bare.js hello|raw|net|h2hello|h2net|h2pipe <port> <backend ports...>`);
  process.exit(2);
}

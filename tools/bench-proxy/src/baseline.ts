// The tutorial-style sticky proxy people write: Express + http-proxy-middleware
// with default options and a router function hashing the client address.
// Run as its own process: `node dist/baseline.js <port> <backend urls...>`.

import express from "express";
import { createProxyMiddleware } from "http-proxy-middleware";

const [port, ...targets] = process.argv.slice(2);

function hash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
  return h;
}

const app = express();
app.use(
  createProxyMiddleware({
    target: targets[0],
    changeOrigin: true,
    router: (req) => targets[hash(req.socket.remoteAddress ?? "") % targets.length]!,
  }),
);
app.listen(Number(port), "127.0.0.1");

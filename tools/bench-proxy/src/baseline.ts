// The tutorial-style sticky proxy people write: Express + http-proxy-middleware
// with default options and a router function hashing the client address.
// Run as its own process: `node dist/baseline.js <port> <backend urls...>`.

import express from "express";
import { createProxyMiddleware } from "http-proxy-middleware";
import { pickByAddress } from "./client-hash.js";

const [port, ...targets] = process.argv.slice(2);

const app = express();
app.use(
  createProxyMiddleware({
    target: targets[0],
    changeOrigin: true,
    router: (req) => pickByAddress(req.socket.remoteAddress, targets),
  }),
);
app.listen(Number(port), "127.0.0.1");

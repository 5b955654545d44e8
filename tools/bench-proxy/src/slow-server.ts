// A backend that answers every request after a fixed delay, as a server
// busy with real work does: `node dist/slow-server.js <port> <ms>`. Used by
// `pnpm bench:new-client` (new-client.ts), where requests pile up in flight.

import { createServer } from "node:http";

const [port, delayMs] = process.argv.slice(2).map(Number);
const server = createServer((_req, res) => {
  setTimeout(() => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": "15" });
    res.end("Hello from App1");
  }, delayMs);
});
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1");

// `pnpm bench:floor`: stickyring beside what Node costs without it (bare.ts:
// Node's HTTP server alone, a bare forwarder behind it, a bare forwarder on
// net sockets both sides), in alternating rounds, so the CPU per request splits into
// Node's share and stickyring's own. Writes results/floor.md.

import { fileURLToPath } from "node:url";
import { sideBySide } from "./measure.js";
import { launchLine, PROXY_START, startProcess, startStickyring } from "./processes.js";

const BARE = [
  ["bare node:http, answers itself", "hello"],
  ["bare forwarder, node:http server, net sockets to backends", "raw"],
  ["bare forwarder on net sockets both sides", "net"],
] as const;

const script = fileURLToPath(new URL("./bare.js", import.meta.url));

await sideBySide({
  file: "floor.md",
  command: "pnpm bench:floor",
  about: `stickyring (default configuration) beside bare Node servers (tools/bench-proxy/src/bare.ts: no ring, forwarding headers, metrics, timeouts or retries; the forwarders read Content-Length bodies only, the net-socket one GET requests only), all run as ${launchLine()};`,
  firstColumn: "server",
  backends: [19121, 19122, 19123],
  candidates: [
    (backends) => startStickyring(19220, 19320, backends),
    ...BARE.map(([name, mode], i) => (backends: number[]) => {
      const port = 19221 + i;
      return startProcess(
        name,
        port,
        process.execPath,
        [...PROXY_START.flags, script, mode, String(port), ...backends.map(String)],
        PROXY_START.env,
      );
    }),
  ],
});

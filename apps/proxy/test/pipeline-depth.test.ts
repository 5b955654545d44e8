// Thousands of requests pipelined in one write, some answered by the proxy
// itself at once (the monitor URI, a 429), some forwarded to a server: every
// one is answered, in order, and the process stands (a found fault: requests
// dropped on the fast engine, the stack overflowed on the express engine).

import { connect } from "node:net";
import { describe, expect, it } from "@jest/globals";
import { clientAddresses, useTopology } from "./harness.js";

const topology = useTopology({ env: { MONITOR_URI: "/mon" } });
const [from] = clientAddresses(1, (224 << 8) - 255);

/** Writes `paths` as pipelined GETs in one write; resolves with the status of every answer read. */
function pipeline(port: number, paths: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1", localAddress: from });
    let text = "";
    const statuses = () => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]!);
    const done = () => {
      socket.destroy();
      resolve(statuses());
    };
    // Nothing more for two seconds: what came is all that will.
    let quiet = setTimeout(done, 2000);
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
      clearTimeout(quiet);
      if (statuses().length >= paths.length) return done();
      quiet = setTimeout(done, 2000);
    });
    socket.on("error", reject);
    socket.write(paths.map((path) => `GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`).join(""));
  });
}

describe("deep pipelines", () => {
  it("answers 10,000 pipelined requests, one in a hundred forwarded, the rest the monitor URI's", async () => {
    const paths = Array.from({ length: 10_000 }, (_, i) => (i % 100 === 0 ? "/" : "/mon"));
    const statuses = await pipeline(topology.running.port, paths);
    expect(statuses.length).toBe(10_000);
    expect(statuses.every((s) => s === "200")).toBe(true);
  }, 60_000);

  it("answers 3,000 pipelined requests the proxy answers itself, after one forwarded", async () => {
    const paths = ["/", ...Array.from({ length: 3_000 }, () => "/mon")];
    expect((await pipeline(topology.running.port, paths)).length).toBe(3_001);
  }, 60_000);
});

import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createHashRing, uriKey } from "@stickyring/hashing";
import {
  clientAddresses,
  get,
  mapLimit,
  startBackend,
  startProxy,
  type Backend,
} from "./harness.js";

let backends: Backend[];
beforeAll(async () => {
  backends = await Promise.all([1, 2, 3].map(startBackend));
});
afterAll(async () => {
  await Promise.all(backends.map((b) => b.kill()));
});

const ring = createHashRing({ servers: ["app1", "app2", "app3"].map((id) => ({ id })) });
const clients = clientAddresses(40);

describe("BALANCE=uri", () => {
  it("sends each path to one backend whatever client asks, ignoring the query", async () => {
    const running = await startProxy(backends, { BALANCE: "uri" });
    try {
      const paths = Array.from({ length: 60 }, (_, i) => `/catalog/item-${i}`);
      const used = new Set<string>();
      for (const path of paths) {
        const replies = await mapLimit(clients, 20, (from) =>
          get(running.port, { from, path: `${path}?session=${from}` }),
        );
        const owners = new Set(replies.map((r) => r.backend));
        expect(owners.size).toBe(1);
        expect([...owners][0]).toBe(ring.pick(uriKey(path)));
        used.add([...owners][0]!);
      }
      expect(used.size).toBe(3);
    } finally {
      await running.stop();
    }
    // 2,400 connections of their own: seconds when the other suites load both cores.
  }, 30_000);

  it("honours depth: paths under one directory share a backend", async () => {
    const running = await startProxy(backends, { BALANCE: "uri depth 1" });
    try {
      for (const dir of ["/users", "/cart", "/search", "/static"]) {
        const replies = await Promise.all(
          ["/a", "/b/c", "/d?x=1"].map((rest) => get(running.port, { path: dir + rest })),
        );
        expect(new Set(replies.map((r) => r.backend))).toEqual(new Set([ring.pick(dir)]));
      }
    } finally {
      await running.stop();
    }
  });
});

describe("BALANCE=hdr(x-user)", () => {
  it("keys on the header, and on the client address when it is absent", async () => {
    const running = await startProxy(backends, { BALANCE: "hdr(X-User)" });
    try {
      for (const user of ["alice", "bob", "carol", "dave", "erin"]) {
        const replies = await mapLimit(clients.slice(0, 10), 10, (from) =>
          get(running.port, { from, headers: { "x-user": user } }),
        );
        expect(new Set(replies.map((r) => r.backend))).toEqual(new Set([ring.pick(user)]));
      }
      const anonymous = await get(running.port, { from: clients[0] });
      expect(anonymous.backend).toBe(ring.pick(clients[0]!));
    } finally {
      await running.stop();
    }
  });
});

describe("HASH_TYPE=maglev", () => {
  it("places clients where the maglev table says", async () => {
    const running = await startProxy(backends, { HASH_TYPE: "maglev" });
    const maglev = createHashRing({
      algorithm: "maglev",
      servers: ["app1", "app2", "app3"].map((id) => ({ id })),
    });
    try {
      const replies = await mapLimit(clients, 20, (from) => get(running.port, { from }));
      replies.forEach((r, i) => expect(r.backend).toBe(maglev.pick(clients[i]!)));
    } finally {
      await running.stop();
    }
  });
});

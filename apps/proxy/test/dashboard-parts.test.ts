// The dashboard's pure parts: traffic history, ring arcs, the words of a
// preview, and the bookkeeping of event streams.

import { describe, expect, it } from "@jest/globals";
import { createHashRing } from "@stickyring/hashing";
import {
  describeMoves,
  discoveryText,
  list,
  percent,
  sourceText,
} from "../dashboard/src/format.js";
import { EventStreams, MAX_EVENT_STREAMS } from "../src/control-plane/dashboard.js";
import { ringArcs } from "../src/control-plane/ring-view.js";
import { TrafficHistory } from "../src/control-plane/traffic.js";

describe("TrafficHistory", () => {
  it("turns cumulative counts into rates, keeps the latest samples, forgets removed servers", () => {
    const history = new TrafficHistory(3);
    history.sample([["a", 0]], 0);
    history.sample([["a", 10]], 1000);
    history.sample(
      [
        ["a", 30],
        ["b", 5],
      ],
      2000,
    );
    history.sample(
      [
        ["a", 30],
        ["b", 9],
      ],
      4000,
    );
    history.sample([["b", 11]], 5000);
    expect(history.rates()).toEqual({ b: [0, 2, 2] });
    const fresh = new TrafficHistory(2);
    fresh.sample([["a", 0]], 0);
    for (let t = 1; t <= 4; t++) fresh.sample([["a", t * 5]], t * 1000);
    expect(fresh.rates()).toEqual({ a: [5, 5] });
  });

  it("never reports a negative rate (a counter that went back, e.g. a re-added server)", () => {
    const history = new TrafficHistory();
    history.sample([["a", 50]], 0);
    history.sample([["a", 10]], 1000);
    expect(history.rates()).toEqual({ a: [0] });
  });
});

describe("ringArcs", () => {
  it("covers the keyspace with runs of one owner whose lengths follow the shares", () => {
    const ring = createHashRing({
      algorithm: "maglev",
      servers: [{ id: "a" }, { id: "b", weight: 3 }],
    });
    const arcs = ringArcs(ring, 4096);
    expect(arcs[0]!.from).toBe(0);
    expect(arcs[arcs.length - 1]!.to).toBe(1);
    for (let i = 1; i < arcs.length; i++) {
      expect(arcs[i]!.from).toBe(arcs[i - 1]!.to);
      expect(arcs[i]!.server).not.toBe(arcs[i - 1]!.server);
    }
    const b = arcs.filter((a) => a.server === "b").reduce((sum, a) => sum + a.to - a.from, 0);
    expect(b).toBeCloseTo(0.75, 1);
    expect(ringArcs(createHashRing({ servers: [] }), 8)).toEqual([
      { server: null, from: 0, to: 1 },
    ]);
  });
});

describe("preview words", () => {
  it("says how much moves, from and to where, and who stays", () => {
    expect(
      describeMoves(
        0.334,
        [
          { from: "app2", to: "app1", share: 0.17 },
          { from: "app2", to: "app3", share: 0.164 },
        ],
        ["app1", "app2", "app3"],
      ),
    ).toBe(
      "About 33% of clients move, all from app2, to app1 (17%) and app3 (16%); no client of app1 or app3 moves.",
    );
    expect(
      describeMoves(
        0.25,
        [
          { from: "a", to: "d", share: 0.09 },
          { from: "b", to: "d", share: 0.08 },
          { from: "c", to: "d", share: 0.08 },
        ],
        ["a", "b", "c"],
      ),
    ).toBe("About 25% of clients move, from a (9.0%), b (8.0%) and c (8.0%), all to d.");
    expect(describeMoves(0, [], ["a"])).toBe("No client moves.");
    expect(describeMoves(1, [{ from: "a", to: null, share: 1 }], ["a"])).toBe(
      "About 100% of clients move, all from a, all to no server.",
    );
  });

  it("formats small shares and lists", () => {
    expect(percent(0.00001)).toBe("<0.1%");
    expect(percent(0.0512)).toBe("5.1%");
    expect(list(["a", "b", "c"], "or")).toBe("a, b or c");
  });
});

describe("EventStreams", () => {
  const sink = () => ({
    writableLength: 0,
    frames: 0,
    destroyed: false,
    write() {
      this.frames++;
    },
    end() {},
    destroy() {
      this.destroyed = true;
    },
  });

  it("takes at most MAX_EVENT_STREAMS streams", () => {
    const streams = new EventStreams();
    for (let i = 0; i < MAX_EVENT_STREAMS; i++) expect(streams.add(sink())).toBe(true);
    expect(streams.add(sink())).toBe(false);
    expect(streams.size).toBe(MAX_EVENT_STREAMS);
  });

  it("cuts a stream whose frames stay unsent for 10 ticks, and keeps one that catches up", () => {
    const streams = new EventStreams();
    const stalled = sink();
    const slow = sink();
    const reading = sink();
    for (const s of [stalled, slow, reading]) streams.add(s);
    stalled.writableLength = 5000;
    for (let tick = 1; tick <= 12; tick++) {
      // The slow one has frames waiting most of the time, but drains every 5th tick.
      slow.writableLength = tick % 5 === 0 ? 0 : 5000;
      streams.broadcast("frame");
      if (tick < 10) expect(stalled.destroyed).toBe(false);
    }
    expect(stalled.destroyed).toBe(true);
    expect(stalled.frames).toBe(9);
    expect(slow.destroyed).toBe(false);
    expect(reading.frames).toBe(12);
    expect(streams.size).toBe(2);
  });
});

describe("discovery words", () => {
  const group = {
    name: "web",
    url: "dns://web:5000",
    status: "ok" as const,
    since: 1000,
    detail: "",
    servers: 3,
  };
  const time = (at: number) => `t${at}`;

  it("says what each DNS group found, and since when DNS has failed it", () => {
    expect(discoveryText(group, time)).toBe("dns://web:5000: 3 servers");
    expect(
      discoveryText({ ...group, status: "stale", since: 5000, detail: "web: ETIMEOUT" }, time),
    ).toBe("dns://web:5000: discovery stale since t5000, keeping its 3 servers (web: ETIMEOUT)");
    expect(
      discoveryText({ ...group, status: "empty", since: 7000, detail: "web: ENOTFOUND" }, time),
    ).toBe(
      "dns://web:5000: DNS names no servers since t7000 (web: ENOTFOUND); 3 servers kept until DNS_HOLD",
    );
    expect(discoveryText({ ...group, status: "unresolved", since: 0, servers: 0 }, time)).toBe(
      "dns://web:5000: not resolved yet (waiting)",
    );
  });

  it("says where a server came from", () => {
    const server = { source: "static" } as Parameters<typeof sourceText>[0];
    expect(sourceText(server)).toBe("listed");
    expect(sourceText({ ...server, source: "web" })).toBe("found by DNS (web)");
  });
});

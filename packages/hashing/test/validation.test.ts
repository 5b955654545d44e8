import { describe, expect, it } from "@jest/globals";
import { createHashRing } from "../src/create.js";
import type { ServerSpec } from "../src/servers.js";

describe("invalid input is refused with a TypeError naming the server and the rule", () => {
  it.each<[string, ServerSpec[], string]>([
    ["duplicate ids", [{ id: "a" }, { id: "a" }], 'server "a": duplicate id'],
    ["an empty id", [{ id: "a" }, { id: "" }], "server at index 1: id must be a non-empty string"],
    [
      "a weight above 256",
      [{ id: "a", weight: 257 }],
      'server "a": weight must be a number from 0 to 256, got 257',
    ],
    [
      "a negative weight",
      [{ id: "b", weight: -1 }],
      'server "b": weight must be a number from 0 to 256, got -1',
    ],
    [
      "a weight that is not a number (NaN)",
      [{ id: "c", weight: Number.NaN }],
      'server "c": weight must be a number from 0 to 256, got NaN',
    ],
    [
      "a weight that is not a number",
      [{ id: "d", weight: "2" as unknown as number }],
      'server "d": weight must be',
    ],
    [
      "a non-string id",
      [{ id: 7 as unknown as string }],
      "server at index 0: id must be a non-empty string",
    ],
  ])("%s", (_, servers, message) => {
    expect(() => createHashRing({ servers })).toThrow(TypeError);
    expect(() => createHashRing({ servers })).toThrow(message);
  });

  it("refuses a fractional weight for modulo, whose table has a slot per unit of weight", () => {
    const servers = [{ id: "a" }, { id: "c", weight: 1.5 }];
    expect(() => createHashRing({ servers, algorithm: "modulo" })).toThrow(
      'server "c": algorithm modulo takes whole weights (a slot per unit), got 1.5',
    );
  });

  it("names a bad option", () => {
    const servers = [{ id: "a" }];
    expect(() => createHashRing({ servers, algorithm: "rand" as "ring" })).toThrow(
      /algorithm must be one of ring, maglev, modulo/,
    );
    expect(() => createHashRing({ servers, balanceFactor: 0.5 })).toThrow(
      /balanceFactor must be a number >= 1/,
    );
    expect(() => createHashRing({ servers, algorithm: "maglev", tableSize: 1000 })).toThrow(
      /tableSize must be a prime/,
    );
    expect(() => createHashRing({ servers, pointsPerWeight: 0 })).toThrow(/pointsPerWeight/);
    expect(() => createHashRing({ servers: "a" as unknown as ServerSpec[] })).toThrow(
      /servers must be an array/,
    );
  });
});

import { describe, expect, it } from "@jest/globals";
import { hashString, hashWords } from "../src/hash.js";

describe("hashString is MurmurHash3_x86_32 of UTF-8", () => {
  // Published test vectors of the reference implementation.
  it.each([
    ["", 0, 0],
    ["", 1, 0x514e28b7],
    ["", 0xffffffff, 0x81f16f39],
    ["\0\0\0\0", 0, 0x2362f9de],
    ["a", 0x9747b28c, 0x7fa09ea6],
    ["ab", 0x9747b28c, 0x74875592],
    ["abc", 0x9747b28c, 0xc84a62dd],
    ["abcd", 0x9747b28c, 0xf0478627],
    ["aaaa", 0x9747b28c, 0x5a97808a],
    ["Hello, world!", 0x9747b28c, 0x24884cba],
    ["The quick brown fox jumps over the lazy dog", 0x9747b28c, 0x2fa826cd],
    ["ππππππππ", 0x9747b28c, 0xd58063c1],
  ])("%j with seed %d", (text, seed, expected) => {
    expect(hashString(text, seed)).toBe(expected);
  });

  it("hashes a non-ASCII character wherever it stands", () => {
    // The ASCII fast path hands over to the byte path at a block boundary or
    // in the tail; both must agree with hashing the same bytes.
    const base = "0123456789";
    const results = new Set<number>();
    for (let at = 0; at <= base.length; at++) {
      const text = base.slice(0, at) + "é" + base.slice(at);
      results.add(hashString(text));
      expect(hashString(text)).toBe(hashString(text.normalize("NFC")));
    }
    expect(results.size).toBe(base.length + 1);
  });

  it("returns unsigned 32-bit integers", () => {
    for (const text of ["x", "10.0.0.1", "::1", "/a/b?c"]) {
      const h = hashString(text);
      expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
    }
    expect(hashWords(1, 2)).not.toBe(hashWords(2, 1));
  });
});

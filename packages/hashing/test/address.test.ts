import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { formatAddress, parseAddress, sourceKey } from "../src/address.js";

describe("sourceKey", () => {
  it.each([
    ["10.1.2.3", "10.1.2.3"],
    ["::ffff:10.1.2.3", "10.1.2.3"],
    ["::FFFF:10.1.2.3", "10.1.2.3"],
    ["::ffff:a01:203", "10.1.2.3"],
    ["0:0:0:0:0:ffff:10.1.2.3", "10.1.2.3"],
    ["[::ffff:10.1.2.3]", "10.1.2.3"],
    ["2001:DB8::1", "2001:db8::1"],
    ["2001:db8:0:0:0:0:0:1", "2001:db8::1"],
    ["[2001:db8::1]", "2001:db8::1"],
    ["fe80::1%eth0", "fe80::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:0db8:0000:0001:0000:0000:0000:0001", "2001:db8:0:1::1"],
    ["2001:db8:1:1:1:1:0:1", "2001:db8:1:1:1:1:0:1"],
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
  ])("%s -> %s", (input, expected) => {
    expect(sourceKey(input)).toBe(expected);
  });

  it.each([
    "",
    "10.1.2",
    "10.1.2.3.4",
    "10.1.2.256",
    "010.1.2.3",
    "10.1.2.3 x",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    "12345::1",
    "::ffff:10.1.2.300",
    "example.com",
    "1.2.3.4:80",
  ])("refuses %j with a TypeError that quotes it", (input) => {
    expect(() => sourceKey(input)).toThrow(TypeError);
    expect(() => sourceKey(input)).toThrow(JSON.stringify(input));
  });

  it("gives every spelling of an IPv4 address the same key", () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(sourceKey(ip)).toBe(ip);
        expect(sourceKey(`::ffff:${ip}`)).toBe(ip);
        expect(sourceKey(`[::ffff:${ip}]`)).toBe(ip);
      }),
    );
  });

  it("round-trips every IPv6 address to one canonical key", () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const key = sourceKey(ip);
        expect(sourceKey(key)).toBe(key);
        expect(sourceKey(ip.toUpperCase())).toBe(key);
        expect(formatAddress(parseAddress(key)!)).toBe(key);
      }),
    );
  });
});

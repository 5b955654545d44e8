import { describe, expect, it } from "@jest/globals";
import { parseAddress, sourceKey } from "@stickyring/hashing";
import fc from "fast-check";
import { parseCidrList } from "../src/data-plane/cidr.js";
import { clientAddress } from "../src/data-plane/client-address.js";

const trusted = (
  parseCidrList("10.0.0.0/8, 2001:db8::/32") as { matcher: (a: Uint8Array) => boolean }
).matcher;

/** Header values: garbage, many hops, IPv4, IPv6, bracketed and quoted forms. */
const hop = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV6().map((ip) => `[${ip}]:8080`),
  fc.string(),
  fc.constant("unknown"),
);
const headerValue = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.array(hop, { maxLength: 40 }).map((hops) => hops.join(", ")),
);
const forwarded = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc
    .array(hop, { maxLength: 20 })
    .map((hops) => hops.map((h) => `for="${h}";proto=https`).join(", ")),
);

describe("client address from forwarding headers", () => {
  it("ignores any header from an untrusted peer: the key is the peer's own", () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), headerValue, forwarded, (peer, xff, fwd) => {
        fc.pre(!trusted(parseAddress(peer)!));
        expect(clientAddress(peer, { "x-forwarded-for": xff, forwarded: fwd }, trusted)).toBe(
          sourceKey(peer),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws for a trusted peer, and answers an address that was in the request", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("10.1.2.3", "2001:db8::7"),
        headerValue,
        forwarded,
        (peer, xff, fwd) => {
          const result = clientAddress(peer, { "x-forwarded-for": xff, forwarded: fwd }, trusted)!;
          expect(parseAddress(result)).toBeDefined();
          const offered = [peer, ...xff.split(","), ...fwd.split(/[,;=\s"[\]]/)].map((h) => {
            try {
              return sourceKey(h.trim());
            } catch {
              return h.trim();
            }
          });
          expect(offered.some((h) => h === result || h.startsWith(result))).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("does not read a header value longer than 4 KiB", () => {
    const long = Array.from({ length: 400 }, (_, i) => `203.0.113.${i % 250}`).join(", ");
    expect(clientAddress("10.0.0.1", { "x-forwarded-for": long }, trusted)).toBe("10.0.0.1");
  });
});

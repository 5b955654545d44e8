// Whether an OCSP response file may be stapled (src/http/tls/ocsp.ts), on
// responses the openssl command makes as a CA's responder would.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { checkOcspResponse } from "../src/http/tls/ocsp.js";
import { createPki, type Leaf, type Pki } from "./tls-pki.js";

let pki: Pki;
let leaf: Leaf;
let good: Buffer;
let revoked: Buffer;
beforeAll(() => {
  pki = createPki();
  leaf = pki.leaf("site", ["site.test"]);
  pki.ocsp(leaf, join(pki.dir, "good.der"));
  pki.ocsp(leaf, join(pki.dir, "revoked.der"), "revoked");
  good = readFileSync(join(pki.dir, "good.der"));
  revoked = readFileSync(join(pki.dir, "revoked.der"));
});
afterAll(() => pki.remove());

describe("checkOcspResponse", () => {
  it("takes a successful response saying the certificate is good, until its nextUpdate", () => {
    const now = new Date();
    const verdict = checkOcspResponse(good, leaf.serial, now);
    expect(verdict).toEqual({ nextUpdate: expect.any(Date) });
    const { nextUpdate } = verdict as { nextUpdate: Date };
    // openssl ocsp -ndays 1
    expect(nextUpdate.getTime() - now.getTime()).toBeGreaterThan(23 * 3600_000);
    expect(checkOcspResponse(good, leaf.serial, new Date(nextUpdate.getTime() + 1000))).toEqual({
      problem: `out of date (nextUpdate ${nextUpdate.toISOString()} has passed)`,
    });
  });

  it("matches the serial number whatever its case or leading zeros", () => {
    expect(
      checkOcspResponse(good, `00${leaf.serial.toLowerCase()}`, new Date()),
    ).not.toHaveProperty("problem");
  });

  it("refuses a response about another certificate, a revoked one, an unsuccessful one", () => {
    expect(checkOcspResponse(good, "1234", new Date())).toEqual({
      problem: "it is about another certificate (none with serial 1234)",
    });
    expect(checkOcspResponse(revoked, leaf.serial, new Date())).toEqual({
      problem: "the certificate is revoked",
    });
    // OCSPResponse { responseStatus unauthorized (6) }, as a responder answers a stranger.
    expect(checkOcspResponse(Buffer.from("30030a0106", "hex"), leaf.serial, new Date())).toEqual({
      problem: "the responder answered unauthorized, not successful",
    });
  });

  it("refuses bytes that are not a whole DER response, without throwing", () => {
    for (const bytes of [
      Buffer.alloc(0),
      Buffer.from("not DER at all"),
      good.subarray(0, good.length - 1),
      Buffer.concat([good, Buffer.from([0])]),
      readFileSync(leaf.certFile),
    ])
      expect(checkOcspResponse(bytes, leaf.serial, new Date())).toEqual({
        problem: expect.stringMatching(/^not a DER OCSP response \(/),
      });
  });
});

// Whether an OCSP response file may be stapled (src/http/tls/ocsp.ts), on
// responses the openssl command makes as a CA's responder would.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { X509Certificate } from "node:crypto";
import { checkOcspResponse, MAX_STAPLED } from "../src/http/tls/ocsp.js";
import { createPki, type Leaf, type Pki } from "./tls-pki.js";

let pki: Pki;
let otherPki: Pki;
let leaf: Leaf;
let site: X509Certificate;
let good: Buffer;
let revoked: Buffer;
let otherCa: Buffer;
beforeAll(() => {
  pki = createPki();
  leaf = pki.leaf("site", ["site.test"]);
  site = new X509Certificate(leaf.cert);
  pki.ocsp(leaf, join(pki.dir, "good.der"));
  pki.ocsp(leaf, join(pki.dir, "revoked.der"), "revoked");
  good = readFileSync(join(pki.dir, "good.der"));
  revoked = readFileSync(join(pki.dir, "revoked.der"));
  // Another authority's good answer about a certificate of the same serial number.
  otherPki = createPki("another CA");
  const twin = otherPki.leaf("twin", ["site.test"], { serial: leaf.serial });
  const twinDer = join(otherPki.dir, "twin.der");
  otherPki.ocsp(twin, twinDer);
  otherCa = readFileSync(twinDer);
});
afterAll(() => {
  pki.remove();
  otherPki.remove();
});

describe("checkOcspResponse", () => {
  it("takes a successful response saying the certificate is good, until its nextUpdate", () => {
    const now = new Date();
    const verdict = checkOcspResponse(good, site, now);
    expect(verdict).toEqual({ nextUpdate: expect.any(Date) });
    const { nextUpdate } = verdict as { nextUpdate: Date };
    // openssl ocsp -ndays 1
    expect(nextUpdate.getTime() - now.getTime()).toBeGreaterThan(23 * 3600_000);
    expect(checkOcspResponse(good, site, new Date(nextUpdate.getTime() + 1000))).toEqual({
      problem: `out of date (nextUpdate ${nextUpdate.toISOString()} has passed)`,
    });
  });

  it("matches the serial number whatever its case or leading zeros", () => {
    const serialNumber = `00${leaf.serial.toLowerCase()}`;
    expect(checkOcspResponse(good, { raw: site.raw, serialNumber }, new Date())).not.toHaveProperty(
      "problem",
    );
  });

  it("refuses a response about another certificate, a revoked one, an unsuccessful one", () => {
    expect(checkOcspResponse(good, { raw: site.raw, serialNumber: "1234" }, new Date())).toEqual({
      problem: "it is about another certificate (none with serial 1234 from its issuer)",
    });
    expect(checkOcspResponse(otherCa, site, new Date())).toEqual({
      problem: `it is about another certificate (none with serial ${leaf.serial} from its issuer)`,
    });
    expect(checkOcspResponse(revoked, site, new Date())).toEqual({
      problem: "the certificate is revoked",
    });
    // OCSPResponse { responseStatus unauthorized (6) }, as a responder answers a stranger.
    expect(checkOcspResponse(Buffer.from("30030a0106", "hex"), site, new Date())).toEqual({
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
      expect(checkOcspResponse(bytes, site, new Date())).toEqual({
        problem: expect.stringMatching(/^not a DER OCSP response \(/),
      });
  });

  it("refuses one too large for a TLS 1.2 handshake to carry", () => {
    expect(checkOcspResponse(Buffer.alloc(MAX_STAPLED + 1), site, new Date())).toEqual({
      problem: `too large to staple (${MAX_STAPLED + 1} bytes; a TLS 1.2 handshake carries up to ${MAX_STAPLED})`,
    });
  });
});

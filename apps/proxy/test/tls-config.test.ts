// The TLS settings: each refused with the setting, the value and the expected form.

import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { loadConfig } from "../src/config.js";
import { configProblems } from "./harness.js";
import { createPki, type Leaf, type Pki } from "./tls-pki.js";

let pki: Pki;
let leaf: Leaf;
beforeAll(() => {
  pki = createPki();
  leaf = pki.leaf("config", ["localhost"]);
});
afterAll(() => pki.remove());

const problems = configProblems;

describe("TLS settings", () => {
  it("reads the defaults: TLS 1.2 and up, Mozilla intermediate, 100 streams, no HSTS, no redirect", () => {
    const config = loadConfig({ TLS_PORT: "8443", TLS_CERT: leaf.combinedFile });
    expect(config.tls).toMatchObject({
      port: 8443,
      policy: {
        minVersion: "TLSv1.2",
        ciphers: expect.stringMatching(/^ECDHE-ECDSA-AES128-GCM-SHA256:/),
      },
      maxStreams: 100,
      hsts: undefined,
    });
    expect(config.httpsRedirect).toBe(false);
    expect(loadConfig({}).tls).toBeUndefined();
  });

  it("refuses what cannot work, naming the setting", () => {
    expect(problems({ TLS_PORT: "8443" })).toEqual([
      "TLS_CERT or TLS_CERTS: required when TLS_PORT is set (a PEM file with certificate and key, or a folder of them)",
    ]);
    expect(problems({ TLS_CERT: leaf.combinedFile, HTTPS_REDIRECT: "on" })).toEqual([
      "TLS_PORT: required when TLS_CERT, HTTPS_REDIRECT are set",
    ]);
    expect(problems({ TLS_PORT: "8080", TLS_CERT: leaf.combinedFile })).toEqual([
      "TLS_PORT=8080: the plain PORT already listens there",
    ]);
    expect(problems({ TLS_PORT: "8404", TLS_CERT: leaf.combinedFile })).toEqual([
      "TLS_PORT=8404: the admin listener (ADMIN_PORT) listens there",
    ]);
    expect(problems({ TLS_PORT: "8443", TLS_KEY: leaf.keyFile, TLS_CERTS: pki.dir })).toEqual([
      "TLS_KEY: given without TLS_CERT, the certificate it belongs to",
    ]);
    const tls = { TLS_PORT: "8443", TLS_CERT: leaf.combinedFile };
    expect(problems({ ...tls, TLS_MIN_VERSION: "1.0" })).toEqual([
      'TLS_MIN_VERSION="1.0": expected 1.2 or 1.3',
    ]);
    expect(problems({ ...tls, HTTP_ENGINE: "express" })).toEqual([
      "HTTP_ENGINE=express: the TLS port (TLS_PORT=8443) runs on the fast engine only; unset TLS_PORT or use HTTP_ENGINE=fast",
    ]);
    expect(problems({ ...tls, TLS_CIPHERS: "RC5-NONE" })[0]).toMatch(
      /^TLS_CIPHERS="RC5-NONE": expected an OpenSSL cipher list/,
    );
    expect(problems({ ...tls, HSTS: "forever" })[0]).toMatch(
      /^HSTS="forever": expected a Strict-Transport-Security value/,
    );
    expect(problems({ ...tls, TLS_PORT: "70000" })[0]).toMatch(
      /^TLS_PORT="70000": expected a port/,
    );
  });

  it("takes TLS 1.3 only, own ciphers, HSTS, the redirect and a stream cap", () => {
    const config = loadConfig({
      TLS_PORT: "8443",
      TLS_CERT: leaf.certFile,
      TLS_KEY: leaf.keyFile,
      TLS_MIN_VERSION: "1.3",
      TLS_CIPHERS: "ECDHE-RSA-AES256-GCM-SHA384",
      HSTS: "max-age=31536000; includeSubDomains; preload",
      HTTPS_REDIRECT: "on",
      H2_MAX_STREAMS: "32",
    });
    expect(config.tls).toMatchObject({
      policy: { minVersion: "TLSv1.3", ciphers: "ECDHE-RSA-AES256-GCM-SHA384" },
      hsts: "max-age=31536000; includeSubDomains; preload",
      maxStreams: 32,
    });
    expect(config.httpsRedirect).toBe(true);
  });

  it("reads client certificate settings: required by default with a CA, refused without one or with a broken file", () => {
    const tls = { TLS_PORT: "8443", TLS_CERT: leaf.combinedFile };
    expect(loadConfig({ ...tls, TLS_CLIENT_CA: pki.caFile }).tls?.clientVerify).toBe("required");
    expect(
      loadConfig({ ...tls, TLS_CLIENT_CA: pki.caFile, TLS_CLIENT_VERIFY: "optional" }).tls
        ?.clientVerify,
    ).toBe("optional");
    expect(loadConfig(tls).tls?.clientVerify).toBeUndefined();
    expect(
      problems({ ...tls, TLS_CLIENT_VERIFY: "optional", TLS_CLIENT_CRL: leaf.certFile }),
    ).toEqual([
      "TLS_CLIENT_CA: required when TLS_CLIENT_VERIFY, TLS_CLIENT_CRL are set (the authorities client certificates are checked against)",
    ]);
    expect(problems({ TLS_CLIENT_CA: pki.caFile })).toEqual([
      "TLS_PORT: required when TLS_CLIENT_CA is set",
    ]);
    expect(problems({ ...tls, TLS_CLIENT_CA: pki.caFile, TLS_CLIENT_VERIFY: "yes" })).toEqual([
      'TLS_CLIENT_VERIFY="yes": expected required or optional',
    ]);
    expect(problems({ ...tls, TLS_CLIENT_CA: "/nonexistent/ca.pem" })).toEqual([
      'TLS_CLIENT_CA="/nonexistent/ca.pem": cannot read the file (ENOENT)',
    ]);
    expect(problems({ ...tls, TLS_CLIENT_CA: leaf.keyFile })).toEqual([
      `TLS_CLIENT_CA="${leaf.keyFile}": the file holds no PEM certificate`,
    ]);
    expect(problems({ ...tls, TLS_CLIENT_CA: pki.caFile, TLS_CLIENT_CRL: pki.caFile })).toEqual([
      `TLS_CLIENT_CRL="${pki.caFile}": the file holds no PEM X509 CRL`,
    ]);
    const crl = pki.crl("config-crl.pem", []);
    expect(
      loadConfig({ ...tls, TLS_CLIENT_CA: pki.caFile, TLS_CLIENT_CRL: crl }).tls?.certificates
        .clientTrust?.crl?.[0],
    ).toMatch(/^-----BEGIN X509 CRL-----/);
  });
});

// What the TLS listener offers: protocol versions and cipher suites. The
// defaults are Mozilla's "intermediate" configuration (TLS 1.2 and 1.3,
// forward-secret AEAD suites only); TLS 1.3's suites are OpenSSL's own,
// all three of which that configuration lists.

import { constants } from "node:crypto";
import type { SecureContextOptions } from "node:tls";

export type TlsVersion = "TLSv1.2" | "TLSv1.3";

export interface TlsPolicy {
  minVersion: TlsVersion;
  /** OpenSSL cipher list for TLS 1.2; TLS 1.3 suites (TLS_*) in it replace OpenSSL's. */
  ciphers: string;
}

/**
 * Mozilla intermediate (v5.7), TLS 1.2 part. The DHE suites it also lists
 * are left out: they need DH parameters (Node offers none unless given), and
 * every client these serve speaks ECDHE.
 */
export const INTERMEDIATE_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

/** Mozilla intermediate's groups, in its order. */
const CURVES = "X25519:prime256v1:secp384r1";

/**
 * How long a session ticket may be used (Node's default, stated): a ticket
 * older than this gets a full handshake.
 */
export const SESSION_TIMEOUT_S = 300;

/** The options every secure context of the listener is built with. */
export function contextOptions(policy: TlsPolicy): SecureContextOptions {
  return {
    minVersion: policy.minVersion,
    maxVersion: "TLSv1.3",
    ciphers: policy.ciphers,
    ecdhCurve: CURVES,
    // The server's order: its strongest suite wins over a client's odd first choice.
    honorCipherOrder: true,
    sessionTimeout: SESSION_TIMEOUT_S,
    // A client may not renegotiate (TLS 1.2): it only makes the server work
    // (a DoS lever testssl flags); OpenSSL answers it with an alert.
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
  };
}

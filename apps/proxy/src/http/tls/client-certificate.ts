// Client certificates on the TLS port (mutual TLS): TLS_CLIENT_CA names the
// authorities whose certificates are accepted, TLS_CLIENT_VERIFY says whether
// a client must show one (HAProxy `verify required|optional` with `ca-file`,
// nginx `ssl_verify_client on|optional`). What the handshake showed is judged
// once per connection here and told to the servers in X-SSL-Client-* headers.
//
// A client whose certificate is missing (required) or not accepted gets a 400
// naming why on its first request, as nginx answers, rather than a handshake
// cut short: node:tls verifies after the handshake and has no alert to send,
// and a browser shows a page where it would show only a broken connection.

import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";

export type ClientVerify = "required" | "optional";

/** What a connection's handshake showed about its client. */
export interface ClientIdentity {
  /** As nginx's $ssl_client_verify says it: a certificate verified, or none shown. */
  verify: "SUCCESS" | "NONE";
  /** Subject and issuer as RFC 2253 distinguished names (CN=alice,O=Example). */
  subject?: string;
  issuer?: string;
  /** The certificate's SHA-256 fingerprint: 64 lowercase hex digits. */
  sha256?: string;
  serial?: string;
  /** Why requests on this connection are refused, when they are. */
  refused?: string;
}

/** The headers that carry a client's certificate to the servers, and what each says. */
export const CLIENT_CERTIFICATE_HEADERS: readonly (readonly [
  string,
  Exclude<keyof ClientIdentity, "refused">,
])[] = [
  ["x-ssl-client-verify", "verify"],
  ["x-ssl-client-s-dn", "subject"],
  ["x-ssl-client-i-dn", "issuer"],
  ["x-ssl-client-sha256", "sha256"],
  ["x-ssl-client-serial", "serial"],
];

/** Judges a connection's certificate once its handshake is done. */
export function identify(socket: TLSSocket, mode: ClientVerify): ClientIdentity {
  const certificate = socket.getPeerX509Certificate();
  if (certificate === undefined)
    return mode === "required"
      ? { verify: "NONE", refused: "no client certificate was sent (TLS_CLIENT_VERIFY=required)" }
      : { verify: "NONE" };
  // authorizationError: OpenSSL's verdict on the chain against TLS_CLIENT_CA
  // and TLS_CLIENT_CRL, a code such as CERT_REVOKED (typed as an Error, sent as a string).
  if (!socket.authorized)
    return {
      verify: "NONE",
      refused: `the client certificate was not accepted (${String(socket.authorizationError)})`,
    };
  return {
    verify: "SUCCESS",
    // An empty name (a SPIFFE workload certificate's subject, RFC 5280 4.1.2.6) is undefined in Node.
    subject: distinguishedName(certificate.subject ?? ""),
    issuer: distinguishedName(certificate.issuer ?? ""),
    sha256: certificate.fingerprint256.replaceAll(":", "").toLowerCase(),
    serial: certificate.serialNumber.toUpperCase(),
  };
}

const identities = new WeakMap<Socket, ClientIdentity>();

/** Remembers what the handshake of `socket` showed (tls-server.ts). */
export function rememberIdentity(socket: Socket, identity: ClientIdentity): void {
  identities.set(socket, identity);
}

/** What the handshake of a request's connection showed; undefined for the plain port. */
export function identityOf(socket: Socket): ClientIdentity | undefined {
  return identities.get(socket);
}

/**
 * Node writes a name one attribute a line, the least specific first, with
 * RFC 2253's escapes of , + " \ < > ; already in place, and the attributes
 * of a multi-valued RDN joined by " + ". RFC 2253 lists the RDNs the other
 * way, comma-separated, and joins an RDN's attributes by a bare "+" (a "+"
 * in a value is escaped, so an unescaped one is a separator). Bytes a header
 * value cannot carry (control characters, non-ASCII) are written as \XX
 * escapes of their UTF-8 bytes, as RFC 4514 allows.
 */
export function distinguishedName(lines: string): string {
  if (lines === "") return "";
  return lines
    .split("\n")
    .reverse()
    .join(",")
    .replace(/(?<!\\) \+ /g, "+")
    .replace(/[^\x20-\x7e]/gu, (char) =>
      [...Buffer.from(char, "utf8")]
        .map((byte) => `\\${byte.toString(16).toUpperCase().padStart(2, "0")}`)
        .join(""),
    );
}

// What the servers are told about a client's certificate (with
// TLS_CLIENT_CA): X-SSL-Client-* headers set from the connection's handshake
// (http/tls/client-certificate.ts). A client cannot tell them itself: the
// same headers sent by a client, on either port, are taken out first.

import type { ClientRequest } from "../http/downstream/request.js";
import { CLIENT_CERTIFICATE_HEADERS, identityOf } from "../http/tls/client-certificate.js";

/**
 * Sets the headers for `req`'s connection; returns why the request is
 * refused instead, when its connection's certificate was missing or not
 * accepted. A request on the plain port carries none of them.
 */
export function tellClientIdentity(req: ClientRequest): string | undefined {
  const identity = identityOf(req.socket);
  if (identity?.refused !== undefined) return identity.refused;
  const headers = req.headers;
  for (const [name, field] of CLIENT_CERTIFICATE_HEADERS) {
    const value = identity?.[field];
    if (value !== undefined) headers[name] = value;
    // Only a client's own copy is deleted: rare, and deleting slows the object down.
    else if (headers[name] !== undefined) delete headers[name];
  }
  return undefined;
}

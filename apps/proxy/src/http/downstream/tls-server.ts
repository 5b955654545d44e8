// The TLS port: a TCP listener whose connections (after a PROXY protocol
// header, with ACCEPT_PROXY) are wrapped in TLS here, then handed by their
// ALPN choice to HTTP/2 (h2-server.ts) or, for http/1.1, http/1.0 or no ALPN, to the
// same HTTP/1.1 reader as the plain port (server.ts adopt). Certificates
// are chosen by SNI (certificates.ts) and can be swapped at any time: new
// handshakes take the new ones, connections already secure keep theirs.
//
// The handshake itself is a node:tls server's, fed the connections
// ('connection') rather than listening, so its handshake timeout, SNI and
// ALPN apply as documented.
//
// Session tickets: Node gives each secure context one random ticket key,
// made when the context is, and never changes it. Here the key is
// replaced every TICKET_KEY_ROTATION_MS (ticket-keys.ts) and given again
// when the certificates change, so tickets survive a reload. Node's contexts
// hold one key: a ticket issued under the key before a rotation gets a
// full handshake instead, which touches only tickets issued in the
// SESSION_TIMEOUT_S (5 minutes) before it.

import { Server, type Socket } from "node:net";
import { createServer, type SecureContextOptions, type TLSSocket } from "node:tls";
import type { CertificateSet } from "../tls/certificates.js";
import { identify, rememberIdentity, type ClientVerify } from "../tls/client-certificate.js";
import { contextOptions, type TlsPolicy } from "../tls/policy.js";
import { createH2Server } from "./h2-server.js";
import { ownFields } from "./response-writer.js";
import type { ServerHandlers } from "./connection.js";
import { plainAddress } from "./request.js";
import { readProxyHeader } from "./proxy-protocol.js";
import type { HttpServer } from "./server.js";
import type { ClientGate } from "./client-gate.js";

export interface TlsServerOptions {
  /** A TLS handshake (and a PROXY header before it) must end within this; HTTP/2 idle limit too. */
  clientMs: number;
  acceptProxy: boolean;
  policy: TlsPolicy;
  certificates: CertificateSet;
  /** 48 bytes: the session ticket key (ticket-keys.ts). */
  ticketKeys: Buffer;
  /** The client connection limit, shared with the plain port. */
  gate: ClientGate;
  /** HTTP/2 streams open at once on one connection. */
  maxStreams: number;
  /** The Strict-Transport-Security value for every answer, if any. */
  hsts: string | undefined;
  /** Whether clients must show a certificate (with TLS_CLIENT_CA), or may. */
  clientVerify: ClientVerify | undefined;
}

export interface TlsServer {
  readonly server: Server;
  /** New handshakes use these from now on. */
  setCertificates(certificates: CertificateSet): void;
  setTicketKeys(keys: Buffer): void;
  /** Stops accepting, ends handshakes under way, closes HTTP/2 connections (GOAWAY), cuts them after `timeoutMs`. */
  close(timeoutMs: number): Promise<void>;
}

/**
 * The protocols the port speaks, in its order of preference: the first of
 * them a client offers is chosen, whatever the client's order (as HAProxy's
 * `alpn h2,http/1.1` and nginx choose). http/1.0 as nginx takes it: a
 * client offering only that is served HTTP/1.0, not refused. A client
 * offering none of them gets the no_application_protocol alert (RFC 7301).
 */
const ALPN = ["h2", "http/1.1", "http/1.0"];

export function createTlsServer(
  http: HttpServer,
  handlers: ServerHandlers,
  options: TlsServerOptions,
): TlsServer {
  const own = ownFields(
    options.hsts === undefined ? [] : ["strict-transport-security", options.hsts],
  );
  const h2 = createH2Server(handlers, {
    maxStreams: options.maxStreams,
    idleMs: options.clientMs,
    own,
  });
  let certificates = options.certificates;
  let ticketKeys = options.ticketKeys;
  const defaultContext = (): SecureContextOptions => ({
    ...contextOptions(options.policy),
    ...certificates.clientTrust,
    cert: certificates.fallback.cert,
    key: certificates.fallback.key,
    ticketKeys,
  });
  /** TCP connections not yet secure, by peer: cut when the server closes. */
  const handshaking = new Map<string, { socket: Socket; client: string | undefined }>();
  const peer = (socket: Socket) => `${socket.remoteAddress}|${socket.remotePort}`;

  // Not listening itself: connections are given to it (after their PROXY header).
  const tlsServer = createServer({
    ...defaultContext(),
    ALPNCallback: ({ protocols }) => ALPN.find((name) => protocols.includes(name)),
    SNICallback: (name, done) => done(null, certificates.contextFor(name)),
    handshakeTimeout: options.clientMs,
    allowHalfOpen: true,
    // The certificate is judged after the handshake (client-certificate.ts).
    requestCert: options.clientVerify !== undefined,
    rejectUnauthorized: false,
  });
  // OCSP stapling: a client asking for its certificate's status gets the response read from
  // `<cert file>.ocsp` (certificates.ts), while one holds; none otherwise.
  tlsServer.on(
    "OCSPRequest",
    (
      certificate: Buffer,
      _issuer: Buffer,
      done: (error: Error | null, response?: Buffer) => void,
    ) => done(null, certificates.ocspFor(certificate)),
  );
  // Plain HTTP, garbage, a handshake too slow: the connection is closed, nothing answered.
  tlsServer.on("tlsClientError", (_error, socket) => socket.destroy());
  tlsServer.on("secureConnection", (socket: TLSSocket) => {
    const key = peer(socket);
    const client = handshaking.get(key)?.client;
    handshaking.delete(key);
    // A TLS error after the handshake (a bad record, an alert) ends the connection.
    socket.on("error", () => socket.destroy());
    if (options.clientVerify !== undefined)
      rememberIdentity(socket, identify(socket, options.clientVerify));
    const address = client ?? plainAddress(socket.remoteAddress);
    // node reads the offered names without their high bit, and would choose
    // a look-alike of one of ours ("\xe82" for "h2"): such a client is not served.
    const chosen = socket.alpnProtocol;
    if (typeof chosen === "string" && !ALPN.includes(chosen)) return void socket.destroy();
    if (chosen === "h2") {
      // The sockets are half-open for HTTP/1.1 (connection.ts answers after
      // a client's end); HTTP/2 has no use for that, and node:http2 does not
      // close a session whose socket only ended.
      socket.once("end", () => socket.destroy());
      h2.accept(socket, address);
    } else http.adopt(socket, { remoteAddress: address, own });
  });

  const secure = (raw: Socket, client: string | undefined) => {
    const key = peer(raw);
    handshaking.set(key, { socket: raw, client });
    raw.once("close", () => handshaking.delete(key));
    tlsServer.emit("connection", raw);
  };

  const start = (raw: Socket) => {
    raw.on("error", () => raw.destroy());
    if (!options.acceptProxy) return secure(raw, undefined);
    raw.setTimeout(options.clientMs, () => raw.destroy());
    let bytes: Buffer = Buffer.alloc(0);
    const onData = (data: Buffer) => {
      bytes = bytes.length === 0 ? data : Buffer.concat([bytes, data]);
      const header = readProxyHeader(bytes);
      if (header.state === "partial") return;
      raw.removeListener("data", onData);
      // As HAProxy does: nothing to answer a peer that does not speak it.
      if (header.state === "invalid") return void raw.destroy();
      if (!options.gate.claim(raw, header.source ?? raw.remoteAddress)) return;
      raw.pause();
      raw.setTimeout(0);
      const rest = bytes.subarray(header.length);
      if (rest.length > 0) raw.unshift(rest);
      secure(raw, header.source);
    };
    raw.on("data", onData);
  };
  const server = new Server({ noDelay: true, allowHalfOpen: true }, (raw: Socket) =>
    options.gate.admit(raw, () => start(raw)),
  );

  return {
    server,
    setCertificates(next) {
      certificates = next;
      tlsServer.setSecureContext(defaultContext());
    },
    setTicketKeys(keys) {
      ticketKeys = keys;
      tlsServer.setTicketKeys(keys);
    },
    async close(timeoutMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const { socket } of handshaking.values()) socket.destroy();
      await Promise.all([closed, h2.close(timeoutMs)]);
    },
  };
}

// The TLS port: a TCP listener whose connections (after a PROXY protocol
// header, with ACCEPT_PROXY) are wrapped in TLS here, then handed by their
// ALPN choice to HTTP/2 (h2-server.ts) or, for http/1.1 or no ALPN, to the
// same HTTP/1.1 reader as the plain port (server.ts adopt). Certificates
// are chosen by SNI (certificates.ts) and can be swapped at any time: new
// handshakes take the new ones, connections already secure keep theirs.
//
// Session tickets: Node gives each secure context one random ticket key,
// made when the context is, and never changes it. Here the key is
// replaced every TICKET_KEY_ROTATION_MS (ticket-keys.ts) and reused when
// the certificates change, so tickets survive a reload. Node's contexts
// hold one key: a ticket issued under the key before a rotation gets a
// full handshake instead, which touches only tickets issued in the
// SESSION_TIMEOUT_S (5 minutes) before it.

import { Server, type Socket } from "node:net";
import { TLSSocket, createSecureContext, type SecureContext } from "node:tls";
import type { CertificateSet } from "../tls/certificates.js";
import { contextOptions, type TlsPolicy } from "../tls/policy.js";
import { createH2Server } from "./h2-server.js";
import { plainAddress, type ServerHandlers } from "./connection.js";
import { readProxyHeader } from "./proxy-protocol.js";
import type { HttpServer } from "./server.js";

export interface TlsServerOptions {
  /** A TLS handshake (and a PROXY header before it) must end within this; HTTP/2 idle limit too. */
  clientMs: number;
  acceptProxy: boolean;
  policy: TlsPolicy;
  certificates: CertificateSet;
  /** 48 bytes: the session ticket key (ticket-keys.ts). */
  ticketKeys: Buffer;
  /** HTTP/2 streams open at once on one connection. */
  maxStreams: number;
  /** The Strict-Transport-Security value for every answer, if any. */
  hsts: string | undefined;
}

export interface TlsServer {
  readonly server: Server;
  /** New handshakes use these from now on. */
  setCertificates(certificates: CertificateSet): void;
  setTicketKeys(keys: Buffer): void;
  /** Stops accepting, ends handshakes under way, closes HTTP/2 connections (GOAWAY), cuts them after `timeoutMs`. */
  close(timeoutMs: number): Promise<void>;
}

const ALPN = ["h2", "http/1.1"];

export function createTlsServer(
  http: HttpServer,
  handlers: ServerHandlers,
  options: TlsServerOptions,
): TlsServer {
  const h2 = createH2Server(handlers, {
    maxStreams: options.maxStreams,
    idleMs: options.clientMs,
    extraHeaders: options.hsts === undefined ? [] : ["strict-transport-security", options.hsts],
  });
  const extraHead =
    options.hsts === undefined ? "" : `strict-transport-security: ${options.hsts}\r\n`;
  let certificates = options.certificates;
  let ticketKeys = options.ticketKeys;
  const defaultContext = (): SecureContext =>
    createSecureContext({
      ...contextOptions(options.policy),
      cert: certificates.fallback.cert,
      key: certificates.fallback.key,
      ticketKeys,
    });
  let context = defaultContext();
  /** Connections whose handshake is not done: cut when the server closes. */
  const handshaking = new Set<Socket>();

  const SNICallback = (
    name: string,
    done: (error: Error | null, context?: SecureContext) => void,
  ) => done(null, certificates.contextFor(name));

  const secure = (raw: Socket, client: string | undefined) => {
    const socket = new TLSSocket(raw, {
      isServer: true,
      secureContext: context,
      ALPNProtocols: ALPN,
      SNICallback,
    });
    // Client-initiated renegotiation is only a way to make the server work.
    socket.disableRenegotiation();
    handshaking.add(socket);
    const cut = () => socket.destroy();
    socket.on("error", cut);
    socket.setTimeout(options.clientMs);
    socket.once("timeout", cut);
    socket.once("close", () => handshaking.delete(socket));
    socket.once("secure", () => {
      handshaking.delete(socket);
      socket.removeListener("error", cut);
      socket.removeListener("timeout", cut);
      socket.setTimeout(0);
      const address = client ?? plainAddress(socket.remoteAddress);
      if (socket.alpnProtocol === "h2") {
        socket.on("error", () => {}); // the session reports it
        h2.accept(socket, address);
      } else http.adopt(socket, { remoteAddress: address, extraHead });
    });
  };

  const server = new Server({ noDelay: true, allowHalfOpen: true }, (raw: Socket) => {
    raw.on("error", () => raw.destroy());
    if (!options.acceptProxy) return secure(raw, undefined);
    handshaking.add(raw);
    raw.once("close", () => handshaking.delete(raw));
    raw.setTimeout(options.clientMs, () => raw.destroy());
    let bytes: Buffer = Buffer.alloc(0);
    const onData = (data: Buffer) => {
      bytes = bytes.length === 0 ? data : Buffer.concat([bytes, data]);
      const header = readProxyHeader(bytes);
      if (header.state === "partial") return;
      raw.removeListener("data", onData);
      // As HAProxy does: nothing to answer a peer that does not speak it.
      if (header.state === "invalid") return void raw.destroy();
      raw.pause();
      raw.setTimeout(0);
      handshaking.delete(raw);
      const rest = bytes.subarray(header.length);
      if (rest.length > 0) raw.unshift(rest);
      secure(raw, header.source);
    };
    raw.on("data", onData);
  });

  return {
    server,
    setCertificates(next) {
      certificates = next;
      context = defaultContext();
    },
    setTicketKeys(keys) {
      ticketKeys = keys;
      context = defaultContext();
    },
    async close(timeoutMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of handshaking) socket.destroy();
      await Promise.all([closed, h2.close(timeoutMs)]);
    },
  };
}

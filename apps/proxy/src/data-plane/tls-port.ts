// The data plane's TLS port: its settings, the TLS server (http/downstream/
// tls-server.ts) handing requests to the data plane's handlers, and the
// reload of its certificates, judged and logged here.

import type { AddressInfo, Server } from "node:net";
import type { Logger } from "@stickyring/runtime";
import type { ServerHandlers } from "../http/downstream/connection.js";
import type { HttpServer } from "../http/downstream/server.js";
import type { ClientGate } from "../http/downstream/client-gate.js";
import { createTlsServer } from "../http/downstream/tls-server.js";
import {
  loadCertificates,
  type CertificateSet,
  type CertificateSources,
} from "../http/tls/certificates.js";
import type { TlsPolicy } from "../http/tls/policy.js";
import type { ClientVerify } from "../http/tls/client-certificate.js";
import { newTicketKeys } from "../http/tls/ticket-keys.js";

/** The TLS port: HTTPS and HTTP/2 (config.ts reads the certificates once to check them). */
export interface TlsSettings {
  port: number;
  sources: CertificateSources;
  policy: TlsPolicy;
  /** As read at start. */
  certificates: CertificateSet;
  /** HTTP/2 streams open at once per connection. */
  maxStreams: number;
  /** The Strict-Transport-Security value for answers on the TLS port. */
  hsts: string | undefined;
  /** With TLS_CLIENT_CA: whether a client certificate is required or optional. */
  clientVerify: ClientVerify | undefined;
}

/** What reading the certificate files again did. */
export type ReloadOutcome = "reloaded" | "unchanged" | "refused";

export interface TlsPort {
  readonly server: Server;
  /** The port it listens on (the configured one until it listens). */
  port(): number;
  /** Reads the certificate files again; new handshakes use them if they are whole. */
  reloadCertificates(cause: string): ReloadOutcome;
  setTicketKeys(keys: Buffer): void;
  close(timeoutMs: number): Promise<void>;
}

export function createTlsPort(options: {
  settings: TlsSettings;
  http: HttpServer;
  handlers: ServerHandlers;
  clientMs: number;
  acceptProxy: boolean;
  gate: ClientGate;
  logger: Logger;
}): TlsPort {
  const { settings, logger } = options;
  let certificates = settings.certificates;
  /** One per stapled response: says when it goes out of date (its refresh job has stopped). */
  let expiries: NodeJS.Timeout[] = [];
  const tellNotes = (set: CertificateSet) => {
    for (const note of set.notes) logger.warn({ note }, `certificates: ${note}`);
    for (const timer of expiries) clearTimeout(timer);
    expiries = [];
    for (const { file, nextUpdate } of set.stapled) {
      const ms = nextUpdate === undefined ? Infinity : nextUpdate.getTime() - Date.now();
      // Timers reach 24 days: a response valid longer is judged again at its next reload.
      if (ms > 2 ** 31 - 1) continue;
      const timer = setTimeout(
        () =>
          logger.warn(
            { file, nextUpdate },
            `certificates: ${file}: out of date (nextUpdate ${nextUpdate!.toISOString()} has passed); no longer stapled`,
          ),
        Math.max(0, ms),
      );
      expiries.push(timer.unref());
    }
  };
  tellNotes(certificates);
  /** The latest reload's refusal, while the files stay broken. */
  let lastRefusal: string | undefined;
  const tls = createTlsServer(options.http, options.handlers, {
    clientMs: options.clientMs,
    acceptProxy: options.acceptProxy,
    gate: options.gate,
    policy: settings.policy,
    certificates,
    ticketKeys: newTicketKeys(),
    maxStreams: settings.maxStreams,
    hsts: settings.hsts,
    clientVerify: settings.clientVerify,
  });
  return {
    server: tls.server,
    port: () => (tls.server.address() as AddressInfo | null)?.port ?? settings.port,
    reloadCertificates(cause) {
      const loaded = loadCertificates(settings.sources, settings.policy);
      if ("problem" in loaded) {
        const { setting, file, reason } = loaded.problem;
        const message = `certificates not reloaded: ${setting}=${file}: ${reason}; the ones in use stay`;
        // The same refusal again after a file change (the broken file written
        // once more) is not news; a SIGHUP or a request is always answered.
        if (cause === "file change" && message === lastRefusal)
          logger.debug({ setting, file, cause }, message);
        else logger.error({ setting, file, cause }, message);
        lastRefusal = message;
        return "refused";
      }
      lastRefusal = undefined;
      if (loaded.set.fingerprint === certificates.fingerprint) {
        // An operator's SIGHUP is answered; a file touched without change is not worth a line.
        if (cause === "SIGHUP") logger.info({ cause }, "certificates read again: unchanged");
        return "unchanged";
      }
      certificates = loaded.set;
      tls.setCertificates(loaded.set);
      tellNotes(loaded.set);
      logger.info({ cause, default: loaded.set.fallback.file }, "certificates reloaded");
      return "reloaded";
    },
    setTicketKeys: (keys) => tls.setTicketKeys(keys),
    close(timeoutMs) {
      for (const timer of expiries) clearTimeout(timer);
      return tls.close(timeoutMs);
    },
  };
}

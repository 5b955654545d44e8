// The listener's certificates: a default one (TLS_CERT and TLS_KEY, or the
// first of the folder) and, with a folder (TLS_CERTS, as HAProxy's
// `crt <dir>`), one per server name, chosen by the ClientHello's SNI. Each
// is read, checked against its key and built into a secure context here,
// so a broken file is refused as a whole, naming the file, and the set
// already in use stays. A certificate's OCSP response, `<file>.ocsp` beside
// it (DER, HAProxy's convention), is stapled to handshakes that ask for one
// while it holds (ocsp.ts); one that does not hold is noted, not stapled.

import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { createSecureContext, type SecureContext } from "node:tls";
import { checkOcspResponse, sizeProblem } from "./ocsp.js";
import { contextOptions, type TlsPolicy } from "./policy.js";

/** Where the certificates come from (the settings that name them). */
export interface CertificateSources {
  /** TLS_CERT: a PEM file with the certificate (and its chain, and its key unless `key` is given). */
  cert: string | undefined;
  /** TLS_KEY: the key's PEM file, when it is not in `cert`. */
  key: string | undefined;
  /** TLS_CERTS: a folder of certificate files, each with its key inside or beside it. */
  dir: string | undefined;
  /** TLS_CLIENT_CA: the authorities client certificates are checked against (PEM). */
  clientCa?: string | undefined;
  /** TLS_CLIENT_CRL: certificates they have revoked (PEM CRLs). */
  clientCrl?: string | undefined;
}

/** What client certificates are checked against, in every secure context. */
export interface ClientTrust {
  ca: string;
  /** One CRL a string: OpenSSL reads only the first of a string holding several. */
  crl: string[] | undefined;
  /**
   * OpenSSL resumes a session whose client was verified only under the
   * context it began in; without a name for it, resumption fails.
   */
  sessionIdContext: string;
}

/** One certificate (its chain) and its key, as PEM text. */
export interface KeyPair {
  cert: string;
  key: string;
  /** The file the certificate came from. */
  file: string;
  /** The DNS names it is valid for (subjectAltName, else the subject's CN), lowercase. */
  names: string[];
  /** The certificate, DER, as a handshake's OCSP request names it. */
  raw: Buffer;
  /** Its OCSP response to staple, from `<file>.ocsp`, when one is there and holds. */
  ocsp: Stapled | undefined;
}

/** An OCSP response, the file it came from, and when it goes out of date. */
export interface Stapled {
  file: string;
  response: Buffer;
  nextUpdate: Date | undefined;
}

export interface CertificateSet {
  /** For a ClientHello without SNI or with a name no certificate holds. */
  readonly fallback: KeyPair;
  /** The context for a server name, or undefined for the default one. */
  contextFor(name: string): SecureContext | undefined;
  /** Changes when any file's content changes. */
  readonly fingerprint: string;
  /** With TLS_CLIENT_CA. */
  readonly clientTrust: ClientTrust | undefined;
  /** The OCSP response to staple for a certificate (DER), while it is not out of date. */
  ocspFor(certificate: Buffer): Buffer | undefined;
  /** What was read but not used, for the log (an OCSP file that does not hold). */
  readonly notes: readonly string[];
  /** The OCSP responses being stapled. */
  readonly stapled: readonly Stapled[];
}

/** What was wrong, naming the setting and the file. */
export interface CertificateProblem {
  setting: "TLS_CERT" | "TLS_KEY" | "TLS_CERTS" | "TLS_CLIENT_CA" | "TLS_CLIENT_CRL";
  file: string;
  reason: string;
}

export type LoadedCertificates = { set: CertificateSet } | { problem: CertificateProblem };

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;
const CRL_BLOCK = /-----BEGIN X509 CRL-----[^-]+-----END X509 CRL-----/g;
const KEY_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[^-]+-----END \1-----/;
/** Files in a folder that are not certificates (HAProxy's companions of a certificate, and keys). */
const NOT_CERTIFICATES = /\.(key|ocsp|issuer|sctl|csr|srl)$|^\./;

/** Reads and checks every certificate the sources name. */
export function loadCertificates(
  sources: CertificateSources,
  policy: TlsPolicy,
): LoadedCertificates {
  const fingerprint = createHash("sha256");
  const pairs: KeyPair[] = [];
  const notes: string[] = [];
  let clientTrust: ClientTrust | undefined;
  try {
    clientTrust = readClientTrust(sources, fingerprint);
    if (sources.cert !== undefined) {
      pairs.push(readPair("TLS_CERT", sources.cert, sources.key, fingerprint, notes));
    }
    if (sources.dir !== undefined) {
      for (const file of certificateFiles(sources.dir))
        pairs.push(readPair("TLS_CERTS", file, undefined, fingerprint, notes));
      if (pairs.length === 0)
        throw new Problem("TLS_CERTS", sources.dir, "the folder holds no certificate file");
    }
  } catch (error) {
    if (error instanceof Problem) return { problem: error.problem };
    throw error;
  }
  // The first file to claim a name serves it, the default certificate first.
  const exact = new Map<string, SecureContext>();
  const wildcard = new Map<string, SecureContext>();
  const options = contextOptions(policy);
  for (const pair of pairs) {
    let context: SecureContext | undefined;
    for (const name of pair.names) {
      const table = name.startsWith("*.") ? wildcard : exact;
      const key = name.startsWith("*.") ? name.slice(2) : name;
      if (table.has(key)) continue;
      context ??= createSecureContext({
        ...options,
        ...clientTrust,
        cert: pair.cert,
        key: pair.key,
      });
      table.set(key, context);
    }
  }
  const stapled = new Map<string, Stapled>();
  for (const pair of pairs) if (pair.ocsp) stapled.set(derKey(pair.raw), pair.ocsp);
  return {
    set: {
      fallback: pairs[0]!,
      fingerprint: fingerprint.digest("hex"),
      clientTrust,
      notes,
      stapled: [...stapled.values()],
      ocspFor(certificate) {
        if (stapled.size === 0) return undefined;
        const found = stapled.get(derKey(certificate));
        // Out of date since it was read: clients would refuse it.
        if (found === undefined || (found.nextUpdate && found.nextUpdate <= new Date()))
          return undefined;
        return found.response;
      },
      contextFor(name) {
        const lower = name.toLowerCase();
        const found = exact.get(lower);
        if (found !== undefined) return found;
        const dot = lower.indexOf(".");
        return dot < 0 ? undefined : wildcard.get(lower.slice(dot + 1));
      },
    },
  };
}

class Problem extends Error {
  constructor(
    setting: CertificateProblem["setting"],
    file: string,
    reason: string,
    readonly problem: CertificateProblem = { setting, file, reason },
  ) {
    super(`${setting}=${file}: ${reason}`);
  }
}

/** TLS_CLIENT_CA and TLS_CLIENT_CRL, read and checked; undefined without a CA. */
function readClientTrust(
  sources: CertificateSources,
  fingerprint: ReturnType<typeof createHash>,
): ClientTrust | undefined {
  if (sources.clientCa === undefined) return undefined;
  const caFile = sources.clientCa;
  const ca = readPem("TLS_CLIENT_CA", caFile);
  fingerprint.update(ca);
  const authorities = ca.match(CERT_BLOCK);
  if (authorities === null)
    throw new Problem("TLS_CLIENT_CA", caFile, "the file holds no PEM certificate");
  for (const [index, block] of authorities.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new Problem(
        "TLS_CLIENT_CA",
        caFile,
        `certificate ${index + 1} is not valid (${(error as Error).message})`,
      );
    }
  }
  let crl: string[] | undefined;
  if (sources.clientCrl !== undefined) {
    const text = readPem("TLS_CLIENT_CRL", sources.clientCrl);
    fingerprint.update(text);
    const lists = text.match(CRL_BLOCK);
    if (lists === null)
      throw new Problem("TLS_CLIENT_CRL", sources.clientCrl, "the file holds no PEM X509 CRL");
    crl = lists;
    try {
      createSecureContext({ ca, crl });
    } catch (error) {
      throw new Problem(
        "TLS_CLIENT_CRL",
        sources.clientCrl,
        `OpenSSL refuses it (${(error as Error).message})`,
      );
    }
  }
  try {
    createSecureContext({ ca });
  } catch (error) {
    throw new Problem("TLS_CLIENT_CA", caFile, `OpenSSL refuses it (${(error as Error).message})`);
  }
  return { ca: authorities.join("\n"), crl, sessionIdContext: "stickyring" };
}

/** The certificate files of a folder, in name order (symbolic links followed; dot files skipped). */
function certificateFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new Problem("TLS_CERTS", dir, `cannot read the folder (${errorCode(error)})`);
  }
  return names
    .filter((name) => !NOT_CERTIFICATES.test(name))
    .sort()
    .map((name) => join(dir, name))
    .filter((file) => {
      try {
        return statSync(file).isFile();
      } catch {
        return false;
      }
    });
}

function readPem(setting: CertificateProblem["setting"], file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new Problem(setting, file, `cannot read the file (${errorCode(error)})`);
  }
}

/**
 * A certificate file and its key: in the same file, in `keyFile`, or (in a
 * folder) beside it as `<file>.key` or `<name without extension>.key`, the
 * names HAProxy and Kubernetes TLS secrets (tls.crt, tls.key) use.
 */
function readPair(
  setting: "TLS_CERT" | "TLS_CERTS",
  file: string,
  keyFile: string | undefined,
  fingerprint: ReturnType<typeof createHash>,
  notes: string[],
): KeyPair {
  const text = readPem(setting, file);
  fingerprint.update(text);
  const chain = text.match(CERT_BLOCK);
  if (chain === null) throw new Problem(setting, file, "the file holds no PEM certificate");
  let keyText: string | undefined;
  let keySetting: CertificateProblem["setting"] = setting;
  let keyPath = file;
  if (keyFile !== undefined) {
    keySetting = "TLS_KEY";
    keyPath = keyFile;
    keyText = readPem("TLS_KEY", keyFile);
  } else if (KEY_BLOCK.test(text)) keyText = text;
  else if (setting === "TLS_CERTS") {
    const beside = [
      `${file}.key`,
      join(file, "..", `${basename(file).replace(/\.[^.]*$/, "")}.key`),
    ];
    keyPath = beside.find((path) => statSync(path, { throwIfNoEntry: false })?.isFile()) ?? file;
    if (keyPath !== file) keyText = readPem(setting, keyPath);
  }
  if (keyText === undefined) {
    const where =
      setting === "TLS_CERT"
        ? "and TLS_KEY is not set"
        : `and no ${basename(file)}.key or ${basename(file).replace(/\.[^.]*$/, "")}.key beside it`;
    throw new Problem(setting, file, `the file holds no private key ${where}`);
  }
  fingerprint.update(keyText);
  const keyBlock = KEY_BLOCK.exec(keyText);
  if (keyBlock === null)
    throw new Problem(keySetting, keyPath, "the file holds no PEM private key");
  if (keyBlock[1] === "ENCRYPTED PRIVATE KEY")
    throw new Problem(
      keySetting,
      keyPath,
      "the private key is encrypted (a key without a passphrase is expected)",
    );

  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(chain[0]!);
  } catch (error) {
    throw new Problem(setting, file, `not a valid certificate (${(error as Error).message})`);
  }
  let key;
  try {
    key = createPrivateKey(keyBlock[0]);
  } catch (error) {
    throw new Problem(keySetting, keyPath, `not a valid private key (${(error as Error).message})`);
  }
  if (!certificate.checkPrivateKey(key))
    throw new Problem(
      keySetting,
      keyPath,
      `the private key does not match the certificate in ${file}`,
    );
  const pair = {
    cert: chain.join("\n"),
    key: keyBlock[0],
    file,
    names: dnsNames(certificate),
    raw: certificate.raw,
    ocsp: readOcsp(`${file}.ocsp`, certificate, fingerprint, notes),
  };
  try {
    createSecureContext({ cert: pair.cert, key: pair.key });
  } catch (error) {
    throw new Problem(setting, file, `OpenSSL refuses it (${(error as Error).message})`);
  }
  return pair;
}

/** `file` (an OCSP response, DER) when it is there and holds for `certificate`; else a note says why not. */
function readOcsp(
  file: string,
  certificate: X509Certificate,
  fingerprint: ReturnType<typeof createHash>,
  notes: string[],
): Stapled | undefined {
  let response: Buffer;
  try {
    // A pipe or a device would block the process or never end: regular files only.
    const stat = statSync(file, { throwIfNoEntry: false });
    if (stat === undefined) return undefined;
    if (!stat.isFile()) {
      notes.push(`${file}: not a regular file; not stapled`);
      return undefined;
    }
    // Not read at all when too large (a file of any size may sit there).
    const tooLarge = sizeProblem(stat.size);
    if (tooLarge !== undefined) {
      notes.push(`${file}: ${tooLarge}; not stapled`);
      return undefined;
    }
    response = readFileSync(file);
  } catch (error) {
    if (errorCode(error) !== "ENOENT")
      notes.push(`${file}: cannot read the file (${errorCode(error)}); not stapled`);
    return undefined;
  }
  fingerprint.update(response);
  const verdict = checkOcspResponse(response, certificate, new Date());
  if ("problem" in verdict) {
    notes.push(`${file}: ${verdict.problem}; not stapled`);
    return undefined;
  }
  return { file, response, nextUpdate: verdict.nextUpdate };
}

/** A certificate's identity as a map key. */
const derKey = (der: Buffer) => createHash("sha256").update(der).digest("hex");

/** subjectAltName's DNS names, else the subject's common name. */
function dnsNames(certificate: X509Certificate): string[] {
  const alt = certificate.subjectAltName;
  if (alt !== undefined) {
    const names = alt
      .split(",")
      .map((entry) => entry.trim())
      .filter((entry) => entry.startsWith("DNS:"))
      .map((entry) => entry.slice(4).toLowerCase());
    if (names.length > 0) return names;
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(certificate.subject)?.[1];
  return cn === undefined ? [] : [cn.toLowerCase()];
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

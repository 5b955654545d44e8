// An OCSP response file (DER, RFC 6960 4.2.1), read far enough to know
// whether it may be stapled to a certificate's handshakes: the responder
// answered "successful", the response is about that certificate (its
// serial number and its issuer's name, as its certID hashes it), its
// status is good, its nextUpdate has not passed, and it fits a handshake.
// Its signature is the client's to check, as for an answer from the CA's
// own responder: a stapled response is only ever the CA's words passed on.
// Pure: bytes in, a verdict out.

import { createHash } from "node:crypto";

/** One DER element: where it begins, its tag, and where its content lies in the buffer. */
interface Element {
  at: number;
  tag: number;
  start: number;
  end: number;
}

/**
 * The largest response stapled: TLS 1.2 carries it in one handshake
 * message of a record (16 KiB with its headers); larger ones broke every
 * handshake that asked for status. Real ones are a few KB.
 */
export const MAX_STAPLED = 16_000;

const SEQUENCE = 0x30;
const ENUMERATED = 0x0a;
const OCTET_STRING = 0x04;
const INTEGER = 0x02;
const GENERALIZED_TIME = 0x18;
/** [0] EXPLICIT (responseBytes, version, nextUpdate) */
const CONTEXT_0 = 0xa0;
/** CertStatus: good [0] IMPLICIT NULL, revoked [1] (constructed), unknown [2] IMPLICIT NULL. */
const GOOD = 0x80;
const REVOKED = 0xa1;
const OBJECT_IDENTIFIER = 0x06;
/** The certID hash algorithms (their identifiers' content bytes), as node:crypto names them. */
const HASHES = new Map([
  ["2b0e03021a", "sha1"],
  ["608648016503040201", "sha256"],
  ["608648016503040202", "sha384"],
  ["608648016503040203", "sha512"],
]);
/** id-pkix-ocsp-basic, 1.3.6.1.5.5.7.48.1.1, the identifier's content bytes. */
const BASIC_RESPONSE = Buffer.from("2b0601050507300101", "hex");
/** OCSPResponseStatus values (RFC 6960 4.2.1). */
const STATUS_NAMES = [
  "successful",
  "malformedRequest",
  "internalError",
  "tryLater",
  "(4)",
  "sigRequired",
  "unauthorized",
];

export type OcspVerdict = { nextUpdate: Date | undefined } | { problem: string };

/** The certificate a response is checked against. */
export interface StapledCertificate {
  /** Its DER (X509Certificate.raw). */
  raw: Buffer;
  /** Its serial number, hex, as node:crypto reports it. */
  serialNumber: string;
}

/** Whether `der` may be stapled for `certificate` at `now`. */
export function checkOcspResponse(
  der: Buffer,
  certificate: StapledCertificate,
  now: Date,
): OcspVerdict {
  const tooLarge = sizeProblem(der.length);
  if (tooLarge !== undefined) return { problem: tooLarge };
  let issuer: Buffer;
  try {
    issuer = issuerName(certificate.raw);
  } catch (error) {
    return { problem: `cannot read the certificate's issuer (${(error as Error).message})` };
  }
  try {
    return judge(der, certificate.serialNumber, issuer, now);
  } catch (error) {
    return { problem: `not a DER OCSP response (${(error as Error).message})` };
  }
}

/** Why a response of `size` bytes cannot be stapled, if it cannot (checked before reading a file too). */
export function sizeProblem(size: number): string | undefined {
  return size > MAX_STAPLED
    ? `too large to staple (${size} bytes; a TLS 1.2 handshake carries up to ${MAX_STAPLED})`
    : undefined;
}

/** The issuer's Name, DER, from a certificate's DER (RFC 5280 4.1). */
function issuerName(certificate: Buffer): Buffer {
  const tbs = children(certificate, element(certificate, 0, certificate.length, SEQUENCE))[0];
  if (tbs?.tag !== SEQUENCE) throw new Error("no tbsCertificate");
  const fields = children(certificate, tbs);
  // version [0] (optional), serialNumber, signature, issuer
  const issuer = fields[fields[0]?.tag === CONTEXT_0 ? 3 : 2];
  if (issuer?.tag !== SEQUENCE) throw new Error("no issuer");
  return certificate.subarray(issuer.at, issuer.end);
}

/** Whether a certID (RFC 6960 4.1.1) names the certificate of this serial and issuer name. */
function sameCertificate(der: Buffer, certId: Element, serial: string, issuer: Buffer): boolean {
  const [algorithm, nameHash, , number] = children(der, certId);
  if (number?.tag !== INTEGER || nameHash?.tag !== OCTET_STRING || algorithm?.tag !== SEQUENCE)
    throw new Error("a certID too short");
  if (normalSerial(der.subarray(number.start, number.end).toString("hex")) !== serial) return false;
  const oid = children(der, algorithm)[0];
  const hash = oid && HASHES.get(der.toString("hex", oid.start, oid.end));
  if (hash === undefined) return false;
  return createHash(hash)
    .update(issuer)
    .digest()
    .equals(der.subarray(nameHash.start, nameHash.end));
}

function judge(der: Buffer, serial: string, issuer: Buffer, now: Date): OcspVerdict {
  const root = element(der, 0, der.length, SEQUENCE);
  if (root.end !== der.length) throw new Error("bytes after the response");
  const [status, bytes] = children(der, root);
  if (status?.tag !== ENUMERATED || status.end - status.start !== 1)
    throw new Error("no response status");
  const code = der[status.start]!;
  if (code !== 0)
    return {
      problem: `the responder answered ${STATUS_NAMES[code] ?? `(${code})`}, not successful`,
    };
  if (bytes === undefined || bytes.tag !== CONTEXT_0) throw new Error("no responseBytes");
  const [type, octets] = children(der, expectOne(der, bytes, SEQUENCE));
  if (type?.tag !== OBJECT_IDENTIFIER || !der.subarray(type.start, type.end).equals(BASIC_RESPONSE))
    return { problem: "not a basic OCSP response" };
  if (octets === undefined || octets.tag !== OCTET_STRING) throw new Error("no response octets");
  const basic = element(der, octets.start, octets.end, SEQUENCE);
  const [data] = children(der, basic);
  if (data === undefined || data.tag !== SEQUENCE) throw new Error("no tbsResponseData");
  // version [0] (optional), responderID, producedAt, responses, extensions [1] (optional)
  const fields = children(der, data);
  const responses = fields.find((field, i) => i > 0 && field.tag === SEQUENCE);
  if (responses === undefined) throw new Error("no responses");
  const wanted = normalSerial(serial);
  for (const single of children(der, responses)) {
    const [certId, certStatus, , next] = children(der, single);
    if (certId?.tag !== SEQUENCE || certStatus === undefined)
      throw new Error("a response too short");
    if (!sameCertificate(der, certId, wanted, issuer)) continue;
    if (certStatus.tag === REVOKED) return { problem: "the certificate is revoked" };
    if (certStatus.tag !== GOOD) return { problem: "the responder does not know the certificate" };
    const nextUpdate =
      next?.tag === CONTEXT_0 ? time(der, expectOne(der, next, GENERALIZED_TIME)) : undefined;
    if (nextUpdate !== undefined && nextUpdate <= now)
      return { problem: `out of date (nextUpdate ${nextUpdate.toISOString()} has passed)` };
    return { nextUpdate };
  }
  return {
    problem: `it is about another certificate (none with serial ${serial} from its issuer)`,
  };
}

/** The element at `at` (its tag checked), within [at, limit). */
function element(der: Buffer, at: number, limit: number, tag?: number): Element {
  if (at + 2 > limit) throw new Error("truncated");
  const found = der[at]!;
  if (tag !== undefined && found !== tag) throw new Error(`tag ${found} where ${tag} was expected`);
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 3 || start + count > limit) throw new Error("a bad length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i]!;
    start += count;
  }
  if (start + length > limit) throw new Error("truncated");
  return { at, tag: found, start, end: start + length };
}

function children(der: Buffer, parent: Element): Element[] {
  const found: Element[] = [];
  for (let at = parent.start; at < parent.end;) {
    const child = element(der, at, parent.end);
    found.push(child);
    at = child.end;
  }
  return found;
}

/** The one element an explicit tag wraps, of the tag expected. */
function expectOne(der: Buffer, wrapper: Element, tag: number): Element {
  return element(der, wrapper.start, wrapper.end, tag);
}

/** A GeneralizedTime (YYYYMMDDHHMMSS[.fff]Z) as a Date. */
function time(der: Buffer, of: Element): Date {
  const text = der.toString("latin1", of.start, of.end);
  const parts = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(text);
  if (parts === null) throw new Error(`a time OCSP does not use (${text})`);
  const [, y, mo, d, h, mi, s] = parts.map(Number);
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
}

/** A serial number in hex, lower case, without leading zeros. */
function normalSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, "");
}

// The PROXY protocol (versions 1 and 2, as HAProxy specifies it): a balancer
// in front that passes connections on at layer 4 (HAProxy's `send-proxy`,
// cloud network load balancers) starts each one with a header naming the
// client, so hashing on the source still sees the client and not that
// balancer. Pure: bytes in, a verdict out.

import { formatAddress, parseAddress } from "@stickyring/hashing";

export type ProxyHeader =
  /** The bytes so far are a header's beginning: read more. */
  | { state: "partial" }
  | { state: "invalid"; reason: string }
  /**
   * The header is `length` bytes. `source` is the client's address, or
   * undefined when the connection's own peer stands (v2 LOCAL, v1 UNKNOWN, a
   * family other than IPv4 and IPv6): a balancer's health checks send these.
   */
  | { state: "complete"; length: number; source: string | undefined };

/** The v1 line, CRLF included, is at most this long. */
const V1_MAX = 107;
const V1_PREFIX = Buffer.from("PROXY ", "latin1");
const V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const V2_FIXED = 16;
/** v2 address families (high nibble of byte 13) and the bytes of their source address. */
const V2_INET = 1;
const V2_INET6 = 2;

const PARTIAL: ProxyHeader = { state: "partial" };

const invalid = (reason: string): ProxyHeader => ({ state: "invalid", reason });

/** Reads the header at the start of `data`, the first bytes of a connection. */
export function readProxyHeader(data: Buffer): ProxyHeader {
  if (startsLike(data, V2_SIGNATURE)) return readV2(data);
  if (startsLike(data, V1_PREFIX)) return readV1(data);
  return invalid("not a PROXY protocol header");
}

/** `data` and `prefix` agree on the bytes both have. */
function startsLike(data: Buffer, prefix: Buffer): boolean {
  const n = Math.min(data.length, prefix.length);
  return data.compare(prefix, 0, n, 0, n) === 0;
}

function readV1(data: Buffer): ProxyHeader {
  const end = data.indexOf("\r\n", 0, "latin1");
  if (end === -1 || end + 2 > V1_MAX)
    return end === -1 && data.length < V1_MAX ? PARTIAL : invalid("v1 header over 107 bytes");
  const fields = data.toString("latin1", 0, end).split(" ");
  const length = end + 2;
  if (fields[1] === "UNKNOWN") return { state: "complete", length, source: undefined };
  const [, family, source, destination, sourcePort, destinationPort] = fields;
  if (fields.length !== 6 || (family !== "TCP4" && family !== "TCP6"))
    return invalid("v1 header is not PROXY TCP4|TCP6 <src> <dst> <sport> <dport>");
  const v6 = family === "TCP6";
  if (!isAddress(source!, v6) || !isAddress(destination!, v6))
    return invalid(`v1 header has an address that is not ${family}`);
  if (!isPort(sourcePort!) || !isPort(destinationPort!))
    return invalid("v1 header has a port outside 0-65535");
  return { state: "complete", length, source: formatAddress(parseAddress(source!)!) };
}

function isAddress(text: string, v6: boolean): boolean {
  // The family is in the text (no brackets, no spaces: the line was split on them).
  if (text.includes(":") !== v6 || text.includes("[")) return false;
  return parseAddress(text) !== undefined;
}

function isPort(text: string): boolean {
  return /^(0|[1-9]\d{0,4})$/.test(text) && Number(text) <= 65535;
}

function readV2(data: Buffer): ProxyHeader {
  if (data.length < V2_FIXED) return PARTIAL;
  const versionAndCommand = data[12]!;
  if (versionAndCommand >> 4 !== 2) return invalid("v2 header with a version other than 2");
  const command = versionAndCommand & 0x0f;
  if (command > 1) return invalid("v2 header with a command other than LOCAL or PROXY");
  const length = V2_FIXED + data.readUInt16BE(14);
  if (data.length < length) return PARTIAL;
  // LOCAL: the balancer's own connection (a health check): its peer is the client.
  if (command === 0) return { state: "complete", length, source: undefined };
  const family = data[13]! >> 4;
  const size = family === V2_INET ? 4 : family === V2_INET6 ? 16 : 0;
  // Families it cannot carry (unspecified, UNIX sockets): the connection's own peer.
  if (size === 0) return { state: "complete", length, source: undefined };
  // Source, destination, then two ports.
  if (length < V2_FIXED + 2 * size + 4)
    return invalid("v2 address block shorter than its family's");
  const source = formatAddress(data.subarray(V2_FIXED, V2_FIXED + size));
  return { state: "complete", length, source };
}

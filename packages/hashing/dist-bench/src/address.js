// IP address parsing and canonical text, without `node:net` so the library
// runs anywhere (browsers included: the dashboard uses it).
function parseIPv4(text) {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i];
    // Leading zeros are refused: inet_aton reads them as octal, other parsers
    // as decimal, and a key must not mean two addresses.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    bytes[i] = value;
  }
  return bytes;
}
function parseGroups(text, into) {
  if (text === "") return true;
  for (const group of text.split(":")) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return false;
    into.push(parseInt(group, 16));
  }
  return true;
}
function parseIPv6(text) {
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  let tail;
  const lastColon = text.lastIndexOf(":");
  if (lastColon < 0) return undefined;
  if (text.indexOf(".", lastColon) >= 0) {
    tail = parseIPv4(text.slice(lastColon + 1));
    if (!tail) return undefined;
    text = text.slice(0, lastColon + 1) + "0:0";
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = [];
  const rest = [];
  if (!parseGroups(halves[0], head)) return undefined;
  if (halves.length === 2 && !parseGroups(halves[1], rest)) return undefined;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...rest];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  if (tail) bytes.set(tail, 12);
  return bytes;
}
/**
 * Parses an IPv4 or IPv6 address (brackets and an IPv6 zone are accepted).
 * An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`) yields the 4-byte IPv4
 * address: it is the same client. Returns undefined for anything else.
 */
export function parseAddress(text) {
  if (typeof text !== "string" || text.length > 64) return undefined;
  let t = text.trim();
  if (t.startsWith("[") && t.endsWith("]")) t = t.slice(1, -1);
  if (t.includes(":")) {
    const v6 = parseIPv6(t);
    if (!v6) return undefined;
    const mapped = v6.subarray(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
    return mapped ? v6.slice(12) : v6;
  }
  return parseIPv4(t);
}
/** Canonical text: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run as `::`). */
export function formatAddress(bytes) {
  if (bytes.length === 4) return bytes.join(".");
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  let bestStart = -1;
  let bestLength = 1; // RFC 5952: a single zero group is not compressed
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  const left = hex.slice(0, bestStart).join(":");
  const right = hex.slice(bestStart + bestLength).join(":");
  return `${left}::${right}`;
}
/** True for `a.b.c.d` with each part 0..255 written without leading zeros. */
function isCanonicalIPv4(text) {
  let parts = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e /* . */) {
      if (digits === 0 || value > 255) return false;
      parts++;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return false; // leading zero
      value = value * 10 + (c - 0x30);
      if (++digits > 3) return false;
    } else {
      return false;
    }
  }
  return parts === 4;
}
/**
 * The hash key of a client address: its canonical text, so that every
 * spelling of one address (`::ffff:10.1.2.3`, `10.1.2.3`, `[2001:DB8::1]`,
 * `2001:db8:0:0:0:0:0:1`) lands on the same server.
 * Throws a TypeError for text that is not an IP address.
 */
export function sourceKey(address) {
  // Fast paths for what sockets report most: a canonical dotted quad is its
  // own key, and a dual-stack socket's `::ffff:a.b.c.d` is that quad.
  if (isCanonicalIPv4(address)) return address;
  if (address.startsWith("::ffff:")) {
    const quad = address.slice(7);
    if (isCanonicalIPv4(quad)) return quad;
  }
  const bytes = parseAddress(address);
  if (!bytes)
    throw new TypeError(`sourceKey: not an IPv4 or IPv6 address: ${JSON.stringify(address)}`);
  return formatAddress(bytes);
}

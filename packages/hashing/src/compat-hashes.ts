// The hash functions of HAProxy 2.6 and nginx 1.22, as their manuals and
// behaviour define them, for the compatible placements.

import { parseAddress } from "./address.js";
import { utf8 } from "./hash.js";

/**
 * HAProxy's avalanche hash (`full_hash`): Bob Jenkins' 6-step integer hash,
 * then a multiplication by 3221225473 mod 2^32, which spreads values over
 * the whole ring.
 */
export function haproxyAvalanche(value: number): number {
  let a = value >>> 0;
  a = (a + 0x7ed55d16 + (a << 12)) >>> 0;
  a = (a ^ 0xc761c23c ^ (a >>> 19)) >>> 0;
  a = (a + 0x165667b1 + (a << 5)) >>> 0;
  a = ((a + 0xd3a2646c) ^ (a << 9)) >>> 0;
  a = (a + 0xfd7046c5 + (a << 3)) >>> 0;
  a = (a ^ 0xb55a4f09 ^ (a >>> 16)) >>> 0;
  return Math.imul(a, 3221225473) >>> 0;
}

/** HAProxy's default string hash (`sdbm`) over the UTF-8 bytes of `text`. */
export function haproxySdbm(text: string): number {
  let hash = 0;
  for (const byte of utf8.encode(text)) {
    hash = (byte + (hash << 6) + (hash << 16) - hash) >>> 0;
  }
  return hash;
}

/**
 * `balance source` with `hash-type consistent`: an IPv4 address as one
 * big-endian 32-bit word (IPv6: the XOR of its four words), avalanched.
 * Returns undefined for text that is not an address.
 */
export function haproxySourceHash(address: string): number | undefined {
  const bytes = parseAddress(address);
  if (!bytes) return undefined;
  let word = 0;
  for (let i = 0; i < bytes.length; i += 4) {
    word ^=
      ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
  }
  return haproxyAvalanche(word >>> 0);
}

/** `balance uri` / `hdr()` with `hash-type consistent`: sdbm, avalanched. */
export function haproxyStringHash(text: string): number {
  return haproxyAvalanche(haproxySdbm(text));
}

/** The default key hash of algorithm "haproxy": addresses as `balance source`, anything else as a string. */
export function haproxyKeyHash(key: string): number {
  return haproxySourceHash(key) ?? haproxyStringHash(key);
}

// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as nginx's ngx_crc32.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** Continues a CRC-32 over `bytes` from the un-finalised `state` (start: 0xffffffff). */
export function crc32Update(state: number, bytes: Uint8Array): number {
  let crc = state >>> 0;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8)) >>> 0;
  return crc;
}

/** The finished CRC-32 of the UTF-8 bytes of `text`: nginx's key hash for `hash ... consistent`. */
export function crc32(text: string): number {
  return (crc32Update(0xffffffff, utf8.encode(text)) ^ 0xffffffff) >>> 0;
}

// 32-bit MurmurHash3 (x86_32) over the UTF-8 bytes of a string.
//
// Why MurmurHash3: it is well studied, avalanches fully, is specified
// byte-for-byte (so a Go or Rust client can compute the same placement), and
// in V8 it costs a few nanoseconds for an address-sized key. Hashing the
// UTF-8 encoding rather than UTF-16 code units keeps it portable.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Final avalanche of MurmurHash3: a bijection on 32-bit words. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function mixBlock(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function mixTail(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  return h ^ k;
}

/** One encoder for every hash of this package. */
export const utf8 = new TextEncoder();

/** MurmurHash3_x86_32 of the UTF-8 encoding of `text`, as an unsigned 32-bit integer. */
export function hashString(text: string, seed = 0): number {
  const n = text.length;
  let h = seed | 0;
  let i = 0;
  // ASCII keys (addresses, paths) are hashed straight from the string, four
  // characters a block, with no allocation: this is the request path.
  for (; i + 4 <= n; i += 4) {
    const a = text.charCodeAt(i);
    const b = text.charCodeAt(i + 1);
    const c = text.charCodeAt(i + 2);
    const d = text.charCodeAt(i + 3);
    if ((a | b | c | d) >= 0x80) return hashBytesFrom(h, i, utf8.encode(text.slice(i)));
    h = mixBlock(h, a | (b << 8) | (c << 16) | (d << 24));
  }
  const blockEnd = i;
  let tail = 0;
  for (let shift = 0; i < n; i++, shift += 8) {
    const a = text.charCodeAt(i);
    if (a >= 0x80) return hashBytesFrom(h, blockEnd, utf8.encode(text.slice(blockEnd)));
    tail |= a << shift;
  }
  if (n % 4 !== 0) h = mixTail(h, tail);
  return fmix32(h ^ n);
}

/** Continues a hash whose first `done` bytes (a multiple of 4) are mixed into `h`. */
function hashBytesFrom(h: number, done: number, bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    h = mixBlock(
      h,
      bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24),
    );
  }
  let tail = 0;
  for (let shift = 0; i < n; i++, shift += 8) tail |= bytes[i]! << shift;
  if (n % 4 !== 0) h = mixTail(h, tail);
  return fmix32(h ^ (done + n));
}

/**
 * Hash of two 32-bit words (MurmurHash3 of their 8 little-endian bytes).
 * Used for the n-th virtual node of a server: `hashWords(hash(id), n)`, so
 * building a table never concatenates strings.
 */
export function hashWords(a: number, b: number, seed = 0): number {
  let h = mixBlock(seed | 0, a | 0);
  h = mixBlock(h, b | 0);
  return fmix32(h ^ 8);
}

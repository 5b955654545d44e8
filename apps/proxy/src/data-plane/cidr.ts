// CIDR lists for TRUSTED_PROXIES.

import { parseAddress, type AddressBytes } from "@stickyring/hashing";

interface Block {
  bytes: AddressBytes;
  prefix: number;
}

export type AddressMatcher = (address: AddressBytes) => boolean;

/** Parses one `addr[/prefix]`; undefined when malformed. */
function parseBlock(text: string): Block | undefined {
  const [addr, prefixText, extra] = text.trim().split("/");
  if (extra !== undefined || !addr) return undefined;
  const bytes = parseAddress(addr);
  if (!bytes) return undefined;
  // An IPv4-mapped block (::ffff:10.0.0.0/104) is an IPv4 block: parseAddress
  // already unmapped the address, so shift the prefix to match.
  const mapped = addr.includes(":") && bytes.length === 4;
  const max = bytes.length * 8;
  let prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  if (mapped) prefix -= 96;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
  return { bytes, prefix };
}

function contains(block: Block, address: AddressBytes): boolean {
  if (block.bytes.length !== address.length) return false;
  const full = block.prefix >> 3;
  for (let i = 0; i < full; i++) if (block.bytes[i] !== address[i]) return false;
  const rest = block.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (block.bytes[full]! & mask) === (address[full]! & mask);
}

/**
 * Parses a comma-separated CIDR list. Returns the matcher, or the first entry
 * that is not a CIDR block.
 */
export function parseCidrList(
  text: string,
): { matcher: AddressMatcher | undefined } | { invalid: string } {
  const blocks: Block[] = [];
  for (const entry of text
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "")) {
    const block = parseBlock(entry);
    if (!block) return { invalid: entry };
    blocks.push(block);
  }
  // No list: nobody is trusted, and callers can skip the check entirely.
  if (blocks.length === 0) return { matcher: undefined };
  return { matcher: (address) => blocks.some((b) => contains(b, address)) };
}

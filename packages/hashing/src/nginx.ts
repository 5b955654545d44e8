// nginx 1.22 `hash <key> consistent` placement (ketama-compatible, as
// Cache::Memcached::Fast).
//
// A server's text as written (`127.0.0.1:19001`) splits at the last ':'
// before the port digits. Its base is the CRC-32 of host, one NUL byte and
// port, left un-finalised; it owns weight x 160 points, point j being that
// CRC continued over the previous point's hash as 4 little-endian bytes (0
// for the first), then finalised. Points are sorted and duplicates dropped.
// A key (its CRC-32) goes to the first point at or after it, wrapping.

import { crc32Update } from "./compat-hashes.js";
import { utf8 } from "./hash.js";
import { packPoint, pointTable, SortedPoints } from "./points.js";
import { pointCount, type Server } from "./servers.js";
import type { Table } from "./table.js";

const POINTS_PER_WEIGHT = 160;

function baseState(address: string): number {
  const match = /^(.*):(\d*)$/.exec(address);
  const [host, port] = match ? [match[1]!, match[2]!] : [address, ""];
  let state = crc32Update(0xffffffff, utf8.encode(host));
  state = crc32Update(state, new Uint8Array([0]));
  return crc32Update(state, utf8.encode(port));
}

export function buildNginx(servers: readonly Server[]): Table {
  const packed: number[] = [];
  const previous = new Uint8Array(4);
  const view = new DataView(previous.buffer);
  servers.forEach((server, index) => {
    const base = baseState(server.address);
    view.setUint32(0, 0, true);
    const count = pointCount(server.weight, POINTS_PER_WEIGHT);
    for (let j = 0; j < count; j++) {
      const hash = (crc32Update(base, previous) ^ 0xffffffff) >>> 0;
      packed.push(packPoint(hash, index));
      view.setUint32(0, hash, true);
    }
  });
  return pointTable(servers, new SortedPoints(Float64Array.from(packed), true));
}

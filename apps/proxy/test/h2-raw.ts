// An HTTP/2 client that writes frames byte by byte, for what node:http2's
// own client refuses to send: malformed requests and abuse (rapid reset,
// CONTINUATION floods). Header blocks use HPACK literals without indexing
// or Huffman coding (RFC 7541 6.2.2), which every decoder must take.

import { connect, type TLSSocket } from "node:tls";

export const FRAME = {
  DATA: 0x0,
  HEADERS: 0x1,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

export function frame(
  type: number,
  flags: number,
  stream: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with an n-bit prefix (RFC 7541 5.1). */
function integer(value: number, prefixBits: number, first = 0): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const bytes = [first | max];
  value -= max;
  while (value >= 128) {
    bytes.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  bytes.push(value);
  return bytes;
}

/** A header block of literal fields, in order, names as given. */
export function headerBlock(fields: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    parts.push(Buffer.from([0x00, ...integer(name.length, 7)]), Buffer.from(name, "latin1"));
    parts.push(Buffer.from(integer(value.length, 7)), Buffer.from(value, "latin1"));
  }
  return Buffer.concat(parts);
}

export function request(
  path: string,
  extra: [string, string][] = [],
  method = "GET",
): [string, string][] {
  return [
    [":method", method],
    [":scheme", "https"],
    [":authority", "localhost"],
    [":path", path],
    ...extra,
  ];
}

export interface RawH2 {
  socket: TLSSocket;
  frames: Frame[];
  send(...frames: Buffer[]): void;
  /** Resolves once a frame matching `test` has come (or rejects after `timeoutMs`). */
  until(test: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  closed: Promise<void>;
}

/** Opens a TLS connection choosing h2 and sends the preface and an empty SETTINGS; SETTINGS are acknowledged. */
export function rawH2(port: number, options: { ca: string; from?: string }): Promise<RawH2> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: "127.0.0.1",
      port,
      ca: options.ca,
      servername: "localhost",
      // net.connect's option, passed on by tls.connect (its type leaves it out).
      ...({ localAddress: options.from } as object),
      ALPNProtocols: ["h2"],
    });
    const frames: Frame[] = [];
    const waiters = new Set<() => void>();
    let buffer = Buffer.alloc(0);
    socket.on("data", (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      while (buffer.length >= 9) {
        const length = buffer.readUIntBE(0, 3);
        if (buffer.length < 9 + length) break;
        const parsed = {
          type: buffer[3]!,
          flags: buffer[4]!,
          stream: buffer.readUInt32BE(5) & 0x7fffffff,
          payload: buffer.subarray(9, 9 + length),
        };
        buffer = buffer.subarray(9 + length);
        frames.push(parsed);
        if (parsed.type === FRAME.SETTINGS && !(parsed.flags & FLAG.ACK) && !socket.destroyed)
          socket.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
      }
      for (const wake of waiters) wake();
    });
    socket.on("error", () => {});
    const closed = new Promise<void>((r) =>
      socket.once("close", () => {
        for (const wake of waiters) wake();
        r();
      }),
    );
    socket.once("secureConnect", () => {
      if (socket.alpnProtocol !== "h2")
        return reject(new Error(`ALPN chose ${socket.alpnProtocol}`));
      socket.write(
        Buffer.concat([
          Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
          frame(FRAME.SETTINGS, 0, 0),
        ]),
      );
      resolve({
        socket,
        frames,
        closed,
        send: (...list) => {
          if (!socket.destroyed) socket.write(Buffer.concat(list));
        },
        until(test, timeoutMs = 5000) {
          return new Promise((done, fail) => {
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(
                new Error(
                  `no such frame within ${timeoutMs} ms; got types ${frames.map((f) => f.type).join(",")}`,
                ),
              );
            }, timeoutMs);
            const check = () => {
              const found = frames.find(test);
              if (found === undefined && !socket.destroyed) return;
              clearTimeout(timer);
              waiters.delete(check);
              if (found) done(found);
              else
                fail(
                  new Error(`connection closed; got types ${frames.map((f) => f.type).join(",")}`),
                );
            };
            waiters.add(check);
            check();
          });
        },
      });
    });
    socket.once("error", reject);
  });
}

/** The error code of a RST_STREAM or GOAWAY frame. */
export function errorCode(f: Frame): number {
  return f.type === FRAME.GOAWAY ? f.payload.readUInt32BE(4) : f.payload.readUInt32BE(0);
}

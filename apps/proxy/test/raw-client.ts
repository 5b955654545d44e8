// A client on a raw socket, for tests that need the exact bytes both ways:
// what is written, in which pieces, and everything the proxy answers.

import { connect, type Socket } from "node:net";

export interface Conversation {
  socket: Socket;
  /** Everything received so far, as Latin-1 text (one character per byte). */
  text(): string;
  /** Resolves when the proxy has closed the connection. */
  closed: Promise<void>;
  /** Resolves once `pattern` matches what was received. */
  until(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves when more arrives or the connection closes, or after `timeoutMs`. */
  more(timeoutMs?: number): Promise<void>;
}

/**
 * A raw connection to `port` on 127.0.0.1 (from `from`, when given) that
 * writes `pieces` in order, `pauseMs` apart.
 */
export function converse(
  port: number,
  pieces: string | Buffer | (string | Buffer)[],
  options: { from?: string; pauseMs?: number } = {},
): Promise<Conversation> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1", localAddress: options.from, noDelay: true });
    let received = "";
    const waiters: (() => void)[] = [];
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      received += d;
      for (const wake of waiters.splice(0)) wake();
    });
    socket.on("error", reject);
    const closed = new Promise<void>((r) =>
      socket.on("close", () => {
        for (const wake of waiters.splice(0)) wake();
        r();
      }),
    );
    socket.on("connect", async () => {
      resolve({
        socket,
        text: () => received,
        closed,
        more(timeoutMs = 3000) {
          return new Promise((done) => {
            if (socket.destroyed) return done();
            const timer = setTimeout(done, timeoutMs);
            waiters.push(() => {
              clearTimeout(timer);
              done();
            });
          });
        },
        until(pattern, timeoutMs = 3000) {
          const deadline = Date.now() + timeoutMs;
          return new Promise((done, fail) => {
            const check = () => {
              if (pattern.test(received)) done(received);
              else if (Date.now() > deadline || socket.destroyed)
                fail(new Error(`no ${pattern} in ${JSON.stringify(received)}`));
              else {
                waiters.push(check);
                setTimeout(check, 50);
              }
            };
            check();
          });
        },
      });
      const list = Array.isArray(pieces) ? pieces : [pieces];
      for (const [i, piece] of list.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, options.pauseMs ?? 10));
        if (!socket.destroyed) socket.write(piece);
      }
    });
  });
}

/** Writes `pieces` and resolves with everything the proxy wrote back, once it has closed. */
export async function exchange(port: number, pieces: (string | Buffer)[]): Promise<string> {
  const talk = await converse(port, pieces);
  await talk.closed;
  return talk.text();
}

// Clients that each send from their own loopback address: every address in
// 127.0.0.0/8 is local on Linux, so thousands of distinct clients need no setup.

import { Agent, request } from "node:http";

/** The i-th client address, 127.<a>.<b>.<c>, skipping 127.0.0.x. */
export function clientAddress(i: number): string {
  const n = i + 256;
  return `127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

export interface Answer {
  status: number;
  backend: string;
}

/** One GET from `localAddress`; network errors come back as status 0. */
export function getFrom(url: URL, localAddress: string, agent: Agent): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { localAddress, agent, headers: { "user-agent": "stickyring-demo" } },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            backend: String(res.headers["x-backend"] ?? "-"),
          }),
        );
      },
    );
    req.setTimeout(10_000, () => req.destroy());
    req.on("error", () => resolve({ status: 0, backend: "-" }));
    req.end();
  });
}

/** Runs `task` for 0..count-1 with at most `limit` in flight. */
export async function forEachLimit(
  count: number,
  limit: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

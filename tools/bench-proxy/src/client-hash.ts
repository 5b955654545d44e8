// The tutorial baseline's and the bare servers' way to stick a client to a
// backend: a string hash of its address, modulo the number of backends (as
// people write it, not stickyring's ring).

export function pickByAddress<T>(address: string | undefined, targets: readonly T[]): T {
  const text = address ?? "";
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
  return targets[h % targets.length]!;
}

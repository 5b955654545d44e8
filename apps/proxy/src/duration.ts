// Durations written as HAProxy writes them: "500ms", "2s", "1m", "1h", or a
// bare number of milliseconds.

const UNITS: Record<string, number> = {
  us: 0.001,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * UNITS[match[2] ?? "ms"]!;
}

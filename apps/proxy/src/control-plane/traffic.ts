// Requests per second per server over the last minutes, for the dashboard's
// sparklines. Sampled from the cumulative counters once a second, so the
// request path does no extra work for it.

export class TrafficHistory {
  private readonly series = new Map<string, number[]>();
  private last = new Map<string, number>();
  private lastAt: number | undefined;

  /** Keeps `length` samples per server (300 at one a second: five minutes). */
  constructor(private readonly length = 300) {}

  /** Records one interval from each server's cumulative request count at time `at` (ms). */
  sample(counts: Iterable<readonly [string, number]>, at: number): void {
    const current = new Map(counts);
    const seconds = this.lastAt === undefined ? 0 : (at - this.lastAt) / 1000;
    if (seconds > 0) {
      for (const [id, count] of current) {
        const previous = this.last.get(id);
        // A server added since the last sample starts from its first count.
        const rate = previous === undefined ? 0 : Math.max(0, count - previous) / seconds;
        let values = this.series.get(id);
        if (!values) this.series.set(id, (values = []));
        values.push(Math.round(rate * 10) / 10);
        if (values.length > this.length) values.shift();
      }
    }
    for (const id of this.series.keys()) if (!current.has(id)) this.series.delete(id);
    this.last = current;
    this.lastAt = at;
  }

  /** Requests/s per server, oldest first, one value per sample. */
  rates(): Record<string, readonly number[]> {
    return Object.fromEntries(this.series);
  }
}

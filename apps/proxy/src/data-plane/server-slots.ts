// HAProxy's server `maxconn` and `timeout queue`: at most `maxconn` requests
// in flight to a server; the others wait in that server's queue, first come
// first served, and are answered 503 after the queue timeout. A queued
// request stays with its server (stickiness is the point of the proxy): it
// moves only when the server leaves the placement, as a failed one does.
//
// Pure bookkeeping and timers: the forwarder says what a grant, an expiry
// or an orphaned request means.

/** A request waiting for a slot. Exactly one of the three is called, once. */
export interface Waiter {
  /** A slot is the request's now. */
  granted(waitedMs: number): void;
  /** It waited the queue timeout. */
  expired(waitedMs: number): void;
  /** Its server left the placement while it waited (the caller decides where it goes). */
  orphaned(waitedMs: number): void;
  /** Its server takes no new clients now (drained): true when the request is still its to serve (a cookie named it). */
  stays(): boolean;
}

interface Entry {
  readonly waiter: Waiter;
  readonly since: number;
  timer: NodeJS.Timeout | undefined;
}

class ServerQueue {
  /** Requests in flight holding a slot. */
  busy = 0;
  /** The most `busy` has been (ServerSlots.peaks), so take() compares one field. */
  peak = 0;
  /** FIFO: entries before `head` are gone (granted, expired, cancelled: set to undefined). */
  private entries: (Entry | undefined)[] = [];
  private head = 0;
  length = 0;

  push(entry: Entry): void {
    this.entries.push(entry);
    this.length++;
  }

  shift(): Entry | undefined {
    while (this.head < this.entries.length) {
      const entry = this.entries[this.head];
      this.entries[this.head++] = undefined;
      if (entry !== undefined) {
        this.length--;
        this.compact();
        return entry;
      }
    }
    return undefined;
  }

  /** The entries waiting, first first. */
  list(): Entry[] {
    return this.entries.slice(this.head).filter((e): e is Entry => e !== undefined);
  }

  find(waiter: Waiter): Entry | undefined {
    for (let i = this.head; i < this.entries.length; i++)
      if (this.entries[i]?.waiter === waiter) return this.entries[i];
    return undefined;
  }

  remove(entry: Entry): boolean {
    const at = this.entries.indexOf(entry, this.head);
    if (at < 0) return false;
    this.entries[at] = undefined;
    this.length--;
    this.compact();
    return true;
  }

  /** Drops the spent front once it is most of the array (amortised O(1) per entry). */
  private compact(): void {
    if (this.length === 0) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

export interface SlotCounts {
  busy: number;
  queued: number;
  /** 0: no limit. */
  limit: number;
}

export class ServerSlots {
  private readonly servers = new Map<string, ServerQueue>();
  /**
   * The most requests each server held slots for at once (HAProxy's
   * `smax`), since it joined the placement: a queue's state goes when it is
   * empty, its peak stays while the server does.
   */
  private readonly peaks = new Map<string, number>();

  constructor(
    /** The server's maxconn now (0: no limit). */
    private readonly limitOf: (server: string) => number,
    private readonly queueMs: number,
  ) {}

  private state(server: string): ServerQueue {
    let state = this.servers.get(server);
    if (state === undefined) {
      this.servers.set(server, (state = new ServerQueue()));
      state.peak = this.peaks.get(server) ?? 0;
    }
    return state;
  }

  private raisePeak(server: string, state: ServerQueue): void {
    state.peak = state.busy;
    this.peaks.set(server, state.busy);
  }

  /**
   * Takes a slot on `server` when one is free and nobody waits for it (a
   * free slot goes to the head of the queue first): false otherwise, and
   * the caller waits(). Apart, so a request that gets a slot at once (most
   * of them) allocates no waiter.
   */
  take(server: string): boolean {
    const state = this.state(server);
    const limit = this.limitOf(server);
    if (state.length > 0 || (limit !== 0 && state.busy >= limit)) return false;
    if (++state.busy > state.peak) this.raisePeak(server, state);
    return true;
  }

  /** Queues `waiter` for a slot on `server`, after take() found none. */
  wait(server: string, waiter: Waiter): void {
    const state = this.state(server);
    const entry: Entry = { waiter, since: performance.now(), timer: undefined };
    entry.timer = setTimeout(() => {
      if (state.remove(entry)) waiter.expired(performance.now() - entry.since);
    }, this.queueMs);
    state.push(entry);
  }

  /** The request on `server` finished: its slot goes to the next waiting one. */
  release(server: string): void {
    const state = this.servers.get(server);
    if (state === undefined) return;
    state.busy--;
    this.grant(server, state);
  }

  /** A waiting request's client left: it leaves the queue (no waiter call). */
  cancel(server: string, waiter: Waiter): void {
    const state = this.servers.get(server);
    if (state === undefined) return;
    // Cancels are rare (a client gives up); a scan of one queue is fine.
    const entry = state.find(waiter);
    if (entry !== undefined && state.remove(entry)) clearTimeout(entry.timer);
  }

  /**
   * The placement changed: waiters of servers no longer in it are orphaned,
   * so are those of a server that takes no new clients (drained, weight 0)
   * but the ones a cookie sent there (HAProxy moves a drained server's
   * queue but its persistent requests), and a server whose limit went up
   * lets more through.
   */
  placementChanged(
    inPlacement: (server: string) => boolean,
    takesNew: (server: string) => boolean,
  ): void {
    for (const [server, state] of this.servers) {
      if (!inPlacement(server)) {
        for (let entry = state.shift(); entry; entry = state.shift()) {
          clearTimeout(entry.timer);
          entry.waiter.orphaned(performance.now() - entry.since);
        }
      } else {
        if (!takesNew(server))
          for (const entry of state.list())
            if (!entry.waiter.stays() && state.remove(entry)) {
              clearTimeout(entry.timer);
              entry.waiter.orphaned(performance.now() - entry.since);
            }
        this.grant(server, state);
      }
      if (state.busy === 0 && state.length === 0) this.servers.delete(server);
    }
    for (const server of this.peaks.keys())
      if (!inPlacement(server) && !this.servers.has(server)) this.peaks.delete(server);
  }

  /** The most requests `server` held slots for at once since it joined the placement. */
  peak(server: string): number {
    return this.peaks.get(server) ?? 0;
  }

  private grant(server: string, state: ServerQueue): void {
    const limit = this.limitOf(server);
    while (state.length > 0 && (limit === 0 || state.busy < limit)) {
      const entry = state.shift()!;
      clearTimeout(entry.timer);
      if (++state.busy > state.peak) this.raisePeak(server, state);
      entry.waiter.granted(performance.now() - entry.since);
    }
  }

  counts(): Map<string, SlotCounts> {
    const counts = new Map<string, SlotCounts>();
    for (const [server, state] of this.servers)
      counts.set(server, { busy: state.busy, queued: state.length, limit: this.limitOf(server) });
    return counts;
  }

  queued(server: string): number {
    return this.servers.get(server)?.length ?? 0;
  }
}

// Membership: which servers exist, their weight, the operator's state
// (HAProxy's ready / drain / maint) and their health. The only mutable
// server state in the proxy; every change calls `onChange`, which rebuilds
// the placement off the request path.

import type { AdminState, MemberState } from "../data-plane/placement.js";
import type { ServerSpec } from "./servers.js";
import { FULL, STEP_MS, rampAt, type Ramp } from "./slow-start.js";

export type { AdminState };

export interface CheckResult {
  ok: boolean;
  at: number;
  detail: string;
}

const HISTORY = 30;

export interface Member extends MemberState {
  /** The DNS group that found it; undefined for a server listed by address or added by the admin API. */
  readonly source: string | undefined;
  /** The operator set its weight: a weight from DNS (SRV) no longer replaces it. */
  weightFromAdmin: boolean;
  /** Consecutive successful / failed checks, for rise and fall. */
  okStreak: number;
  failStreak: number;
  /** Latest checks, newest last. */
  history: CheckResult[];
  /** Requests answered. */
  requests: number;
  /** When its slow start began (the membership's clock); undefined when it is not warming up. */
  warmSince: number | undefined;
  /** How far into a second of the wall clock its slow start began (ms): HAProxy counts seconds on it. */
  warmPhase: number;
  /**
   * When its next step is due (the membership's clock): a second after the
   * change, then every second. Like HAProxy's warm-up task, the schedule
   * outlives a slow start cut short (down, maintenance) until it comes due,
   * so one started again before then steps on the old schedule.
   */
  stepDue: number | undefined;
}

/** Appends to the check history, keeping the latest HISTORY results. */
function remember(member: Member, ok: boolean, detail: string): void {
  member.history.push({ ok, at: Date.now(), detail });
  if (member.history.length > HISTORY) member.history.shift();
}

export class MembershipError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409,
  ) {
    super(message);
  }
}

export interface MembershipOptions {
  rise: number;
  fall: number;
  /**
   * Called after every change, with what changed; `step`: a slow start's
   * routine step (logged quietly), rather than an event.
   */
  onChange: (reason: string, step?: boolean) => void;
  /** SLOWSTART: how long a server takes to reach its full weight (0: at once). */
  slowStartMs?: number;
  /** The clock slow starts are timed by (ms); default performance.now (monotonic: a clock set back does not stretch a ramp). */
  now?: () => number;
  /** The wall clock (ms; default Date.now): only where in its second a slow start begins is read from it. */
  wallNow?: () => number;
  /** A new server's maxconn (config MAXCONN): by its id, or by the DNS group that found it. */
  maxconnOf?: (id: string, source: string | undefined) => number;
}

export class Membership {
  private readonly members = new Map<string, Member>();
  /** Requests in flight per server id: the admin API shows them, bounded-load hashing reads them. */
  readonly inFlight = new Map<string, number>();
  private lastNumericId = 0;
  /** Servers that join from now on warm up (those of the start do not: nothing ran before). */
  private live = false;

  constructor(
    backends: readonly ServerSpec[],
    private readonly options: MembershipOptions,
  ) {
    for (const b of backends) this.members.set(b.id, this.create(b));
  }

  private create(b: ServerSpec, source?: string): Member {
    // Servers start up, as in HAProxy: the proxy serves at once, and a dead
    // server is ejected by its first refused connection or by `fall` checks.
    // So do servers a DNS group finds, as in Envoy's STRICT_DNS clusters.
    return {
      id: b.id,
      url: b.url,
      source,
      weightFromAdmin: false,
      numericId: ++this.lastNumericId,
      weight: b.weight,
      admin: "ready",
      up: true,
      maxconn: this.options.maxconnOf?.(b.id, source) ?? 0,
      okStreak: 0,
      failStreak: 0,
      history: [],
      requests: 0,
      ramp: 1,
      rampConns: 100,
      warmSince: undefined,
      warmPhase: 0,
      stepDue: undefined,
    };
  }

  private now(): number {
    return this.options.now?.() ?? performance.now();
  }

  /** From now on, servers that join (admin API, DNS) warm up: called once the proxy serves. */
  goLive(): void {
    this.live = true;
  }

  /** Starts (or starts again) `member`'s slow start, when there is one: its first level applies with the change that started it. */
  private warm(member: Member): void {
    const duration = this.options.slowStartMs ?? 0;
    if (duration <= 0) return;
    const now = this.now();
    member.warmSince = now;
    member.warmPhase = (this.options.wallNow?.() ?? Date.now()) % 1000;
    member.stepDue ??= now + STEP_MS;
    const ramp = rampAt(0, duration, member.warmPhase);
    member.ramp = ramp.weight;
    member.rampConns = ramp.conns;
  }

  /** Ends `member`'s slow start, over or cut short (its step schedule runs out by itself). */
  private cool(member: Member): void {
    member.ramp = FULL.weight;
    member.rampConns = FULL.conns;
    member.warmSince = undefined;
  }

  /** Where `member`'s slow start is now, by the seconds turned since its change. */
  private rampNow(member: Member, now = this.now()): Ramp {
    return rampAt(now - member.warmSince!, this.options.slowStartMs ?? 0, member.warmPhase);
  }

  /**
   * Moves every warming server on where it is due: its weight at its step
   * (HAProxy's warm-up task), its maxconn when the wall clock's second turns
   * (HAProxy works that limit out from the current second at each
   * connection). One rebuild for all that changed.
   */
  stepRamps(): void {
    const now = this.now();
    const steps: string[] = [];
    let over = false;
    for (const member of this.members.values()) {
      let changed = false;
      if (member.warmSince !== undefined) {
        // The percent moves only when a second turns: read it whenever this runs.
        const { conns } = this.rampNow(member, now);
        // Without a maxconn the percent changes nothing: no rebuild for it.
        if (conns !== member.rampConns) changed = member.maxconn > 0;
        member.rampConns = conns;
      }
      if (member.stepDue !== undefined && now >= member.stepDue) {
        if (member.warmSince === undefined) {
          member.stepDue = undefined;
          continue;
        }
        while (member.stepDue <= now) member.stepDue += STEP_MS;
        const ramp = this.rampNow(member, now);
        if (ramp === FULL) {
          this.cool(member);
          member.stepDue = undefined;
          over = true;
          steps.push(`${member.id} at full weight (slow start over)`);
          continue;
        }
        if (ramp.weight !== member.ramp) changed = true;
        member.ramp = ramp.weight;
      }
      if (changed) steps.push(`${member.id} at ${this.describeRamp(member)}`);
    }
    if (steps.length > 0) this.options.onChange(`slow start: ${steps.join(", ")}`, !over);
  }

  private describeRamp(member: Member): string {
    const weight = `${Math.round(member.ramp * 100)}%`;
    // A percent: with WORKERS each worker applies it to its own share.
    return member.maxconn === 0 ? weight : `${weight}, maxconn at ${member.rampConns}%`;
  }

  /**
   * Milliseconds until a server's next step or second's turn is due (0: one
   * is overdue, as when it fell between stepRamps and this call); undefined
   * when nothing is scheduled.
   */
  nextStepIn(): number | undefined {
    const now = this.now();
    let soonest: number | undefined;
    for (const member of this.members.values()) {
      const waits: number[] = [];
      if (member.stepDue !== undefined) waits.push(Math.max(0, member.stepDue - now));
      // The wall clock's next second turn since its change: its maxconn moves then.
      if (member.warmSince !== undefined)
        waits.push(1000 - ((now - member.warmSince + member.warmPhase) % 1000));
      for (const wait of waits) if (soonest === undefined || wait < soonest) soonest = wait;
    }
    return soonest;
  }

  /** A detached copy for "what if" questions: changing it rebuilds nothing here. */
  copy(): Membership {
    const copy = new Membership([], { ...this.options, onChange: () => {} });
    for (const m of this.members.values()) copy.members.set(m.id, { ...m });
    copy.lastNumericId = this.lastNumericId;
    return copy;
  }

  list(): readonly Member[] {
    return [...this.members.values()];
  }

  /** Counts requests the server finished; a server removed meanwhile is skipped. */
  countServed(id: string, count = 1): void {
    const member = this.members.get(id);
    if (member) member.requests += count;
  }

  get(id: string): Member | undefined {
    return this.members.get(id);
  }

  private require(id: string): Member {
    const member = this.members.get(id);
    if (!member) throw new MembershipError(`no server "${id}"`, 404);
    return member;
  }

  add(backend: ServerSpec): Member {
    if (this.members.has(backend.id))
      throw new MembershipError(`server "${backend.id}" already exists`, 409);
    const member = this.create(backend);
    if (this.live) this.warm(member);
    this.members.set(backend.id, member);
    this.options.onChange(`added ${backend.id}`);
    return member;
  }

  remove(id: string): void {
    const member = this.require(id);
    if (member.source !== undefined)
      throw new MembershipError(
        `server "${id}" was found by DNS (group ${member.source}): it leaves when DNS no longer names it; drain or disable it meanwhile`,
        409,
      );
    this.members.delete(id);
    this.options.onChange(`removed ${id}`);
  }

  /**
   * The servers DNS group `source` names now: new ones join, those it no
   * longer names leave, those that stay keep their state (drain, disable, a
   * weight the operator set, health). One rebuild for the whole change.
   */
  sync(source: string, specs: readonly ServerSpec[]): void {
    const wanted = new Map(specs.map((spec) => [spec.id, spec]));
    const changes: string[] = [];
    for (const member of this.members.values())
      if (member.source === source && !wanted.has(member.id)) {
        this.members.delete(member.id);
        changes.push(`-${member.id}`);
      }
    for (const spec of specs) {
      const member = this.members.get(spec.id);
      if (member === undefined) {
        const joined = this.create(spec, source);
        if (this.live) this.warm(joined);
        this.members.set(spec.id, joined);
        changes.push(`+${spec.id}`);
      } else if (!member.weightFromAdmin && member.weight !== spec.weight) {
        member.weight = spec.weight;
        changes.push(`${spec.id} weight ${spec.weight}`);
      }
    }
    if (changes.length > 0) this.options.onChange(`DNS group ${source}: ${changes.join(" ")}`);
  }

  setWeight(id: string, weight: number): void {
    const member = this.require(id);
    member.weightFromAdmin = true;
    if (member.weight === weight) return;
    member.weight = weight;
    // HAProxy recomputes a warming server's level with its new weight, at the seconds turned now.
    if (member.warmSince !== undefined) {
      const ramp = this.rampNow(member);
      if (ramp === FULL) this.cool(member);
      else member.ramp = ramp.weight;
    }
    this.options.onChange(`weight of ${id} set to ${weight}`);
  }

  /** HAProxy's `set maxconn server`: 0 lifts the limit. */
  setMaxconn(id: string, maxconn: number): void {
    const member = this.require(id);
    if (member.maxconn === maxconn) return;
    member.maxconn = maxconn;
    this.options.onChange(`maxconn of ${id} set to ${maxconn === 0 ? "none" : maxconn}`);
  }

  setAdmin(id: string, admin: AdminState): void {
    const member = this.require(id);
    if (member.admin === admin) return;
    // Back from maintenance, a server warms up as one back from down does;
    // entering or leaving drain while it warms starts its slow start again
    // (HAProxy counts the seconds from that change).
    if (admin === "maint") this.cool(member);
    else if (member.admin === "maint" && member.up) this.warm(member);
    else if (member.warmSince !== undefined) this.warm(member);
    member.admin = admin;
    this.options.onChange(`${id} set to ${admin}`);
  }

  /** An active check finished: `rise` successes bring a server up, `fall` failures take it down. */
  recordCheck(id: string, ok: boolean, detail: string): void {
    const member = this.members.get(id);
    if (!member) return; // removed while the check was in flight
    remember(member, ok, detail);
    if (ok) {
      member.okStreak++;
      member.failStreak = 0;
      if (!member.up && member.okStreak >= this.options.rise) this.setUp(member, true, detail);
    } else {
      member.failStreak++;
      member.okStreak = 0;
      if (member.up && member.failStreak >= this.options.fall) this.setUp(member, false, detail);
    }
  }

  /**
   * A request could not connect: the server is taken down at once (HAProxy
   * `observe layer4` with `on-error mark-down`) and must pass `rise` checks
   * to come back.
   */
  markDown(id: string, detail: string): void {
    const member = this.members.get(id);
    if (!member || !member.up) return;
    member.okStreak = 0;
    remember(member, false, `request: ${detail}`);
    this.setUp(member, false, `request: ${detail}`);
  }

  private setUp(member: Member, up: boolean, detail: string): void {
    member.up = up;
    // One in maintenance warms up when it leaves it (setAdmin).
    if (!up) this.cool(member);
    else if (member.admin !== "maint") this.warm(member);
    this.options.onChange(`${member.id} is ${up ? "up" : "down"} (${detail})`);
  }
}

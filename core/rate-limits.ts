/**
 * Rate limits shared by every worker: the shapes of a lease and the pure arithmetic of sharing one endpoint's
 * limits among the workers that call it, and of one worker's token buckets. Free of I/O, so the limiter workflow
 * and the workers' call gate use the same code.
 *
 * Design: one `rateLimiter` workflow per endpoint (base URL, model and key variable) holds who calls it and how
 * much each wants. Every worker renews a lease on it every LEASE_MS with an update and gets back its share of the
 * endpoint's requests and tokens per minute; it then spends that share from local token buckets, call by call,
 * with no round trip. So the limit holds across processes and machines at one small update per worker every two
 * seconds, not one per call, and a worker that dies stops counting once its lease runs out.
 */
export const LEASE_MS = 2_000;

/** A lease not renewed within this long is gone: its share goes to the others. */
export const LEASE_EXPIRY_MS = 3 * LEASE_MS;

/** A limiter with no lease asked for this long ends (the next call starts it again). */
export const LIMITER_IDLE_MS = 10 * 60_000;

export interface EndpointLimits {
  rpm?: number;
  tpm?: number;
}

export interface LeaseRequest {
  /** The worker process (host, pid and a random part). */
  worker: string;
  /** How much it wants: its calls waiting at the gate and in flight (at least 1). */
  weight: number;
  /** Limits from the run's settings. */
  configured: EndpointLimits;
  /** Limits the provider announced in x-ratelimit-limit-* headers (used where none is configured). */
  learned?: EndpointLimits;
  /** The provider said to wait until then (429 Retry-After, or nothing remaining until a reset). */
  blockedUntilMs?: number;
}

export interface Lease {
  /** This worker's part of the limits, 0..1. */
  share: number;
  limits: EndpointLimits;
  /** No call to this endpoint before then, from any worker. */
  blockedUntilMs: number;
  /** Renew before then. */
  renewInMs: number;
}

export interface LimiterMember {
  weight: number;
  expiresAtMs: number;
  /** The share its current lease gives it. */
  share: number;
}

/** A worker that finds the others holding the whole limit gets this much, and asks again soon. */
export const MIN_SHARE = 0.05;
export const SOON_MS = 250;

export interface LimiterState {
  members: Array<[string, LimiterMember]>;
  configured: EndpointLimits;
  learned: EndpointLimits;
  blockedUntilMs: number;
}

export function emptyLimiterState(): LimiterState {
  return { members: [], configured: {}, learned: {}, blockedUntilMs: 0 };
}

/** The limits in force: configured ones first, then what the provider announced. */
export function effectiveLimits(state: Pick<LimiterState, 'configured' | 'learned'>): EndpointLimits {
  const rpm = state.configured.rpm ?? state.learned.rpm;
  const tpm = state.configured.tpm ?? state.learned.tpm;
  return { ...(rpm ? { rpm } : {}), ...(tpm ? { tpm } : {}) };
}

/** One lease request applied to the limiter's state (mutated), and the lease it gets: shares are by weight. */
export function grantLease(state: LimiterState, request: LeaseRequest, nowMs: number): Lease {
  const members = new Map(state.members);
  members.set(request.worker, { weight: Math.max(1, request.weight), expiresAtMs: nowMs + LEASE_EXPIRY_MS, share: 0 });
  for (const [worker, member] of members) if (member.expiresAtMs < nowMs) members.delete(worker);
  state.members = [...members];
  // The latest run's settings win: a run that configures a limit sets it for every worker of the endpoint.
  if (request.configured.rpm || request.configured.tpm) state.configured = { ...request.configured };
  if (request.learned?.rpm) state.learned.rpm = request.learned.rpm;
  if (request.learned?.tpm) state.learned.tpm = request.learned.tpm;
  state.blockedUntilMs = Math.max(state.blockedUntilMs, request.blockedUntilMs ?? 0);
  const total = [...members.values()].reduce((sum, m) => sum + m.weight, 0);
  const me = members.get(request.worker)!;
  const fair = me.weight / total;
  // What the others' leases still hold is theirs until they renew: a worker gets its fair part of the rest, so
  // the shares never add up to more than the limit while they move (a small floor aside, asked again soon).
  const heldByOthers = [...members]
    .filter(([worker]) => worker !== request.worker)
    .reduce((sum, [, m]) => sum + m.share, 0);
  const available = Math.max(0, 1 - heldByOthers);
  const share = Math.max(MIN_SHARE, Math.min(fair, available));
  me.share = share;
  return {
    share,
    limits: effectiveLimits(state),
    blockedUntilMs: state.blockedUntilMs,
    renewInMs: share < fair ? SOON_MS : LEASE_MS,
  };
}

/**
 * A token bucket refilled continuously at `perSecond`, holding at most `capacity`. Its level may go below zero
 * (a call used more tokens than it was charged at the gate): it refills from there.
 */
export class TokenBucket {
  private level: number;
  private atMs: number;

  constructor(
    private perSecond: number,
    private capacity: number,
    nowMs: number,
    /** What it holds at first (default: full). */
    level = capacity,
  ) {
    this.level = Math.min(level, capacity);
    this.atMs = nowMs;
  }

  setRate(perSecond: number, capacity: number, nowMs: number): void {
    this.refill(nowMs);
    this.perSecond = perSecond;
    this.capacity = capacity;
    this.level = Math.min(this.level, capacity);
  }

  private refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.atMs) / 1000;
    this.level = Math.min(this.capacity, this.level + elapsed * this.perSecond);
    this.atMs = nowMs;
  }

  /** Milliseconds until `amount` can be taken (0: now). An amount above the capacity waits for a full bucket. */
  waitFor(amount: number, nowMs: number): number {
    this.refill(nowMs);
    const needed = Math.min(amount, this.capacity) - this.level;
    if (needed <= 0) return 0;
    return this.perSecond > 0 ? Math.ceil((needed / this.perSecond) * 1000) : Number.POSITIVE_INFINITY;
  }

  /** Milliseconds until `amount` could be taken in all, the capacity aside (a queue's worth of calls). */
  timeFor(amount: number, nowMs: number): number {
    this.refill(nowMs);
    const needed = amount - this.level;
    if (needed <= 0) return 0;
    return this.perSecond > 0 ? Math.ceil((needed / this.perSecond) * 1000) : Number.POSITIVE_INFINITY;
  }

  take(amount: number, nowMs: number): void {
    this.refill(nowMs);
    this.level -= amount;
  }

  /** A correction after the fact: more used than charged (positive) or less (negative, given back). */
  adjust(amount: number, nowMs: number): void {
    this.refill(nowMs);
    this.level = Math.min(this.capacity, this.level - amount);
  }
}

/** Share of the limit a worker aims at, below 1 so clock drift and estimates do not tip it into 429s. */
export const TARGET_FRACTION = 0.97;

/** A worker's per-second rates for a lease: requests and tokens, each with one second's worth of burst. */
export function leaseRates(lease: Pick<Lease, 'share' | 'limits'>): { requests?: number; tokens?: number } {
  const per = (perMinute: number | undefined) =>
    perMinute ? (perMinute / 60) * lease.share * TARGET_FRACTION : undefined;
  const requests = per(lease.limits.rpm);
  const tokens = per(lease.limits.tpm);
  return { ...(requests ? { requests } : {}), ...(tokens ? { tokens } : {}) };
}

const DURATION_UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 1e-3,
  µs: 1e-3,
  ns: 1e-6,
};

/**
 * Milliseconds in an OpenAI reset duration (`1s`, `6m0s`, `1h2m3.5s`, `20ms`, `0.5s`), or undefined when the text
 * is not one (a bare number included: seconds or a timestamp, it cannot tell).
 */
export function parseResetDuration(text: string | null | undefined): number | undefined {
  if (!text) return undefined;
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?|\.\d+)(h|m|s|ms|us|µs|ns)((\d+(\.\d+)?|\.\d+)(h|m|s|ms|us|µs|ns))*$/.test(trimmed)) {
    return undefined;
  }
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?|\.\d+)(ms|us|µs|ns|h|m|s)/g)) {
    total += Number(amount) * DURATION_UNIT_MS[unit];
  }
  return total;
}

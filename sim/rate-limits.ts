/**
 * OpenAI-style rate limits for the simulated LLM: a requests bucket and a tokens bucket, refilled continuously,
 * with the `x-ratelimit-*` headers and the 429 the real API sends. Pure, with an injectable clock.
 */
import type { SimRateLimits } from './types';
import { parseResetDuration } from '../core/rate-limits';

export { parseResetDuration };

export type RateLimitKind = 'requests' | 'tokens';

export type RateLimitDecision =
  | { admitted: true; headers: Record<string, string> }
  | {
      admitted: false;
      limit: RateLimitKind;
      retryAfterMs: number;
      message: string;
      /** The `x-ratelimit-*` headers plus `retry-after` (whole seconds, rounded up) and `retry-after-ms`. */
      headers: Record<string, string>;
    };

const DEFAULT_BURST_SECONDS = 60;

/** The limits, or a message saying what is wrong with them. `{}` (or null) means no limits. */
export function parseRateLimits(input: unknown): SimRateLimits | string {
  if (input === null || input === undefined) return {};
  if (typeof input !== 'object' || Array.isArray(input)) return 'the rate limits must be a JSON object';
  const limits: SimRateLimits = {};
  for (const [name, value] of Object.entries(input as Record<string, unknown>)) {
    if (name !== 'rpm' && name !== 'tpm' && name !== 'burstSeconds') return `unknown rate limit "${name}"`;
    if (value === null || value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      return `"${name}" must be a positive number`;
    }
    limits[name] = value;
  }
  return limits;
}

/** A token bucket refilled continuously at `limit` per minute, holding `burstSeconds` worth. */
class Bucket {
  readonly capacity: number;
  private level: number;
  private at: number;

  constructor(
    readonly limit: number,
    burstSeconds: number,
    now: number,
  ) {
    this.capacity = Math.max(1, (limit * burstSeconds) / 60);
    this.level = this.capacity;
    this.at = now;
  }

  /** The level now; a bucket can fill up to `cost` when that is above its capacity, so any one request can pass. */
  levelAt(now: number, cost = 0): number {
    return Math.min(Math.max(this.capacity, cost), this.level + ((now - this.at) * this.limit) / 60_000);
  }

  /** Milliseconds until the bucket holds `cost`, 0 if it does. */
  waitFor(now: number, cost: number): number {
    return Math.max(0, ((cost - this.levelAt(now, cost)) * 60_000) / this.limit);
  }

  take(now: number, cost: number): void {
    this.level = this.levelAt(now, cost) - cost;
    this.at = now;
  }

  /** The `x-ratelimit-{limit,remaining,reset}-<kind>` headers. */
  headers(kind: RateLimitKind, now: number): Record<string, string> {
    const level = this.levelAt(now);
    return {
      [`x-ratelimit-limit-${kind}`]: String(this.limit),
      [`x-ratelimit-remaining-${kind}`]: String(Math.max(0, Math.floor(level))),
      [`x-ratelimit-reset-${kind}`]: formatResetDuration(Math.max(0, ((this.capacity - level) * 60_000) / this.limit)),
    };
  }
}

export class RateLimiter {
  private readonly requests?: Bucket;
  private readonly tokens?: Bucket;

  constructor(
    readonly limits: SimRateLimits,
    private readonly now: () => number = Date.now,
  ) {
    const burst = limits.burstSeconds ?? DEFAULT_BURST_SECONDS;
    const start = now();
    if (limits.rpm !== undefined) this.requests = new Bucket(limits.rpm, burst, start);
    if (limits.tpm !== undefined) this.tokens = new Bucket(limits.tpm, burst, start);
  }

  /** Whether there is any limit to enforce. */
  get active(): boolean {
    return this.requests !== undefined || this.tokens !== undefined;
  }

  /**
   * Admits one request costing `tokens` and takes it from both buckets, or refuses it (taking nothing) naming the
   * limit that makes it wait longest.
   */
  take(tokens: number, model = 'the model'): RateLimitDecision {
    const now = this.now();
    const waits: Array<[RateLimitKind, Bucket, number, number]> = [];
    if (this.requests) waits.push(['requests', this.requests, 1, this.requests.waitFor(now, 1)]);
    if (this.tokens) waits.push(['tokens', this.tokens, tokens, this.tokens.waitFor(now, tokens)]);
    const refusal = waits.filter(([, , , wait]) => wait > 0).sort((a, b) => b[3] - a[3])[0];
    if (!refusal) {
      for (const [, bucket, cost] of waits) bucket.take(now, cost);
      return { admitted: true, headers: this.headers(now) };
    }
    const [limit, bucket, cost, wait] = refusal;
    const retryAfterMs = Math.ceil(wait);
    const used = Math.max(0, Math.ceil(bucket.capacity - bucket.levelAt(now)));
    const perMin = limit === 'requests' ? 'RPM' : 'TPM';
    return {
      admitted: false,
      limit,
      retryAfterMs,
      message:
        `Rate limit reached for ${limit} per min (${perMin}) on ${model}: Limit ${bucket.limit}, Used ${used}, ` +
        `Requested ${cost}. Please try again in ${formatResetDuration(retryAfterMs)}.`,
      headers: {
        ...this.headers(now),
        'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
        'retry-after-ms': String(retryAfterMs),
      },
    };
  }

  private headers(now: number): Record<string, string> {
    return { ...this.requests?.headers('requests', now), ...this.tokens?.headers('tokens', now) };
  }
}

/** OpenAI's (Go's) duration format: `20ms` below a second, else `1.5s`, `6m0s`, `1h2m3.5s`; whole ms, rounded up. */
export function formatResetDuration(ms: number): string {
  const whole = Math.ceil(ms);
  if (whole <= 0) return '0s';
  if (whole < 1000) return `${whole}ms`;
  const hours = Math.floor(whole / 3_600_000);
  const minutes = Math.floor((whole % 3_600_000) / 60_000);
  const seconds = `${((whole % 60_000) / 1000).toFixed(3).replace(/\.?0+$/, '')}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  return minutes > 0 ? `${minutes}m${seconds}` : seconds;
}

/** Shared rate limits: leases by weight, token buckets, and one worker's call gate pacing to its share. */
import { CallGate } from '../../activities/call-gate';
import { MAX_GATE_WAIT_MS } from '../../core/llm-failures';
import {
  emptyLimiterState,
  grantLease,
  LEASE_EXPIRY_MS,
  LEASE_MS,
  leaseRates,
  MIN_SHARE,
  SOON_MS,
  TARGET_FRACTION,
  TokenBucket,
} from '../../core/rate-limits';
import type { LlmEndpoint } from '../../core/endpoints';

const request = (worker: string, weight: number, rpm?: number) => ({
  worker,
  weight,
  configured: rpm ? { rpm } : {},
});

describe('leases: every worker gets its share of an endpoint limit', () => {
  test('shares follow the workers’ weights, and never add up to more than the limit while they move', () => {
    const state = emptyLimiterState();
    expect(grantLease(state, request('a', 3, 600), 0).share).toBe(1);
    // a holds the whole limit until it renews: b gets the floor, and asks again soon.
    const joining = grantLease(state, request('b', 1, 600), 10);
    expect(joining.share).toBe(MIN_SHARE);
    expect(joining.renewInMs).toBe(SOON_MS);
    const a = grantLease(state, request('a', 3, 600), 20);
    expect(a.share).toBeCloseTo(3 / 4);
    const b = grantLease(state, request('b', 1, 600), 30);
    expect(b.share).toBeCloseTo(1 / 4);
    expect(b.renewInMs).toBe(LEASE_MS);
    expect(a.share + b.share).toBeCloseTo(1);
    expect(a.limits).toEqual({ rpm: 600 });
  });

  test('a worker that stops renewing loses its share to the others', () => {
    const state = emptyLimiterState();
    grantLease(state, request('b', 1, 600), 0);
    grantLease(state, request('a', 1, 600), 0);
    expect(grantLease(state, request('b', 1, 600), 100).share).toBeCloseTo(0.5);
    expect(grantLease(state, request('a', 1, 600), 100).share).toBeCloseTo(0.5);
    expect(grantLease(state, request('a', 1, 600), 100 + LEASE_EXPIRY_MS + 1).share).toBe(1);
  });

  test('configured limits come first, then what the provider announced; a provider wait is kept for everyone', () => {
    const state = emptyLimiterState();
    const learned = grantLease(state, { ...request('a', 1), learned: { rpm: 500, tpm: 90_000 } }, 0);
    expect(learned.limits).toEqual({ rpm: 500, tpm: 90_000 });
    const configured = grantLease(state, { ...request('a', 1, 100), blockedUntilMs: 5000 }, 1);
    expect(configured.limits).toEqual({ rpm: 100, tpm: 90_000 });
    expect(grantLease(state, request('b', 1), 2).blockedUntilMs).toBe(5000);
  });

  test('a worker paces to its share, a little under the limit', () => {
    const rates = leaseRates({ share: 0.5, limits: { rpm: 600, tpm: 60_000 } });
    expect(rates.requests).toBeCloseTo(5 * TARGET_FRACTION);
    expect(rates.tokens).toBeCloseTo(500 * TARGET_FRACTION);
    expect(leaseRates({ share: 1, limits: {} })).toEqual({});
  });
});

describe('token buckets', () => {
  test('take up to the capacity, then wait for the refill; corrections go both ways', () => {
    const bucket = new TokenBucket(10, 10, 0);
    expect(bucket.waitFor(10, 0)).toBe(0);
    bucket.take(10, 0);
    expect(bucket.waitFor(1, 0)).toBe(100);
    expect(bucket.waitFor(1, 100)).toBe(0);
    bucket.adjust(5, 100); // the call used 5 more than it was charged
    expect(bucket.waitFor(1, 100)).toBe(500); // from 1 - 5 = -4 back to 1
    bucket.adjust(-20, 100); // ... or less: given back, up to the capacity
    expect(bucket.waitFor(10, 100)).toBe(0);
  });

  test('an amount above the capacity waits for a full bucket, not forever', () => {
    const bucket = new TokenBucket(10, 5, 0);
    bucket.take(5, 0);
    expect(bucket.waitFor(50, 0)).toBe(500);
  });
});

describe('the call gate of one worker (no Temporal client: its limits are its own)', () => {
  const endpoint = (extra: Partial<LlmEndpoint>): LlmEndpoint => ({
    baseURL: 'http://127.0.0.1:1/v1',
    model: 'm',
    temperature: 0,
    maxTokens: 16,
    apiKeyEnv: 'K',
    requestTimeoutMs: 1000,
    ...extra,
  });

  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  test('calls go at the configured requests per minute, in order', async () => {
    const gate = new CallGate();
    const e = endpoint({ rpm: 120 }); // 2 per second, a burst of about 2
    const admitted: number[] = [];
    const calls = Array.from({ length: 6 }, (_, i) =>
      gate.admit(e, 40, undefined).then((pass) => {
        admitted.push(i);
        pass.settle({});
      }),
    );
    await jest.advanceTimersByTimeAsync(0);
    expect(admitted.length).toBeLessThanOrEqual(2);
    await jest.advanceTimersByTimeAsync(1100);
    const afterOneSecond = admitted.length;
    expect(afterOneSecond).toBeGreaterThanOrEqual(3);
    expect(afterOneSecond).toBeLessThanOrEqual(4);
    await jest.advanceTimersByTimeAsync(3000);
    await Promise.all(calls);
    expect(admitted).toEqual([0, 1, 2, 3, 4, 5]);
  });

  test('with no limit configured or announced, calls are not held', async () => {
    const gate = new CallGate();
    const passes = await Promise.all(Array.from({ length: 50 }, () => gate.admit(endpoint({}), 40, undefined)));
    expect(passes).toHaveLength(50);
  });

  test("the provider's 429 Retry-After holds the next calls; a wait beyond the gate's longest fails for Temporal to retry later", async () => {
    const gate = new CallGate();
    const e = endpoint({ rpm: 6000 });
    const first = await gate.admit(e, 40, undefined);
    first.settle({ status: 429, headers: new Headers({ 'retry-after': '2' }) });
    let second = false;
    const waiting = gate.admit(e, 40, undefined).then(() => (second = true));
    await jest.advanceTimersByTimeAsync(1500);
    expect(second).toBe(false);
    await jest.advanceTimersByTimeAsync(600);
    await waiting;
    expect(second).toBe(true);

    const long = await gate.admit(e, 40, undefined);
    long.settle({ status: 429, headers: new Headers({ 'retry-after-ms': String(MAX_GATE_WAIT_MS + 5000) }) });
    const refused = gate.admit(e, 40, undefined);
    const outcome = expect(refused).rejects.toMatchObject({ type: 'LlmRateLimitedError', nonRetryable: false });
    await jest.advanceTimersByTimeAsync(0);
    await outcome;
  });

  test("a dataset run's call (one with a spend tag) waits out a long hold in its workflow instead", async () => {
    const gate = new CallGate();
    const e = endpoint({ rpm: 6000 });
    const spend = { runWorkflowId: 'evol:run:r' };
    const first = await gate.admit(e, 40, spend);
    first.settle({ status: 429, headers: new Headers({ 'retry-after-ms': String(MAX_GATE_WAIT_MS + 5000) }) });
    const refused = gate.admit(e, 40, spend);
    const outcome = expect(refused).rejects.toMatchObject({
      type: 'RateLimitWait',
      nonRetryable: true,
      details: [{ waitMs: expect.any(Number) }],
    });
    await jest.advanceTimersByTimeAsync(0);
    await outcome;
  });

  test('limits announced in x-ratelimit headers are used when none is configured', async () => {
    const gate = new CallGate();
    const e = endpoint({});
    const pass = await gate.admit(e, 40, undefined);
    pass.settle({
      headers: new Headers({ 'x-ratelimit-limit-requests': '60', 'x-ratelimit-remaining-requests': '59' }),
    });
    // 60/min: about one a second from now on.
    let admitted = 0;
    const calls = Array.from({ length: 3 }, () => gate.admit(e, 40, undefined).then(() => admitted++));
    await jest.advanceTimersByTimeAsync(0);
    expect(admitted).toBeLessThanOrEqual(1);
    await jest.advanceTimersByTimeAsync(2500);
    await Promise.all(calls);
    expect(admitted).toBe(3);
  });
});

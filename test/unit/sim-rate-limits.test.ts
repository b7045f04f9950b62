import {
  formatResetDuration,
  parseRateLimits,
  parseResetDuration,
  RateLimitDecision,
  RateLimiter,
} from '../../sim/rate-limits';
import { PromptCache } from '../../sim/completion';
import type { ChatMessage } from '../../core/chat';

/** A limiter on a clock the test moves by hand. */
function limiterAt(limits: ConstructorParameters<typeof RateLimiter>[0]) {
  const clock = { now: 1_000_000 };
  const limiter = new RateLimiter(limits, () => clock.now);
  return { limiter, clock };
}

function refused(decision: RateLimitDecision) {
  if (decision.admitted) throw new Error('expected a refusal');
  return decision;
}

describe('simulated rate limits', () => {
  it('admits up to the capacity, then refuses with the wait until one request is back', () => {
    const { limiter, clock } = limiterAt({ rpm: 6, burstSeconds: 30 });
    const remaining = [];
    for (let i = 0; i < 3; i++) {
      const decision = limiter.take(10);
      expect(decision.admitted).toBe(true);
      remaining.push(decision.headers['x-ratelimit-remaining-requests']);
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const refusal = refused(limiter.take(10));
    expect(refusal.limit).toBe('requests');
    // 6 a minute: one every 10 s.
    expect(refusal.retryAfterMs).toBe(10_000);
    expect(refusal.headers).toMatchObject({
      'retry-after': '10',
      'retry-after-ms': '10000',
      'x-ratelimit-limit-requests': '6',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '30s',
    });
    expect(refusal.headers['x-ratelimit-limit-tokens']).toBeUndefined();
    expect(refusal.message).toMatch(/^Rate limit reached for requests .*Limit 6, Used 3, Requested 1\./);

    // A refusal takes nothing: 4 s later the wait is 6 s, rounded up in retry-after.
    clock.now += 4000;
    expect(refused(limiter.take(10)).headers).toMatchObject({ 'retry-after': '6', 'retry-after-ms': '6000' });
    clock.now += 5999.5;
    expect(refused(limiter.take(10)).headers).toMatchObject({ 'retry-after': '1', 'retry-after-ms': '1' });
    clock.now += 0.5;
    expect(limiter.take(10).admitted).toBe(true);
  });

  it('refills continuously at the rate, never above the capacity', () => {
    const { limiter, clock } = limiterAt({ rpm: 60 });
    for (let i = 0; i < 60; i++) expect(limiter.take(1).admitted).toBe(true);
    expect(limiter.take(1).admitted).toBe(false);
    clock.now += 5000;
    const admitted = [];
    for (let i = 0; i < 6; i++) admitted.push(limiter.take(1).admitted);
    expect(admitted).toEqual([true, true, true, true, true, false]);
    clock.now += 3_600_000;
    const decision = limiter.take(1);
    expect(decision.headers['x-ratelimit-remaining-requests']).toBe('59');
    expect(decision.headers['x-ratelimit-reset-requests']).toBe('1s');
  });

  it('limits tokens independently of requests, naming the limit that refused', () => {
    const { limiter, clock } = limiterAt({ rpm: 1000, tpm: 600 });
    expect(limiter.take(400).admitted).toBe(true);
    const refusal = refused(limiter.take(300));
    expect(refusal.limit).toBe('tokens');
    // 100 tokens short at 10 a second.
    expect(refusal.retryAfterMs).toBe(10_000);
    expect(refusal.headers).toMatchObject({
      'x-ratelimit-limit-tokens': '600',
      'x-ratelimit-remaining-tokens': '200',
      'x-ratelimit-remaining-requests': '999',
      'x-ratelimit-reset-tokens': '40s',
    });
    // A cheaper request still fits, and the requests bucket was not charged for the refusal.
    const small = limiter.take(200);
    expect(small.admitted && small.headers['x-ratelimit-remaining-requests']).toBe('998');
    clock.now += 60_000;
    expect(limiter.take(300).admitted).toBe(true);

    const tokensOnly = limiterAt({ tpm: 100 }).limiter.take(10);
    expect(tokensOnly.headers['x-ratelimit-limit-requests']).toBeUndefined();
    expect(tokensOnly.headers['x-ratelimit-remaining-tokens']).toBe('90');
  });

  it('lets one request bigger than the bucket through once the bucket has filled up to it', () => {
    const { limiter, clock } = limiterAt({ tpm: 60, burstSeconds: 1 });
    // Capacity 1 token, 1 token a second: a 5-token request waits for 5.
    expect(refused(limiter.take(5)).retryAfterMs).toBe(4000);
    clock.now += 4000;
    expect(limiter.take(5).admitted).toBe(true);
    expect(refused(limiter.take(5)).retryAfterMs).toBe(5000);
    // At least one request even when rpm x burst / 60 is below one.
    expect(limiterAt({ rpm: 1, burstSeconds: 1 }).limiter.take(1).admitted).toBe(true);
  });

  it('reports the bigger wait when both limits refuse', () => {
    const { limiter } = limiterAt({ rpm: 1, tpm: 6000 });
    expect(limiter.take(10).admitted).toBe(true);
    expect(refused(limiter.take(100)).limit).toBe('requests');
    expect(refused(limiter.take(20_000)).limit).toBe('tokens');
  });

  it('has no limits from {} and checks the limits it is given', () => {
    expect(new RateLimiter({}).active).toBe(false);
    expect(new RateLimiter({ burstSeconds: 5 }).active).toBe(false);
    expect(parseRateLimits({ rpm: 10, tpm: 2000, burstSeconds: 5 })).toEqual({ rpm: 10, tpm: 2000, burstSeconds: 5 });
    expect(parseRateLimits(null)).toEqual({});
    expect(parseRateLimits({ rpm: null })).toEqual({});
    expect(parseRateLimits({ rpm: 0 })).toMatch(/positive/);
    expect(parseRateLimits({ rpm: '10' })).toMatch(/positive/);
    expect(parseRateLimits({ rpd: 10 })).toMatch(/unknown/);
    expect(parseRateLimits([1])).toMatch(/object/);
  });
});

describe('reset durations', () => {
  it.each([
    ['1s', 1000],
    ['6m0s', 360_000],
    ['1h2m3.5s', 3_723_500],
    ['20ms', 20],
    ['0.5s', 500],
    ['2.994s', 2994],
    ['1m30.25s', 90_250],
    ['0s', 0],
    ['1h', 3_600_000],
    ['500us', 0.5],
    [' 7s ', 7000],
  ])('parses %s as %d ms', (text, ms) => {
    expect(parseResetDuration(text)).toBeCloseTo(ms, 9);
  });

  it.each(['', '12', 's', '1x', '1s2', '-1s', 'abc', '1.s', '1 s'])('refuses %p', (text) => {
    expect(parseResetDuration(text)).toBeUndefined();
  });

  it('formats like OpenAI and parses back', () => {
    expect([0, 0.2, 20, 999.4, 1000, 1500, 60_000, 360_000, 3_723_500].map(formatResetDuration)).toEqual([
      '0s',
      '1ms',
      '20ms',
      '1s',
      '1s',
      '1.5s',
      '1m0s',
      '6m0s',
      '1h2m3.5s',
    ]);
    for (const ms of [7, 1234, 61_001, 7_200_000])
      expect(parseResetDuration(formatResetDuration(ms))).toBeCloseTo(ms, 9);
  });
});

describe('simulated prompt cache', () => {
  const system = (chars: number): ChatMessage => ({ role: 'system', content: 'x'.repeat(chars) });
  const user = (text: string): ChatMessage => ({ role: 'user', content: text });

  it('caches the leading messages seen before, in steps of 128 from 1024 tokens', () => {
    const cache = new PromptCache();
    // 5000 chars = 1250 tokens, reported as 1152.
    expect(cache.cachedTokens('m', [system(5000), user('a')])).toBe(0);
    expect(cache.cachedTokens('m', [system(5000), user('b')])).toBe(1152);
    expect(cache.cachedTokens('other-model', [system(5000), user('b')])).toBe(0);
    // A follow-up whose leading messages are a whole earlier request.
    const turn = [system(5000), user('b'), { role: 'assistant' as const, content: 'ok' }, user('c')];
    expect(cache.cachedTokens('m', turn.slice(0, 3))).toBe(1152);
    expect(cache.cachedTokens('m', turn)).toBe(1152);
    // Below the minimum, nothing; a single message has no leading messages.
    expect(cache.cachedTokens('m', [system(400), user('a')])).toBe(0);
    expect(cache.cachedTokens('m', [system(400), user('a')])).toBe(0);
    expect(cache.cachedTokens('m', [user('a')])).toBe(0);
    expect(cache.cachedTokens('m', [user('a')])).toBe(0);
  });

  it('counts exactly below 1024 and from minTokens', () => {
    const cache = new PromptCache(10);
    cache.cachedTokens('m', [system(403), user('a')]);
    expect(cache.cachedTokens('m', [system(403), user('b')])).toBe(101);
    cache.cachedTokens('m', [system(20), user('a')]);
    expect(cache.cachedTokens('m', [system(20), user('b')])).toBe(0);
  });
});

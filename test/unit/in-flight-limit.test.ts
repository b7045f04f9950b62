/**
 * The in-flight limit of one endpoint, learned from the server's word or from its answers, against a model of a
 * server: S slots served at once, the rest in a queue in the order they came (llama.cpp, Ollama), or every request
 * at once (a hosted provider). Time is simulated; the answers' sizes are drawn as a dataset run's are.
 */
import { InFlightLimit, type SentRequest, type ServerWord } from '../../core/in-flight-limit';
import { createPrng } from '../../core/prng';

interface ServerModel {
  /** Requests served at once; Infinity for a hosted provider. */
  slots: number;
  /** Milliseconds to read a prompt, and per token of the answer. */
  overheadMs: number;
  perTokenMs: number;
  /** A factor on every answer's time from the n-th request on (a slow hour at a provider). */
  slowFrom?: { request: number; factor: number };
  /** Spread of answer times (log-normal sigma), 0 by default. */
  noise?: number;
}

interface Outcome {
  /** The limit after each answer. */
  limits: Array<number | undefined>;
  /** The longest a request waited in the server's queue, and the longest answer (ms). */
  longestQueueWaitMs: number;
  longestServiceMs: number;
  timeouts: number;
}

/**
 * A worker that wants `demand` requests in flight at all times (a run of `--concurrency` instructions), sending as
 * the limit allows, for `requests` requests. A request that waits past `timeoutMs` times out (the server still
 * serves it, as llama-cpp-python does).
 */
function simulate(options: {
  word?: ServerWord;
  server: ServerModel;
  demand: number;
  requests: number;
  timeoutMs?: number;
  seed?: number;
}): Outcome {
  const { server, demand, requests } = options;
  const random = createPrng(options.seed ?? 7);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const limit = new InFlightLimit(options.word);
  const slotFreeAt: number[] = Number.isFinite(server.slots) ? Array.from({ length: server.slots }, () => 0) : [];
  const done: Array<{
    at: number;
    request: SentRequest;
    sentAt: number;
    tokens: number;
    shape: string;
    late: boolean;
  }> = [];
  const outcome: Outcome = { limits: [], longestQueueWaitMs: 0, longestServiceMs: 0, timeouts: 0 };
  let sent = 0;
  let now = 0;
  let serverQueueTail = 0;

  const send = () => {
    const draw = random();
    const [shape, tokens] =
      draw < 0.4
        ? ['judge', 8]
        : draw < 0.7
          ? ['evolver', Math.round(100 + random() * 100)]
          : ['responder', Math.round(200 + random() * 400)];
    const factor = server.slowFrom && sent >= server.slowFrom.request ? server.slowFrom.factor : 1;
    const service = (server.overheadMs + tokens * server.perTokenMs) * factor * Math.exp((server.noise ?? 0) * gauss());
    let start = now;
    if (slotFreeAt.length) {
      // First come, first served: it starts when the earliest slot is free and every request before it has started.
      const slot = slotFreeAt.indexOf(Math.min(...slotFreeAt));
      start = Math.max(now, slotFreeAt[slot], serverQueueTail);
      serverQueueTail = start;
      slotFreeAt[slot] = start + service;
    }
    outcome.longestQueueWaitMs = Math.max(outcome.longestQueueWaitMs, start - now);
    outcome.longestServiceMs = Math.max(outcome.longestServiceMs, service);
    const answeredAt = start + service;
    const late = options.timeoutMs !== undefined && answeredAt - now > options.timeoutMs;
    done.push({
      at: late ? now + options.timeoutMs! : answeredAt,
      request: limit.send(),
      sentAt: now,
      tokens,
      shape,
      late,
    });
    sent++;
  };

  while (sent < requests || done.length) {
    while (sent < requests && limit.inFlight < demand && limit.hasRoom()) send();
    done.sort((a, b) => a.at - b.at);
    const next = done.shift()!;
    now = next.at;
    if (next.late) {
      outcome.timeouts++;
      limit.failed(next.request, { timedOut: true });
    } else {
      limit.answered(next.request, { latencyMs: now - next.sentAt, completionTokens: next.tokens, shape: next.shape });
    }
    outcome.limits.push(limit.limit);
  }
  return outcome;
}

const LOCAL_CPU: Omit<ServerModel, 'slots'> = { overheadMs: 400, perTokenMs: 20, noise: 0.3 };

// Each model is run with several draws of answer sizes and times.
describe.each([1, 2, 3, 4, 5])('the in-flight limit of an endpoint (draw %i)', (seed) => {
  test("llama.cpp's word is kept: its slots are the limit, whatever its answers show", () => {
    const run = simulate({
      word: { kind: 'llama.cpp', slots: 4 },
      server: { slots: 4, ...LOCAL_CPU },
      demand: 48,
      requests: 300,
      seed,
    });
    expect(new Set(run.limits)).toEqual(new Set([4]));
    // With the limit at the server's slots, no request waits in its queue.
    expect(run.longestQueueWaitMs).toBe(0);
  });

  test('Ollama serving one request at a time: the limit starts at 1, reaches 2 and stays; a request waits at most one answer in its queue', () => {
    const run = simulate({
      word: { kind: 'Ollama' },
      server: { slots: 1, ...LOCAL_CPU },
      demand: 48,
      requests: 400,
      seed,
    });
    expect(run.limits[0]).toBeLessThanOrEqual(2);
    expect(new Set(run.limits)).toEqual(new Set([2]));
    expect(run.longestQueueWaitMs).toBeLessThanOrEqual(run.longestServiceMs + 1);
  });

  test('Ollama serving four at once: the limit grows to five (one waits in its queue), no further', () => {
    const run = simulate({
      word: { kind: 'Ollama' },
      server: { slots: 4, ...LOCAL_CPU },
      demand: 48,
      requests: 400,
      seed,
    });
    expect(run.limits.at(-1)).toBe(5);
    expect(Math.max(...run.limits.map((l) => l ?? Infinity))).toBe(5);
    expect(run.longestQueueWaitMs).toBeLessThanOrEqual(run.longestServiceMs + 1);
  });

  test('a hosted provider that serves every request at once is never limited, through a slow hour (five times slower) and noisy answers', () => {
    const run = simulate({
      server: { slots: Infinity, overheadMs: 500, perTokenMs: 12, noise: 0.5, slowFrom: { request: 300, factor: 5 } },
      demand: 48,
      requests: 1000,
      seed,
    });
    expect(new Set(run.limits)).toEqual(new Set([undefined]));
  });

  test('a hosted provider is not limited by a timeout either: it has shown it serves that many at once', () => {
    const run = simulate({
      server: { slots: Infinity, overheadMs: 500, perTokenMs: 12, noise: 1 },
      demand: 48,
      requests: 600,
      timeoutMs: 20_000,
      seed,
    });
    expect(run.timeouts).toBeGreaterThan(0);
    expect(new Set(run.limits)).toEqual(new Set([undefined]));
  });

  test('a server that says nothing and serves one at a time: its first burst shows the queue, and the limit falls to 2', () => {
    const run = simulate({ server: { slots: 1, ...LOCAL_CPU }, demand: 48, requests: 400, seed });
    // The first burst (48) went out before any answer came back; its answers show the queue before it is all back.
    const learnedAt = run.limits.findIndex((l) => l !== undefined);
    expect(learnedAt).toBeGreaterThanOrEqual(8);
    expect(learnedAt).toBeLessThan(48);
    expect(new Set(run.limits.slice(learnedAt))).toEqual(new Set([2]));
  });

  test('a timeout beyond what the server proved halves the limit; one within it is a slow answer and changes nothing', () => {
    const limit = new InFlightLimit({ kind: 'Ollama' });
    // Nothing proved beyond 1: a timeout with 4 in flight halves 4.
    const limited = new InFlightLimit();
    const sent = Array.from({ length: 4 }, () => limited.send());
    expect(limited.failed(sent[3], { timedOut: true })).toMatchObject({ to: 2 });
    expect(limited.limit).toBe(2);
    // An error that is not a timeout says nothing of a queue.
    expect(limited.failed(sent[2], { timedOut: false })).toBeUndefined();
    // Alone in flight, a timeout is a slow answer.
    const alone = limit.send();
    expect(limit.failed(alone, { timedOut: true })).toBeUndefined();
    expect(limit.limit).toBe(1);
  });

  test('a server that says how many it serves is not moved by a timeout', () => {
    const limit = new InFlightLimit({ kind: 'llama-cpp-python', slots: 1 });
    const first = limit.send();
    expect(limit.hasRoom()).toBe(false);
    expect(limit.failed(first, { timedOut: true })).toBeUndefined();
    expect(limit.limit).toBe(1);
    expect(limit.hasRoom()).toBe(true);
  });
});

/**
 * One worker's calls to an endpoint that serves a few requests at a time: they wait at the worker for a slot, oldest
 * first; one whose turn is far off is handed back with the wait, and keeps its place. Also what servers say of
 * themselves, asked over HTTP from small servers that answer as llama.cpp, llama-cpp-python, Ollama and LM Studio do.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CallGate } from '../../activities/call-gate';
import { EndpointSlots, type Slot } from '../../activities/endpoint-slots';
import { askServer } from '../../activities/server-word';
import type { LlmEndpoint } from '../../core/endpoints';
import type { LimitChange } from '../../core/in-flight-limit';
import { MAX_GATE_WAIT_MS } from '../../core/llm-failures';

describe('calls waiting at the worker for a slot of their endpoint', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  const call = (key: string, waitsInWorkflow = true) => ({
    key,
    deadlineMs: Date.now() + MAX_GATE_WAIT_MS,
    waitsInWorkflow,
  });

  /** A call sent and answered after `ms`. */
  async function answerAfter(slot: Slot, ms: number): Promise<void> {
    slot.send();
    await jest.advanceTimersByTimeAsync(ms);
    slot.answered({ completionTokens: 50, shape: 'responder' });
  }

  test('beyond the slots the server says it has, calls wait at the worker and go oldest first as slots free', async () => {
    const changes: LimitChange[] = [];
    const slots = new EndpointSlots({ kind: 'llama.cpp', slots: 2 }, 'model "m" at URL', (c) => changes.push(c));
    expect(changes).toEqual([{ to: 2, why: 'it says it serves 2 at once' }]);
    const order: string[] = [];
    const taken = ['a', 'b', 'c', 'd'].map((key) =>
      slots.take(call(key)).then((slot) => {
        order.push(key);
        return slot;
      }),
    );
    await jest.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['a', 'b']);
    const [a, b] = await Promise.all(taken.slice(0, 2));
    await answerAfter(a, 1000);
    await jest.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['a', 'b', 'c']);
    b.send();
    b.failed({ timedOut: false });
    await jest.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['a', 'b', 'c', 'd']);
    expect(slots.limit.limit).toBe(2);
  });

  test('a call whose turn is further off than the gate waits is handed back with the wait, and goes before newer calls when back', async () => {
    const slots = new EndpointSlots({ kind: 'llama-cpp-python', slots: 1 }, 'model "m" at URL', () => undefined);
    // One answer takes 3 s: with one in flight and three waiting, a fifth call's turn is 12 s off.
    const first = await slots.take(call('first'));
    await answerAfter(first, 3000);
    const busy = await slots.take(call('busy'));
    busy.send();
    const waiting = ['w1', 'w2', 'w3'].map((key) => slots.take(call(key)));
    const handedBack = slots.take(call('late'));
    await expect(handedBack).rejects.toMatchObject({
      type: 'SlotWait',
      nonRetryable: true,
      details: [{ waitMs: 12_000 - MAX_GATE_WAIT_MS / 2 }],
    });
    await expect(handedBack).rejects.toThrow(/serves 1 request at a time from this worker.*waits 7 s in its workflow/);

    // The first three go in turn; meanwhile a newer call queues.
    for (const taken of waiting) {
      busy.answered({ completionTokens: 50, shape: 'responder' });
      const slot = await taken;
      slot.send();
      slot.answered({ completionTokens: 50, shape: 'responder' });
    }
    const holder = await slots.take(call('holder'));
    holder.send();
    const order: string[] = [];
    const newer = slots.take(call('newer')).then((slot) => (order.push('newer'), slot));
    const back = slots.take(call('late')).then((slot) => (order.push('late'), slot));
    await jest.advanceTimersByTimeAsync(0);
    holder.answered({ completionTokens: 50, shape: 'responder' });
    await jest.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['late']);
    (await back).release();
    await jest.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['late', 'newer']);
    await newer;
  });

  test('a call whose wait outlasts its deadline is handed back then, and one not run by a dataset run is retried by Temporal after the wait', async () => {
    const slots = new EndpointSlots({ kind: 'llama-cpp-python', slots: 1 }, 'model "m" at URL', () => undefined);
    const busy = await slots.take(call('busy'));
    busy.send();
    // No answer yet to say how long one takes: the call waits, until its deadline.
    const waiting = slots.take(call('scorer', false));
    const outcome = expect(waiting).rejects.toMatchObject({ type: 'SlotWait', nonRetryable: false });
    await jest.advanceTimersByTimeAsync(MAX_GATE_WAIT_MS - 1);
    let settled = false;
    void waiting.catch(() => (settled = true));
    await jest.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    await jest.advanceTimersByTimeAsync(2);
    await outcome;
    await expect(waiting).rejects.toMatchObject({ nextRetryDelay: expect.anything() });
  });

  test('a server that says nothing is not held: every call goes at once', async () => {
    const slots = new EndpointSlots({}, 'model "m" at URL', () => undefined);
    const all = await Promise.all(Array.from({ length: 50 }, (_, i) => slots.take(call(`c${i}`))));
    all.forEach((slot) => slot.send());
    expect(slots.limit.inFlight).toBe(50);
    expect(slots.limit.limit).toBeUndefined();
  });

  test("the call gate holds a call for its endpoint's slot, then its rate limits; a call they hand back gives its slot back", async () => {
    const gate = new CallGate();
    const endpoint: LlmEndpoint = {
      baseURL: 'http://127.0.0.1:1/v1',
      model: 'm',
      temperature: 0,
      maxTokens: 16,
      apiKeyEnv: 'K',
      requestTimeoutMs: 1000,
      rpm: 6000,
    };
    const word = { kind: 'llama.cpp' as const, slots: 1 };
    const ticket = (key: string) => ({ role: 'judge', key, word, sinceMs: Date.now() });
    const first = await gate.admit(endpoint, 40, undefined, ticket('a'));
    expect(gate.inFlightLimitOf(endpoint)).toBe(1);
    let second = false;
    const next = gate.admit(endpoint, 40, undefined, ticket('b')).then((pass) => ((second = true), pass));
    await jest.advanceTimersByTimeAsync(100);
    expect(second).toBe(false);
    // Its answer frees the slot; the provider asks every call to wait longer than the gate waits.
    first.settle({
      usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
      status: 429,
      headers: new Headers({ 'retry-after-ms': String(MAX_GATE_WAIT_MS + 5000) }),
    });
    await expect(next).rejects.toMatchObject({ type: 'LlmRateLimitedError' });
    expect(second).toBe(false);
    // The slot the held call took is free again: the rate limits, not the slot, hold the next one.
    await expect(gate.admit(endpoint, 40, undefined, ticket('c'))).rejects.toMatchObject({
      type: 'LlmRateLimitedError',
    });
  });
});

describe('what a server says of itself', () => {
  /** A server that answers `routes` (path to JSON) and 404 to anything else. */
  async function serverAnswering(routes: Record<string, unknown>): Promise<{ url: string; close(): Promise<void> }> {
    const server: Server = createServer((req, res) => {
      const body = routes[req.url ?? ''];
      if (body === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}/v1`,
      close: () => new Promise((resolve) => server.close(() => resolve())),
    };
  }

  test.each([
    ["llama.cpp's server: its slots, from /props", { '/props': { total_slots: 3 } }, { kind: 'llama.cpp', slots: 3 }],
    [
      "llama-cpp-python's: one at a time, known by its API's title",
      { '/openapi.json': { info: { title: '🦙 llama.cpp Python API', version: '0.3.36' } } },
      { kind: 'llama-cpp-python', slots: 1 },
    ],
    ['Ollama: by /api/version, no count', { '/api/version': { version: '0.5.7' } }, { kind: 'Ollama' }],
    [
      'LM Studio: by its own model list, no count',
      { '/api/v0/models': { object: 'list', data: [{ id: 'qwen', compatibility_type: 'gguf' }] } },
      { kind: 'LM Studio' },
    ],
    ['a server that says nothing (OpenAI, vLLM)', { '/openapi.json': { info: { title: 'FastAPI' } } }, {}],
  ])('%s', async (_name, routes, word) => {
    const server = await serverAnswering(routes);
    try {
      expect(await askServer(server.url)).toEqual({ word, reached: true });
    } finally {
      await server.close();
    }
  });

  test('a server that cannot be reached says nothing yet: it is asked again later', async () => {
    const server = await serverAnswering({});
    await server.close();
    expect(await askServer(server.url)).toEqual({ word: {}, reached: false });
  });
});

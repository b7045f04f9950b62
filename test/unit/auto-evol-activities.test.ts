/**
 * Heartbeats of Auto Evol-Instruct's LLM activities in Temporal's MockActivityEnvironment: while a call is in flight
 * the activity heartbeats every HEARTBEAT_EVERY_MS (so a worker that dies mid-call is noticed within the heartbeat
 * timeout), and stops when the call ends. The LLM is a gateway whose answer the test releases; the clock is Jest's.
 */
import { createAutoEvolActivities, HEARTBEAT_EVERY_MS } from '../../activities/auto-evol';
import { LlmGateway, type Completion } from '../../activities/llm';
import type { LlmEndpoint } from '../../core/endpoints';
import type { RunStore } from '../../store/types';
import { ActivityEnv } from '../helpers/activity-env';

/** A gateway whose one call waits until the test answers or fails it. */
class HeldGateway extends LlmGateway {
  calls = 0;
  private settle?: { resolve: (c: Completion) => void; reject: (err: Error) => void };

  override complete(): Promise<Completion> {
    this.calls++;
    return new Promise((resolve, reject) => (this.settle = { resolve, reject }));
  }

  answer(text: string): void {
    this.settle!.resolve({ text, model: 'm', usage: { promptTokens: 3, completionTokens: 4, totalTokens: 7 } });
  }

  fail(err: Error): void {
    this.settle!.reject(err);
  }
}

const evol: LlmEndpoint = {
  baseURL: 'http://127.0.0.1:1/v1',
  model: 'm',
  temperature: 0,
  maxTokens: 64,
  apiKeyEnv: 'K',
  requestTimeoutMs: 60_000,
};
const input = { evol, method: 'Make the instruction harder.', instruction: 'Explain tides.' };

function setup() {
  const llm = new HeldGateway();
  // evolveWithMethod never touches the store.
  const { evolveWithMethod } = createAutoEvolActivities(llm, {} as RunStore);
  const env = new ActivityEnv();
  let heartbeats = 0;
  env.on('heartbeat', () => heartbeats++);
  return { llm, env, evolveWithMethod, heartbeats: () => heartbeats };
}

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

describe('an Auto Evol-Instruct LLM call heartbeats while it is in flight', () => {
  test('once at the start, then every HEARTBEAT_EVERY_MS until the answer, then never again', async () => {
    const { llm, env, evolveWithMethod, heartbeats } = setup();
    const result = env.call(evolveWithMethod, input);
    await jest.advanceTimersByTimeAsync(0);
    expect([llm.calls, heartbeats()]).toEqual([1, 1]);

    await jest.advanceTimersByTimeAsync(HEARTBEAT_EVERY_MS - 1);
    expect(heartbeats()).toBe(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(heartbeats()).toBe(2);
    await jest.advanceTimersByTimeAsync(3 * HEARTBEAT_EVERY_MS);
    expect(heartbeats()).toBe(5);

    llm.answer('Explain tides, and why there are two a day.');
    await expect(result).resolves.toEqual({
      ok: true,
      instruction: 'Explain tides, and why there are two a day.',
      usage: { promptTokens: 3, completionTokens: 4, totalTokens: 7 },
    });
    await jest.advanceTimersByTimeAsync(10 * HEARTBEAT_EVERY_MS);
    expect(heartbeats()).toBe(5);
  });

  test('a failed call stops the heartbeats too, and the failure is thrown as it came', async () => {
    const { llm, env, evolveWithMethod, heartbeats } = setup();
    const result = env.call(evolveWithMethod, input);
    const settled = result.catch((err: unknown) => err);
    await jest.advanceTimersByTimeAsync(HEARTBEAT_EVERY_MS);
    expect(heartbeats()).toBe(2);

    llm.fail(new Error('connection reset'));
    expect(await settled).toMatchObject({ message: 'connection reset' });
    await jest.advanceTimersByTimeAsync(10 * HEARTBEAT_EVERY_MS);
    expect(heartbeats()).toBe(2);
  });
});

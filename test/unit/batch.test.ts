/** The pure parts of Batch API mode (core/batch.ts): which calls make a batch, poll backoff, reading output rows. */
import {
  completionOf,
  DEFAULT_BATCH_SETTINGS,
  nextDueInMs,
  parseBatchRow,
  pollDelayMs,
  readyGroups,
  resolveBatchSettings,
  takeBatch,
  type QueuedCall,
} from '../../core/batch';
import { ConfigFileSchema, resolveLlmConfig } from '../../core/config';
import { DatasetRunConfigSchema, PROVIDER_BATCH_LIMITS } from '../../core/settings-schemas';
import { testRunConfig } from '../helpers/run-config';

function call(customId: string, group = 'g', queuedAtMs = 0, bytes = 100): QueuedCall {
  return {
    customId,
    workflowId: `wf-${customId}`,
    group,
    role: 'evolver',
    bytes,
    maxTokens: 10,
    failures: 0,
    queuedAtMs,
  };
}

const settings = resolveBatchSettings({ maxRequests: 3, maxBytes: 1000, maxWaitMs: 5000 });

describe('readyGroups', () => {
  test('a group is due when full by requests, full by bytes, or when its oldest call has waited maxWaitMs', () => {
    const queue = [call('a1', 'a'), call('a2', 'a'), call('a3', 'a'), call('b1', 'b', 900), call('c1', 'c', 0, 1200)];
    expect(readyGroups(queue, settings, 1000).sort()).toEqual(['a', 'c']);
    expect(readyGroups(queue, settings, 5900).sort()).toEqual(['a', 'b', 'c']);
    expect(readyGroups([call('b1', 'b', 900)], settings, 5899)).toEqual([]);
  });

  test('the next wake is when the oldest call has waited maxWaitMs; nothing queued, no wake', () => {
    expect(nextDueInMs([call('x', 'g', 1000), call('y', 'g', 3000)], settings, 2000)).toBe(4000);
    expect(nextDueInMs([call('x', 'g', 0)], settings, 9000)).toBe(0);
    expect(nextDueInMs([], settings, 0)).toBeUndefined();
  });
});

describe('takeBatch', () => {
  test('takes the oldest calls of one group, at most maxRequests of them, and leaves the rest queued in order', () => {
    const queue = [call('a1', 'a'), call('b1', 'b'), call('a2', 'a'), call('a3', 'a'), call('a4', 'a')];
    const { calls, bytes } = takeBatch(queue, 'a', settings);
    expect(calls.map((c) => c.customId)).toEqual(['a1', 'a2', 'a3']);
    expect(bytes).toBe(300);
    expect(queue.map((c) => c.customId)).toEqual(['b1', 'a4']);
  });

  test('stops before the bytes limit, but a single call larger than it still goes alone', () => {
    const queue = [call('big', 'a', 0, 1500), call('x', 'a', 0, 600), call('y', 'a', 0, 600)];
    expect(takeBatch(queue, 'a', settings).calls.map((c) => c.customId)).toEqual(['big']);
    expect(takeBatch(queue, 'a', settings).calls.map((c) => c.customId)).toEqual(['x']);
    expect(takeBatch(queue, 'a', settings).calls.map((c) => c.customId)).toEqual(['y']);
    expect(queue).toEqual([]);
  });
});

describe('pollDelayMs', () => {
  test('grows by half each poll from pollInitialMs and stops at pollMaxMs', () => {
    const s = resolveBatchSettings({ pollInitialMs: 1000, pollMaxMs: 3000 });
    expect([0, 1, 2, 3, 10].map((n) => pollDelayMs(n, s))).toEqual([1000, 1500, 2250, 3000, 3000]);
  });
});

describe('settings', () => {
  test("the defaults keep within the provider's limits, and a run config may leave them out (older runs)", () => {
    expect(DEFAULT_BATCH_SETTINGS.maxRequests).toBeLessThanOrEqual(PROVIDER_BATCH_LIMITS.requests);
    expect(DEFAULT_BATCH_SETTINGS.maxBytes).toBeLessThanOrEqual(PROVIDER_BATCH_LIMITS.bytes);
    expect(DatasetRunConfigSchema.safeParse(testRunConfig()).success).toBe(true);
    expect(DatasetRunConfigSchema.safeParse(testRunConfig(undefined, { batch: { maxRequests: 10 } })).success).toBe(
      true,
    );
  });

  test('the config file takes batch settings and `batch: true` per role, which reaches the resolved endpoint', () => {
    const file = ConfigFileSchema.parse({
      llm: { responder: { batch: true } },
      batch: { maxWaitMs: 0, failedRows: 'online' },
    });
    expect(file.batch).toEqual({ maxWaitMs: 0, failedRows: 'online' });
    const { llm } = resolveLlmConfig({ env: { OPENAI_API_KEY: 'x' }, file });
    expect([llm.evolver.batch, llm.responder.batch, llm.judge.batch]).toEqual([undefined, true, undefined]);
    expect(ConfigFileSchema.safeParse({ batch: { failedRows: 'later' } }).success).toBe(false);
  });

  test("settings beyond the provider's limits are refused", () => {
    const over = { ...testRunConfig(), batch: { maxRequests: PROVIDER_BATCH_LIMITS.requests + 1 } };
    expect(DatasetRunConfigSchema.safeParse(over).success).toBe(false);
  });
});

describe('parseBatchRow', () => {
  const body = {
    model: 'm',
    choices: [{ message: { content: 'hi' } }],
    usage: { prompt_tokens: 3, completion_tokens: 1 },
  };

  test('an answered row carries its completion', () => {
    const row = parseBatchRow(JSON.stringify({ custom_id: 'r1', response: { status_code: 200, body }, error: null }));
    expect(row).toEqual({ customId: 'r1', ok: true, body });
    expect(completionOf(body)).toEqual({
      text: 'hi',
      model: 'm',
      usage: { promptTokens: 3, completionTokens: 1, totalTokens: 4 },
    });
  });

  test('a row that failed by its own error is to be sent again, counted; an expired or cancelled one is not its fault', () => {
    const failed = {
      custom_id: 'r2',
      response: { status_code: 500, body: { error: { message: 'boom' } } },
      error: null,
    };
    expect(parseBatchRow(JSON.stringify(failed))).toEqual({
      customId: 'r2',
      ok: false,
      reason: 'HTTP 500: boom',
      retryable: true,
    });
    for (const code of ['batch_expired', 'batch_cancelled']) {
      const row = parseBatchRow(JSON.stringify({ custom_id: 'r3', response: null, error: { code, message: 'late' } }));
      expect(row).toMatchObject({ customId: 'r3', ok: false, retryable: false });
    }
  });

  test('lines that name no row are skipped', () => {
    expect(parseBatchRow('not json')).toBeUndefined();
    expect(parseBatchRow(JSON.stringify({ response: { status_code: 200 } }))).toBeUndefined();
  });

  test('cached prompt tokens are kept when the provider reports them (they are priced at the cached rate)', () => {
    const cached = { ...body, usage: { ...body.usage, prompt_tokens_details: { cached_tokens: 2 } } };
    expect(completionOf(cached).usage).toEqual({
      promptTokens: 3,
      completionTokens: 1,
      totalTokens: 4,
      cachedPromptTokens: 2,
    });
  });
});

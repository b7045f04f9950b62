/**
 * The Batch API activities in Temporal's MockActivityEnvironment, against the simulated LLM's Batch API in this
 * process and a real LocalRunStore: a row is stored and queued once however often its activity runs, a batch is made
 * once however often its submission runs (even when the answer to its creation was lost), collection keeps the rows a
 * batch finished before it expired, and a batch row's answer is judged as the online activity judges the same answer.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { createBatchActivities, type BatchCall } from '../../activities/batch';
import { createEvolutionActivities } from '../../activities/evolution';
import { LlmGateway } from '../../activities/llm';
import { BATCH_KEY_METADATA } from '../../core/batch';
import { batchResultSignal, enqueueBatchCallSignal } from '../../core/batch-messages';
import { GENERAL_OPERATIONS } from '../../core/operations';
import type { LlmConfig, LlmEndpoint } from '../../core/endpoints';
import { startSimLlm, type SimLlm } from '../../sim/llm-server';
import { LocalRunStore } from '../../store/local-run-store';
import { ActivityEnv } from '../helpers/activity-env';
import { testRunConfig } from '../helpers/run-config';
import { EVOLFORGE_RELEASE } from '../../core/release';

const RUN = 'unit-batch';
const addConstraints = GENERAL_OPERATIONS.find((op) => op.id === 'add-constraints')!;

let sim: SimLlm;
let dir: string;
let store: LocalRunStore;
let llm: LlmConfig;
const gateway = new LlmGateway({ env: () => ({}) });
let activities: ReturnType<typeof createBatchActivities>;

/** A stand-in for the activity context's client: records the signals and signal-with-starts it is asked for. */
function recordingClient() {
  const started: Array<{ workflowId: string; signal: unknown; signalArgs: unknown[] }> = [];
  const signalled: Array<{ workflowId: string; args: unknown[] }> = [];
  const client = {
    withAbortSignal: <R>(_signal: AbortSignal, fn: () => Promise<R>) => fn(),
    workflow: {
      signalWithStart: async (
        _type: string,
        options: { workflowId: string; signal: unknown; signalArgs: unknown[] },
      ) => {
        started.push({ workflowId: options.workflowId, signal: options.signal, signalArgs: options.signalArgs });
      },
      getHandle: (workflowId: string) => ({
        signal: async (def: unknown, ...args: unknown[]) => {
          expect(def).toBe(batchResultSignal);
          signalled.push({ workflowId, args });
        },
      }),
    },
  } as unknown as Client;
  return { client, started, signalled };
}

function mutateCall(instruction: string): BatchCall {
  return {
    kind: 'mutate',
    input: { evolver: llm.evolver, operation: addConstraints, instruction },
  };
}

beforeAll(async () => {
  sim = await startSimLlm({ batchCompletionDelayMs: 0 });
  const endpoint: LlmEndpoint = {
    baseURL: sim.url,
    model: 'sim-1',
    temperature: 0,
    maxTokens: 256,
    apiKeyEnv: 'EVOL_UNIT_NO_KEY',
    requestTimeoutMs: 5000,
    batch: true,
  };
  llm = { evolver: endpoint, responder: endpoint, judge: endpoint };
});

afterAll(() => sim?.close());

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-unit-batch-'));
  store = new LocalRunStore(dir);
  await store.createRun(
    {
      runId: RUN,
      createdAt: new Date(0).toISOString(),
      inputFile: 'inline',
      seedCount: 1,
      invalidRows: 0,
      duplicateRows: 0,
      config: { kind: 'dataset', ...testRunConfig(llm, { batch: { maxRequests: 5 } }) },
      release: EVOLFORGE_RELEASE,
    },
    [{ id: 's1', text: 'Explain tides.', source: { file: 'inline', line: 1 } }],
  );
  activities = createBatchActivities(gateway, store);
});

afterEach(() => {
  sim.clearRules();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Stores and queues rows for these instructions; their custom_ids. */
async function prepare(texts: string[]): Promise<string[]> {
  const { client } = recordingClient();
  const ids: string[] = [];
  for (const [i, text] of texts.entries()) {
    const prepared = await new ActivityEnv({}, client).call(activities.prepareBatchCall, {
      runId: RUN,
      instructionId: `s${i + 1}`,
      workflowId: `wf-${i + 1}`,
      callKey: 'r1.mutate.1',
      call: mutateCall(text),
    });
    ids.push(prepared.customId);
  }
  return ids;
}

describe('prepareBatchCall', () => {
  test('stores the row and queues it with the run batcher; run again (a retry), it queues the same row', async () => {
    const { client, started } = recordingClient();
    const input = {
      runId: RUN,
      instructionId: 's1',
      workflowId: 'wf-1',
      callKey: 'r1.mutate.1',
      call: mutateCall('Explain tides.'),
    };
    const first = await new ActivityEnv({}, client).call(activities.prepareBatchCall, input);
    const again = await new ActivityEnv({}, client).call(activities.prepareBatchCall, input);
    expect(first).toEqual({ customId: expect.stringMatching(/^r1\.mutate\.1-[0-9a-f]{24}$/), ready: false });
    expect(again).toEqual(first);
    expect(started).toHaveLength(2);
    expect(started[0]).toMatchObject({
      workflowId: `evol:batch:${RUN}`,
      signal: enqueueBatchCallSignal,
      signalArgs: [{ customId: first.customId, workflowId: 'wf-1', role: 'evolver', model: 'sim-1' }],
    });
    const stored = await store.batchRequest(RUN, first.customId);
    expect(JSON.parse(stored!.line)).toMatchObject({
      custom_id: first.customId,
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'sim-1', max_tokens: 256 },
    });
    // A different request (another parent) is another row.
    const other = await new ActivityEnv({}, client).call(activities.prepareBatchCall, {
      ...input,
      call: mutateCall('Explain volcanoes.'),
    });
    expect(other.customId).not.toBe(first.customId);
  });

  test('a call whose answer is already in the run store is ready at once, and nothing is queued', async () => {
    const [customId] = await prepare(['Explain tides.']);
    await store.saveBatchResult(RUN, { customId, batchId: 'b', body: { choices: [{ message: { content: 'x' } }] } });
    const { client, started } = recordingClient();
    const prepared = await new ActivityEnv({}, client).call(activities.prepareBatchCall, {
      runId: RUN,
      instructionId: 's1',
      workflowId: 'wf-1',
      callKey: 'r1.mutate.1',
      call: mutateCall('Explain tides.'),
    });
    expect(prepared).toEqual({ customId, ready: true });
    expect(started).toEqual([]);
  });
});

describe('submitBatch', () => {
  test('run twice with the same key (a retry after a crash), it makes one batch and finds it the second time', async () => {
    const customIds = await prepare(['Explain tides.', 'Explain volcanoes.']);
    const before = sim.batches().length;
    const input = { runId: RUN, role: 'evolver' as const, key: `k-${Date.now()}`, customIds, notBeforeMs: Date.now() };
    const first = await new ActivityEnv().call(activities.submitBatch, input);
    const second = await new ActivityEnv().call(activities.submitBatch, input);
    expect(first.found).toBe(false);
    expect(second).toMatchObject({ batchId: first.batchId, found: true });
    const made = sim.batches().slice(before);
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ metadata: { [BATCH_KEY_METADATA]: input.key }, customIds });
  });

  test('when the answer to the creation is lost, the retry finds the batch instead of making a second one', async () => {
    const customIds = await prepare(['Explain tides.']);
    const before = sim.batches().length;
    sim.addBatchFault({ dropCreateResponse: true });
    const input = {
      runId: RUN,
      role: 'evolver' as const,
      key: `lost-${Date.now()}`,
      customIds,
      notBeforeMs: Date.now(),
    };
    await expect(new ActivityEnv().call(activities.submitBatch, input)).rejects.toMatchObject({ nonRetryable: false });
    const retried = await new ActivityEnv().call(activities.submitBatch, input);
    expect(retried.found).toBe(true);
    expect(sim.batches().slice(before)).toHaveLength(1);
  });
});

describe('collectBatch and finishBatchCall', () => {
  test('an expired batch: the rows it finished are kept and their instructions told; the rest come back unfinished', async () => {
    const customIds = await prepare(['Explain tides.', 'Explain volcanoes.', 'Explain compilers.', 'Explain chess.']);
    sim.addBatchFault({ expireAfterFraction: 0.5 });
    const key = `exp-${Date.now()}`;
    const { batchId } = await new ActivityEnv().call(activities.submitBatch, {
      runId: RUN,
      role: 'evolver',
      key,
      customIds,
      notBeforeMs: Date.now(),
    });
    expect(await new ActivityEnv().call(activities.pollBatch, { runId: RUN, role: 'evolver', batchId })).toMatchObject({
      status: 'expired',
      counts: { total: 4, completed: 2, failed: 2 },
    });
    const { client, signalled } = recordingClient();
    const collected = await new ActivityEnv({}, client).call(activities.collectBatch, {
      runId: RUN,
      role: 'evolver',
      batchId,
      customIds,
    });
    expect(collected).toMatchObject({ done: 2, failed: [], unfinished: customIds.slice(2) });
    expect(signalled.map((s) => s.workflowId)).toEqual(['wf-1', 'wf-2']);
    expect(signalled[0].args).toEqual([{ customId: customIds[0], outcome: 'done' }]);
    expect(await store.batchResult(RUN, customIds[0])).toBeDefined();
    expect(await store.batchResult(RUN, customIds[2])).toBeUndefined();
  });

  test("a row's answer is judged as the online activity judges the same answer (gates included)", async () => {
    const customIds = await prepare(['Explain tides.']);
    const { batchId } = await new ActivityEnv().call(activities.submitBatch, {
      runId: RUN,
      role: 'evolver',
      key: `judge-${Date.now()}`,
      customIds,
      notBeforeMs: Date.now(),
    });
    await new ActivityEnv().call(activities.pollBatch, { runId: RUN, role: 'evolver', batchId });
    await new ActivityEnv({}, recordingClient().client).call(activities.collectBatch, {
      runId: RUN,
      role: 'evolver',
      batchId,
      customIds,
    });
    const call = mutateCall('Explain tides.');
    const batched = await new ActivityEnv().call(activities.finishBatchCall, {
      runId: RUN,
      customId: customIds[0],
      call,
    });
    const online = await new ActivityEnv().call(createEvolutionActivities(gateway).mutate, call.input as never);
    expect(batched).toEqual({ ...online, mode: 'batch' });
    expect(batched).toMatchObject({ ok: true, gate: { passed: true } });
  });

  test('a refused rewrite in a batch fails the same gate as online', async () => {
    sim.addRule({ match: { kind: 'mutate' }, content: "I'm sorry, but I can't help with that request." });
    const customIds = await prepare(['Explain tides.']);
    const { batchId } = await new ActivityEnv().call(activities.submitBatch, {
      runId: RUN,
      role: 'evolver',
      key: `refused-${Date.now()}`,
      customIds,
      notBeforeMs: Date.now(),
    });
    await new ActivityEnv().call(activities.pollBatch, { runId: RUN, role: 'evolver', batchId });
    await new ActivityEnv({}, recordingClient().client).call(activities.collectBatch, {
      runId: RUN,
      role: 'evolver',
      batchId,
      customIds,
    });
    const batched = await new ActivityEnv().call(activities.finishBatchCall, {
      runId: RUN,
      customId: customIds[0],
      call: mutateCall('Explain tides.'),
    });
    expect(batched).toMatchObject({ ok: true, gate: { passed: false, rule: 'evolver-refused' }, mode: 'batch' });
  });

  test('a row that failed by its own error comes back as failed (a fault scripted over HTTP, as for a separate simulator)', async () => {
    const base = sim.url.replace(/\/v1$/, '');
    const scripted = await fetch(`${base}/_sim/batch-faults`, {
      method: 'POST',
      body: JSON.stringify({ failRows: 1 }),
    });
    expect(scripted.status).toBe(200);
    const customIds = await prepare(['Explain tides.', 'Explain volcanoes.']);
    const { batchId } = await new ActivityEnv().call(activities.submitBatch, {
      runId: RUN,
      role: 'evolver',
      key: `failrow-${Date.now()}`,
      customIds,
      notBeforeMs: Date.now(),
    });
    await new ActivityEnv().call(activities.pollBatch, { runId: RUN, role: 'evolver', batchId });
    const collected = await new ActivityEnv({}, recordingClient().client).call(activities.collectBatch, {
      runId: RUN,
      role: 'evolver',
      batchId,
      customIds,
    });
    expect(collected).toMatchObject({ done: 1, failed: [customIds[0]], unfinished: [] });
    expect(collected.reasons[0]).toMatch(/HTTP 500/);
    const listed = (await (await fetch(`${base}/_sim/batches`)).json()) as Array<{ id: string }>;
    expect(listed.map((b) => b.id)).toContain(batchId);
  });
});

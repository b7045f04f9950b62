/**
 * Batch API mode end to end, on real workers and a real Temporal dev server, against the simulated LLM's Batch API:
 * a `--batch` run gives the records an online run of the same seeds gives (the simulated LLM is deterministic) at
 * batch prices; a batch that expires with half its rows done loses none of them, and failed rows are sent again.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { SIMULATED_BATCH_SETTINGS, type BatchSettings } from '../core/batch';
import type { RunProgress } from '../core/dataset';
import { progressQuery, resumeSignal } from '../core/messages';
import type { Lineage } from '../core/lineage';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import { batchLlm, comparable, FAST_BATCHES } from './helpers/batch';
import { historiesText } from './helpers/histories';
import { collect, idsOf, sampleTexts, seedsFromTexts, startRun } from './helpers/runs';
import { runCli, startWorkerProcess } from './helpers/worker-process';
import {
  connectClient,
  eventually,
  llmAt,
  startWorker,
  testAddress,
  uniqueTaskQueue,
  type TestWorker,
} from './helpers/temporal';

const PRICES = { 'sim-1': { inputPerMillion: 1, outputPerMillion: 4 } };

const byId = (a: { instructionId: string }, b: { instructionId: string }) =>
  a.instructionId.localeCompare(b.instructionId);

describe('evol run --batch', () => {
  let sim: SimLlm;
  let client: Client;
  let connection: Connection;
  let worker: TestWorker;
  let store: LocalRunStore;
  let storeDir: string;
  const taskQueue = uniqueTaskQueue('batch');
  const seeds = seedsFromTexts(sampleTexts(10, 'batch'));
  let online: Lineage[];

  beforeAll(async () => {
    sim = await startSimLlm({ batchCompletionDelayMs: 200 });
    ({ client, connection } = await connectClient());
    storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-batch-'));
    store = new LocalRunStore(storeDir);
    worker = await startWorker({ taskQueue, store, env: () => ({ EVOL_TEST_API_KEY: 'k' }) });
    const runId = `online-${Date.now().toString(36)}`;
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId,
      seeds,
      llm: llmAt(sim.url),
      config: { rounds: 2, concurrency: 10, answerSeeds: true, prices: PRICES },
    });
    await handle.result();
    online = (await collect(store.records(runId))).sort(byId);
    expect(online).toHaveLength(seeds.length);
  });

  afterAll(async () => {
    await worker?.close();
    await connection?.close();
    await sim?.close();
    fs.rmSync(storeDir, { recursive: true, force: true });
  });

  async function batchRun(
    label: string,
    settings: BatchSettings = {},
  ): Promise<{ runId: string; records: Lineage[]; final: RunProgress }> {
    const runId = `${label}-${Date.now().toString(36)}`;
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId,
      seeds,
      llm: batchLlm(sim.url),
      config: {
        rounds: 2,
        concurrency: 10,
        answerSeeds: true,
        prices: PRICES,
        batch: { ...FAST_BATCHES, ...settings },
      },
    });
    const final = (await handle.result()) as RunProgress;
    return { runId, records: (await collect(store.records(runId))).sort(byId), final };
  }

  test('gives the records an online run of the same seeds gives, every call in a batch, at half the price', async () => {
    const chatBefore = sim.requests().filter((r) => !r.batchId).length;
    const batchesBefore = sim.batches().length;
    const { runId, records, final } = await batchRun('batch');
    expect(final.counts).toMatchObject({ done: seeds.length, completed: seeds.length, failed: 0 });
    expect(records.map(comparable)).toEqual(online.map(comparable));
    // Every call went through the Batch API: no chat request, and each row was in exactly one batch.
    expect(sim.requests().filter((r) => !r.batchId).length).toBe(chatBefore);
    const made = sim.batches().slice(batchesBefore);
    expect(made.length).toBeGreaterThan(0);
    const rows = made.flatMap((b) => b.customIds);
    expect(new Set(rows).size).toBe(rows.length);
    expect(made.every((b) => b.status === 'completed')).toBe(true);
    // At least the seed's answer and every round's rewrite were asked in batches.
    expect(rows.length).toBeGreaterThanOrEqual(online.reduce((n, r) => n + 1 + r.steps.length, 0));
    // The batcher's history holds ids and counts: no seed, no request, no answer.
    const batcher = await collect(client.workflow.list({ query: `WorkflowId = "${idsOf(runId).batch}"` }));
    expect(batcher.length).toBeGreaterThan(0);
    const text = historiesText(
      await Promise.all(batcher.map((e) => client.workflow.getHandle(e.workflowId, e.runId).fetchHistory())),
    );
    expect(text).toContain(made[0].customIds[0]);
    for (const record of records) {
      expect(text).not.toContain(record.seed);
      for (const step of record.steps) {
        if (step.instruction) expect(text).not.toContain(step.instruction);
        if (step.response) expect(text).not.toContain(step.response.slice(0, 60));
      }
    }
    // Batch prices: half the online ones (the default batch columns).
    for (const [i, record] of records.entries()) {
      expect(online[i].costUsd).toBeGreaterThan(0);
      expect(record.costUsd).toBeCloseTo(online[i].costUsd / 2, 12);
    }
  });

  test('a batch that would cross the budget is not sent: the run pauses saying so, and a raised budget sends it', async () => {
    const runId = `budget-${Date.now().toString(36)}`;
    const batchesBefore = sim.batches().length;
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId,
      seeds,
      llm: batchLlm(sim.url),
      config: {
        rounds: 2,
        concurrency: 10,
        answerSeeds: true,
        prices: PRICES,
        // Less than the first batch (ten rewrites and ten seed answers) is priced at.
        budget: { maxTokens: 1500 },
        batch: FAST_BATCHES,
      },
    });
    const paused = await eventually(
      async () => {
        const p = await handle.query(progressQuery);
        return p.status === 'paused' ? p : undefined;
      },
      'the run to pause before its first batch',
      30_000,
    );
    expect(paused.pauseReason).toMatch(
      /^token budget: the next batch \(\d+ rows, about \d+ tokens\) would take the 0 tokens spent past 1500/,
    );
    expect(sim.batches().length).toBe(batchesBefore);
    await handle.signal(resumeSignal, { budget: { maxTokens: 10_000_000 } });
    const final = (await handle.result()) as RunProgress;
    expect(final.counts).toMatchObject({ done: seeds.length, completed: seeds.length, failed: 0 });
    expect(sim.batches().length).toBeGreaterThan(batchesBefore);
    // Every row's spend was counted as its answer was read, at batch prices.
    expect(final.spent!.calls).toBeGreaterThan(0);
    expect(final.spent!.costUsd).toBeCloseTo(final.counts.costUsd, 9);
  });

  test('a batch that expires with half its rows done loses none of them; failed rows go in the next batch', async () => {
    const batchesBefore = sim.batches().length;
    sim.addBatchFault({ expireAfterFraction: 0.5 });
    sim.addBatchFault({ failRows: 2 });
    const { records, final } = await batchRun('expiry');
    expect(final.counts).toMatchObject({ done: seeds.length, completed: seeds.length, failed: 0 });
    expect(records.map(comparable)).toEqual(online.map(comparable));

    const made = sim.batches().slice(batchesBefore);
    const expired = made[0];
    expect(expired.status).toBe('expired');
    expect(expired.customIds.length).toBeGreaterThanOrEqual(2);
    const half = Math.floor(expired.customIds.length / 2);
    // The second batch's first two rows failed (with a 500 each): each went in exactly one later batch.
    const failing = made[1];
    const failedRows = failing.customIds.slice(0, 2);
    const afterFailing = made.slice(2).flatMap((b) => b.customIds);
    for (const id of failedRows) expect(afterFailing.filter((l) => l === id)).toHaveLength(1);
    // The rows done before the expiry are never asked again; every other row is asked once more in a later batch
    // (twice when it was also one of the failed rows).
    const later = made.slice(1).flatMap((b) => b.customIds);
    for (const id of expired.customIds.slice(0, half)) expect(later).not.toContain(id);
    for (const id of expired.customIds.slice(half)) {
      expect(later.filter((l) => l === id)).toHaveLength(failedRows.includes(id) ? 2 : 1);
    }
  });

  test('with failedRows: online, a row that failed in its batch is asked online at once', async () => {
    const chatBefore = sim.requests().filter((r) => !r.batchId).length;
    const batchesBefore = sim.batches().length;
    sim.addBatchFault({ failRows: 2 });
    const { records, final } = await batchRun('online-rows', { failedRows: 'online' });
    expect(final.counts).toMatchObject({ done: seeds.length, completed: seeds.length, failed: 0 });
    expect(records.map(comparable)).toEqual(online.map(comparable));
    const failing = sim.batches()[batchesBefore];
    const later = sim
      .batches()
      .slice(batchesBefore + 1)
      .flatMap((b) => b.customIds);
    for (const id of failing.customIds.slice(0, 2)) expect(later).not.toContain(id);
    // Exactly those two calls were made online.
    expect(sim.requests().filter((r) => !r.batchId).length - chatBefore).toBe(2);
  });

  test('evol run --batch on the simulated LLM: batch settings for it, and evol status lists the open batches', async () => {
    const cliQueue = uniqueTaskQueue('batch-cli');
    const cliDir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-batch-cli-'));
    const env = { TEMPORAL_ADDRESS: testAddress(), EVOL_STORE_DIR: path.join(cliDir, 'runs'), EVOL_DATA_DIR: cliDir };
    // A worker process: its simulated LLM (sim://local) is its own, started when a role first uses it.
    const cliWorker = await startWorkerProcess({ address: testAddress(), taskQueue: cliQueue, env });
    try {
      const input = path.join(cliDir, 'seeds.jsonl');
      fs.writeFileSync(
        input,
        sampleTexts(3, 'cli')
          .map((instruction) => JSON.stringify({ instruction }))
          .join('\n'),
      );
      const runId = `batch-cli-${Date.now().toString(36)}`;
      const evol = (args: string[]) => runCli(args, { cwd: cliDir, env, timeoutMs: 60_000 });
      const started = await evol(
        ['run', '--input', input, '--run-id', runId, '--rounds', '1', '--batch'].concat([
          '--llm',
          'sim',
          '--detach',
          '--task-queue',
          cliQueue,
        ]),
      );
      expect(started.code).toBe(0);
      expect(started.stderr).toMatch(/Batch API: the evolver, responder, judge calls go in batches/);
      const cliStore = new LocalRunStore(path.join(cliDir, 'runs'));
      const meta = await cliStore.readMeta(runId);
      expect(meta.config.kind === 'dataset' && meta.config.llm.responder.batch).toBe(true);
      expect(meta.config.kind === 'dataset' && meta.config.batch).toEqual(SIMULATED_BATCH_SETTINGS);

      const status = await evol(['status', runId]);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/batches: \d+ open, \d+ calls queued/);
      const json = await evol(['status', runId, '--json']);
      expect(JSON.parse(json.stdout).batches).toMatchObject({ open: expect.any(Array), queued: expect.any(Number) });

      await eventually(
        async () => ((await collect(cliStore.records(runId))).length === 3 ? true : undefined),
        'the three records of the --batch run',
        120_000,
      );
    } finally {
      await cliWorker.kill('SIGTERM');
      fs.rmSync(cliDir, { recursive: true, force: true });
    }
  });
});

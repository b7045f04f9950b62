/**
 * Batch API mode through crashes: the answer to a batch's creation lost (the crash between creating a batch and
 * recording it), a worker SIGKILLed and the Temporal server SIGKILLed and restarted on its SQLite file while batches
 * are pending at the provider. No batch may be submitted twice (counted at the simulated LLM), no row may be sent in
 * two batches, and the run must end with one record per seed. Then pause and cancel with batches in flight: they are
 * cancelled at the provider, the rows they finished are kept, and (after a pause) the rest are sent on resume.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { cancelRun, openBatches, pauseRun, resumeRun } from '../client/api';
import { BATCH_KEY_METADATA } from '../core/batch';
import type { RunProgress } from '../core/dataset';
import { findFreePorts, startDevServer, type DevServer } from '../server/dev-server';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import { batchLlm, FAST_BATCHES } from './helpers/batch';
import { collect, idsOf, sampleTexts, seedsFromTexts, startRun } from './helpers/runs';
import { eventually, uniqueTaskQueue } from './helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from './helpers/worker-process';

/** Long enough that a crash finds batches pending at the provider. */
const BATCH_DELAY_MS = 2500;

async function resultOf(handle: WorkflowHandle): Promise<RunProgress> {
  return eventually(async () => (await handle.result()) as RunProgress, `run ${handle.workflowId} to end`, 240_000);
}

describe('Batch API mode through a lost answer, a worker SIGKILL and a server restart', () => {
  let dir: string;
  let server: DevServer;
  let port: number;
  let sim: SimLlm;
  let connection: Connection;
  let client: Client;
  const workers: WorkerProcess[] = [];
  const taskQueue = uniqueTaskQueue('batch-crash');
  const env = () => ({ EVOL_STORE_DIR: path.join(dir, 'runs'), EVOL_TEST_API_KEY: 'k' });
  const startServer = () =>
    startDevServer({ dataDir: path.join(dir, 'temporal'), port, headless: true, reuseExisting: false });
  const startWorker = async () => {
    workers.push(await startWorkerProcess({ address: `127.0.0.1:${port}`, taskQueue, env: env() }));
    return workers[workers.length - 1];
  };
  /** Waits until at least `n` batches were made and one of them is still running at the provider. */
  const pendingBatch = (n: number) =>
    eventually(
      async () => {
        const batches = sim.batches();
        const running = batches.some((b) => Date.now() - b.createdAtMs < BATCH_DELAY_MS - 500);
        return batches.length >= n && running ? true : undefined;
      },
      `${n} batches, one pending`,
      120_000,
    );

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-batch-crash-'));
    [port] = await findFreePorts(1);
    server = await startServer();
    sim = await startSimLlm({ batchCompletionDelayMs: BATCH_DELAY_MS });
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection });
  });

  afterAll(async () => {
    for (const w of workers) await w.kill();
    await connection?.close();
    await sim?.close();
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('submits no batch twice and finishes with one record per seed', async () => {
    const store = new LocalRunStore(path.join(dir, 'runs'));
    const runId = `batch-crash-${Date.now().toString(36)}`;
    const seeds = seedsFromTexts(sampleTexts(10, runId));
    // The first batch is made, but the answer to its creation never reaches the activity.
    sim.addBatchFault({ dropCreateResponse: true });
    let worker = await startWorker();
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId,
      seeds,
      llm: batchLlm(sim.url),
      config: { rounds: 2, concurrency: 10, answerSeeds: true, batch: { ...FAST_BATCHES, pollInitialMs: 300 } },
    });

    await pendingBatch(1);
    await worker.kill('SIGKILL');
    worker = await startWorker();

    await pendingBatch(3);
    process.kill(server.pid!, 'SIGKILL');
    await server.exited;
    server = await startServer();

    const final = await resultOf(handle);
    expect(final.counts).toMatchObject({ done: seeds.length, completed: seeds.length, failed: 0 });
    const records = await collect(store.records(runId));
    expect(new Set(records.map((r) => r.instructionId)).size).toBe(seeds.length);

    const batches = sim.batches();
    expect(batches.length).toBeGreaterThanOrEqual(4);
    // Each batch the batcher cut was made once at the provider: its key is on exactly one batch...
    const keys = batches.map((b) => b.metadata[BATCH_KEY_METADATA]);
    expect(keys.every(Boolean)).toBe(true);
    expect(new Set(keys).size).toBe(keys.length);
    // ... and no row went in two batches (no row failed and no batch expired here).
    const rows = batches.flatMap((b) => b.customIds);
    expect(new Set(rows).size).toBe(rows.length);
    expect(batches.every((b) => b.status === 'completed')).toBe(true);
  });

  test('pause cancels the open batch at the provider and holds the rest; resume sends what it had not finished', async () => {
    if (workers.every((w) => w.child.exitCode !== null || w.child.signalCode !== null)) await startWorker();
    const store = new LocalRunStore(path.join(dir, 'runs'));
    const runId = `batch-pause-${Date.now().toString(36)}`;
    const seeds = seedsFromTexts(sampleTexts(8, runId));
    const before = sim.batches().length;
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId,
      seeds,
      llm: batchLlm(sim.url),
      config: { rounds: 1, concurrency: 8, batch: { ...FAST_BATCHES, pollInitialMs: 300 } },
    });
    await pendingBatch(before + 1);
    await pauseRun(handle);
    const meta = await store.readMeta(runId);
    // Cancelled at the provider, collected, its unfinished rows held in the queue while paused.
    const held = await eventually(
      async () => {
        const status = await openBatches(client, meta);
        return status?.paused && status.open.length === 0 && status.queued > 0 ? status : undefined;
      },
      'the open batch cancelled and its rows held',
      60_000,
    );
    const cancelled = sim.batches()[before];
    expect(cancelled.status).toBe('cancelled');
    expect(held.queued).toBeGreaterThanOrEqual(cancelled.customIds.length - cancelled.requestCounts.completed);
    expect(sim.batches()).toHaveLength(before + 1);

    await resumeRun(handle);
    const final = await resultOf(handle);
    expect(final.counts).toMatchObject({ done: seeds.length, completed: seeds.length, failed: 0 });
    const later = sim
      .batches()
      .slice(before + 1)
      .flatMap((b) => b.customIds);
    const finishedBeforeCancel = cancelled.requestCounts.completed;
    for (const id of cancelled.customIds.slice(0, finishedBeforeCancel)) expect(later).not.toContain(id);
    for (const id of cancelled.customIds.slice(finishedBeforeCancel)) {
      expect(later.filter((l) => l === id)).toHaveLength(1);
    }
  });

  test('cancel cancels the open batch at the provider and ends the batcher', async () => {
    const store = new LocalRunStore(path.join(dir, 'runs'));
    const runId = `batch-cancel-${Date.now().toString(36)}`;
    const before = sim.batches().length;
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId,
      seeds: seedsFromTexts(sampleTexts(6, runId)),
      llm: batchLlm(sim.url),
      config: { rounds: 1, concurrency: 6, batch: { ...FAST_BATCHES, pollInitialMs: 300 } },
    });
    await pendingBatch(before + 1);
    await cancelRun(handle);
    await eventually(
      async () =>
        (await client.workflow.getHandle(idsOf(runId).batch).describe()).status.name === 'CANCELLED' ? true : undefined,
      'the batcher cancelled',
      60_000,
    );
    expect(sim.batches()[before].status).toBe('cancelled');
  });
});

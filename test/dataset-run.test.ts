import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { createDatasetRun, exportRun, requireRunWorkflow, startDatasetRun } from '../client/api';
import { readSeedFile } from '../client/input-file';
import type { RunProgress } from '../core/dataset';
import { runWorkflowIds } from '../core/ids';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import { pauseSignal, resumeSignal } from '../core/messages';
import {
  collect,
  idsOf,
  sampleTexts,
  seedsFromTexts,
  sharedDataFile,
  startRun,
  testRunConfig,
  waitForProgress,
} from './helpers/runs';
import { connectClient, eventually, llmAt, startWorker, uniqueTaskQueue, type TestWorker } from './helpers/temporal';

const selfInstruct = sharedDataFile('self_instruct_seed_tasks.jsonl');

describe('datasetEvolution: a whole seed file as one durable run', () => {
  let sim: SimLlm;
  let client: Client;
  let connection: Connection;
  let worker: TestWorker;
  let store: LocalRunStore;
  let storeDir: string;
  let taskQueue: string;
  let counter = 0;
  const runId = (label: string) => `${label}-${process.pid}-${Date.now().toString(36)}-${counter++}`;

  beforeAll(async () => {
    sim = await startSimLlm();
    ({ client, connection } = await connectClient());
    storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-runs-'));
    store = new LocalRunStore(storeDir);
    taskQueue = uniqueTaskQueue('dataset');
    worker = await startWorker({
      taskQueue,
      store,
      env: () => ({ EVOL_TEST_API_KEY: 'k' }),
      maxConcurrentActivityTaskExecutions: 64,
    });
  });

  afterAll(async () => {
    await worker?.close();
    await connection?.close();
    await sim?.close();
    fs.rmSync(storeDir, { recursive: true, force: true });
  });

  afterEach(() => sim.clearRules());

  (selfInstruct ? test : test.skip)(
    'the 175 self-instruct seeds evolve 3 rounds: one lineage per seed, no duplicate rows, consistent lineage ids, history bounded by continue-as-new',
    async () => {
      const report = await readSeedFile(selfInstruct!);
      expect(report.seeds).toHaveLength(175);
      const id = runId('selfinstruct');
      const handle = await startRun({
        client,
        store,
        taskQueue,
        runId: id,
        seeds: report.seeds,
        llm: llmAt(sim.url),
        config: { rounds: 3, concurrency: 24, pageSize: 40 },
      });
      const final = (await handle.result()) as RunProgress;
      expect(final.status).toBe('completed');
      expect(final.counts).toMatchObject({ done: 175, completed: 175, failed: 0 });
      expect(final.continuedAsNew).toBeGreaterThan(0);

      const records = await collect(store.records(id));
      expect(records).toHaveLength(175);
      expect(new Set(records.map((r) => r.instructionId))).toEqual(new Set(report.seeds.map((s) => s.id)));
      for (const record of records) {
        expect(record.steps.map((s) => s.round)).toEqual([1, 2, 3]);
        expect(record.seed).toBe(report.seeds.find((s) => s.id === record.instructionId)!.text);
      }
      const passed = records.flatMap((r) => r.steps).filter((s) => s.verdict.passed).length;
      expect(final.counts.passedByRound.reduce((a, b) => a + b, 0)).toBe(passed);

      const out = path.join(storeDir, `${id}.jsonl`);
      const exported = await exportRun(store, id, {
        format: 'messages',
        rounds: 'all',
        includeSeeds: true,
        shuffle: true,
        seed: 3,
        out,
      });
      const rows = fs
        .readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(rows).toHaveLength(exported.stats.rows);
      expect(rows.length).toBe(passed + 175);
      const rowIds = rows.map((r) => r._evol.rowId);
      expect(new Set(rowIds).size).toBe(rowIds.length);
      const byId = new Map(rows.map((r) => [r._evol.rowId, r]));
      for (const row of rows.filter((r) => r._evol.round > 0)) {
        const parent = byId.get(row._evol.parentId);
        expect(parent?._evol.seedId).toBe(row._evol.seedId);
        expect(parent._evol.round).toBeLessThan(row._evol.round);
      }

      // Continue-as-new really happened: the run's workflow id has several executions.
      const executions = [];
      for await (const e of client.workflow.list({ query: `WorkflowId = "${idsOf(id).dataset}"` })) executions.push(e);
      expect(executions.length).toBe(final.continuedAsNew + 1);
    },
  );

  test("the paper's final mix: seeds without an answer are answered once in the run, and the export holds seeds and rounds", async () => {
    const id = runId('mix');
    const seeds = seedsFromTexts(sampleTexts(6, 'mix'));
    // Two seeds come with their own answer: those are not asked again.
    seeds[0].output = 'The file already answers this one.';
    seeds[3].output = 'And this one.';
    sim.resetRequests();
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId: id,
      seeds,
      llm: llmAt(sim.url),
      config: { rounds: 2, answerSeeds: true },
    });
    const final = (await handle.result()) as RunProgress;
    expect(final.counts).toMatchObject({ done: 6, completed: 6 });
    const records = await collect(store.records(id));
    for (const record of records) {
      const own = seeds.find((s) => s.id === record.instructionId)!.output;
      if (own) expect(record.seedResponse).toBeUndefined();
      else expect(record.seedResponse?.length).toBeGreaterThan(0);
    }
    // Asked once each: every responder request is a round's response, or one of the four seeds' answers.
    const answeredRounds = records.flatMap((r) => r.steps).filter((s) => s.response !== '').length;
    expect(sim.requests().filter((r) => r.kind === 'respond')).toHaveLength(answeredRounds + 4);
    // Each instruction was started with what it reads before its first round (the activity that started it read it):
    // its first workflow task schedules its first calls, with no local activity (marker) of its own before them.
    for (const seed of [seeds[0], seeds[1]]) {
      const { events } = await client.workflow.getHandle(runWorkflowIds(id).instruction(seed.id)).fetchHistory();
      const firstCall = events!.findIndex((e) => e.activityTaskScheduledEventAttributes);
      const before = events!.slice(0, firstCall);
      expect(before.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toEqual([]);
      expect(before.filter((e) => e.workflowTaskCompletedEventAttributes)).toHaveLength(1);
    }
    const out = path.join(storeDir, `${id}.json`);
    const exported = await exportRun(store, id, {
      format: 'alpaca',
      rounds: 'all',
      includeSeeds: true,
      shuffle: true,
      seed: 1,
      out,
    });
    expect(exported.stats.seedsWithoutOutput).toBe(0);
    const rows = JSON.parse(fs.readFileSync(out, 'utf8')) as Array<{ output: string; _evol: { round: number } }>;
    const seedRows = rows.filter((r) => r._evol.round === 0);
    expect(seedRows).toHaveLength(6);
    expect(seedRows.map((r) => r.output)).toEqual(expect.arrayContaining(['The file already answers this one.']));
    const passed = records.flatMap((r) => r.steps).filter((s) => s.verdict.passed).length;
    expect(rows).toHaveLength(6 + passed);
    // Shuffled: not in seed and round order.
    const ordered = [...rows].sort((a, b) => JSON.stringify(a._evol).localeCompare(JSON.stringify(b._evol)));
    expect(rows).not.toEqual(ordered);
  });

  test('while paused no LLM call is made; after resume the run finishes with one record per seed', async () => {
    const id = runId('pause');
    const seeds = seedsFromTexts(sampleTexts(30, 'pause'));
    sim.addRule({ match: { contains: '(pause ' }, latencyMs: 150 });
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId: id,
      seeds,
      llm: llmAt(sim.url),
      config: { concurrency: 6 },
    });
    await waitForProgress(handle, (p) => p.counts.done >= 3, 'three instructions done');
    await handle.signal(pauseSignal, { reason: 'test pause' });
    const paused = await waitForProgress(
      handle,
      (p) => p.status === 'paused' && p.pausePropagated,
      'the pause to reach every instruction',
    );
    expect(paused.pauseReason).toBe('test pause');

    // In-flight steps finish; then the server must see nothing more.
    let last = -1;
    await eventually(async () => {
      const { total, inFlight } = sim.stats();
      const settled = inFlight === 0 && total === last;
      last = total;
      return settled ? true : undefined;
    }, 'in-flight LLM calls to finish');
    const callsAtRest = sim.stats().total;
    const doneAtRest = (await waitForProgress(handle, () => true, 'progress')).counts.done;
    const watchUntil = Date.now() + 2000;
    while (Date.now() < watchUntil) {
      expect(sim.stats().total).toBe(callsAtRest);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(doneAtRest).toBeLessThan(30);

    await handle.signal(resumeSignal, {});
    const final = (await handle.result()) as RunProgress;
    expect(final.counts).toMatchObject({ done: 30, completed: 30 });
    expect(await collect(store.records(id))).toHaveLength(30);
  });

  test('a token budget pauses the run at the limit and a raised budget lets it finish', async () => {
    const id = runId('budget');
    const seeds = seedsFromTexts(sampleTexts(24, 'budget'));
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId: id,
      seeds,
      llm: llmAt(sim.url),
      config: { concurrency: 2, budget: { maxTokens: 4000 } },
    });
    const paused = await waitForProgress(handle, (p) => p.status === 'paused', 'the budget to pause the run');
    expect(paused.pauseReason).toMatch(/token budget reached/);
    expect(paused.spent!.usage.totalTokens).toBeGreaterThanOrEqual(4000);
    expect(paused.counts.done).toBeLessThan(24);
    await handle.signal(resumeSignal, { budget: { maxTokens: 10_000_000 } });
    const final = (await handle.result()) as RunProgress;
    expect(final.counts.done).toBe(24);
    expect(final.budget.maxTokens).toBe(10_000_000);
  });

  test('an invalid key pauses the run instead of burning retries across the dataset; resume finishes it', async () => {
    const id = runId('badkey');
    const seeds = seedsFromTexts(sampleTexts(12, 'badkey'));
    // The first instruction fails at once; the other two running ones fail only after the user has resumed.
    sim.addRule({ match: { contains: '(badkey 1).' }, status: 401 });
    sim.addRule({ match: { contains: '(badkey 2).' }, status: 401, latencyMs: 2000 });
    sim.addRule({ match: { contains: '(badkey 3).' }, status: 401, latencyMs: 2000 });
    sim.resetRequests();
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId: id,
      seeds,
      llm: llmAt(sim.url),
      config: { concurrency: 3 },
    });
    const paused = await waitForProgress(handle, (p) => p.status === 'paused', 'the run to pause itself');
    expect(paused.pauseReason).toMatch(/LlmAuthenticationError/);
    expect(paused.pauseReason).toContain('EVOL_TEST_API_KEY');

    // The setting is fixed and the run resumed while two failures on the old setting are still on their way:
    // those are retried, not taken for a new reason to pause.
    sim.clearRules();
    await handle.signal(resumeSignal, {});
    const final = (await handle.result()) as RunProgress;
    expect(final.counts).toMatchObject({ done: 12, completed: 12, failed: 0 });
    expect(await collect(store.records(id))).toHaveLength(12);
    // Each instruction that was running hit the bad key once; nothing else did.
    expect(sim.requests().filter((r) => r.status === 401)).toHaveLength(3);
  });

  test('run "run" with a seed named X and a run named X finish side by side, under ids of their own', async () => {
    const x = runId('line');
    const config = testRunConfig(llmAt(sim.url), { rounds: 1 });
    const text = (tag: string, n: number) => seedsFromTexts(sampleTexts(n, tag));
    // Under the first scheme the instruction workflow of run "run", seed x, and the dataset workflow of run x
    // were both evol-run-<x>.
    const runA = await createDatasetRun(store, {
      runId: 'run',
      inputFile: 'inline',
      seeds: text('ids-a', 1).map((seed) => ({ ...seed, id: x })),
      config,
    });
    const runB = await createDatasetRun(store, { runId: x, inputFile: 'inline', seeds: text('ids-b', 2), config });
    const handleA = await startDatasetRun(client, taskQueue, runA);
    const handleB = await startDatasetRun(client, taskQueue, runB);
    expect(handleA.workflowId).not.toBe(handleB.workflowId);
    const [progressA, progressB] = await Promise.all([handleA.result(), handleB.result()]);
    expect(progressA.counts.completed).toBe(1);
    expect(progressB.counts.completed).toBe(2);
    expect((await store.record('run', x))?.status).toBe('completed');

    expect((await requireRunWorkflow(client, x, 'dataset')).workflowId).toBe(runWorkflowIds(x).dataset);
  });

  test('a run started again after it ended skips every instruction already recorded', async () => {
    const id = runId('again');
    const seeds = seedsFromTexts(sampleTexts(8, 'again'));
    const first = await startRun({ client, store, taskQueue, runId: id, seeds, llm: llmAt(sim.url) });
    await first.result();
    sim.resetRequests();
    const meta = await store.readMeta(id);
    const again = await client.workflow.start('datasetEvolution', {
      taskQueue,
      workflowId: idsOf(id).dataset,
      args: [{ runId: id, totalSeeds: meta.seedCount, config: meta.config }],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
    const final = (await again.result()) as RunProgress;
    expect(final.counts).toMatchObject({ done: 8, alreadyDone: 8 });
    expect(sim.stats().total).toBe(0);
  });
});

describe('evol retry: failed instructions go on, keeping their earlier lineage', () => {
  let sim: SimLlm;
  let client: Client;
  let connection: Connection;
  let worker: TestWorker;
  let store: LocalRunStore;
  let storeDir: string;
  const taskQueue = uniqueTaskQueue('retry');
  const LONG =
    'A full answer with enough words to pass every rule: it explains the topic, gives two examples, and ends.';

  beforeAll(async () => {
    sim = await startSimLlm();
    ({ client, connection } = await connectClient());
    storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-retry-'));
    store = new LocalRunStore(storeDir);
    worker = await startWorker({ taskQueue, store });
  });

  afterAll(async () => {
    await worker?.close();
    await connection?.close();
    await sim?.close();
    fs.rmSync(storeDir, { recursive: true, force: true });
  });

  /** Two of six seeds fail in round 2 (their judge keeps answering 500), after round 1 passed. */
  async function runWithFailures(runId: string) {
    sim.clearRules();
    for (const tag of ['FAILME-A', 'FAILME-B']) {
      sim.addRule({ match: { kind: 'respond', contains: tag }, content: LONG });
      sim.addRule({ match: { kind: 'judge', contains: tag }, content: 'NOT EQUAL', times: 1 });
    }
    sim.addRule({ match: { kind: 'judge', contains: 'FAILME' }, status: 500 });
    const texts = [...sampleTexts(4, runId), 'Describe a lighthouse FAILME-A.', 'Describe a harbour FAILME-B.'];
    const seeds = seedsFromTexts(texts);
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId,
      seeds,
      llm: llmAt(sim.url),
      config: { rounds: 2, concurrency: 6, llmRetry: { maximumAttempts: 2, initialIntervalMs: 100 } },
    });
    const first = (await handle.result()) as RunProgress;
    expect(first.counts).toMatchObject({ done: 6, completed: 4, failed: 2 });
    expect(await collect(store.records(runId))).toHaveLength(4);
    const attempt = await store.failedAttempt(runId, 's5');
    expect(attempt?.steps.map((s) => s.round)).toEqual([1]);
    sim.clearRules();
    sim.resetRequests();
    return { seeds, attempt: attempt! };
  }

  test('by default they go on from the last good round; the export holds each seed once', async () => {
    const runId = `retry-${Date.now().toString(36)}`;
    const { attempt } = await runWithFailures(runId);
    const meta = await store.readMeta(runId);
    const again = (await (await startDatasetRun(client, taskQueue, meta, {})).result()) as RunProgress;
    expect(again.counts).toMatchObject({ done: 6, completed: 2, alreadyDone: 4, failed: 0 });
    // Only round 2 of the two failed seeds was evolved again: 2 seeds x (mutate, respond, judge).
    expect(sim.stats().total).toBe(6);
    const records = await collect(store.records(runId));
    expect(records).toHaveLength(6);
    const retried = records.find((r) => r.instructionId === 's5')!;
    expect(retried.steps[0]).toEqual(attempt.steps[0]);
    expect(retried.steps.map((s) => s.round)).toEqual([1, 2]);

    const out = path.join(storeDir, `${runId}.jsonl`);
    await exportRun(store, runId, {
      format: 'sharegpt',
      rounds: 'all',
      includeSeeds: false,
      shuffle: false,
      seed: 0,
      out,
    });
    const rowIds = fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)._evol.rowId);
    expect(new Set(rowIds).size).toBe(rowIds.length);
    expect(rowIds.filter((id: string) => id.startsWith('s5#'))).toEqual(['s5#1', 's5#2']);
  });

  test('--from-round 1 --only-failed evolves the failed seeds again from the start', async () => {
    const runId = `retry1-${Date.now().toString(36)}`;
    await runWithFailures(runId);
    const meta = await store.readMeta(runId);
    const again = (await (
      await startDatasetRun(client, taskQueue, meta, { fromRound: 1, onlyFailed: true })
    ).result()) as RunProgress;
    expect(again.counts).toMatchObject({ done: 6, completed: 2, alreadyDone: 4 });
    expect(sim.stats().total).toBe(12);
    expect(await collect(store.records(runId))).toHaveLength(6);
  });
});

/**
 * Budgets counted call by call: a dataset run stops starting LLM calls the moment its spend reaches the budget, so
 * it overshoots by no more than the calls in flight then, and `evol status` says what was spent.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection, WorkflowHandle } from '@temporalio/client';
import { summaryOf } from '../client/run';
import { plural } from '../core/plural';
import type { RunProgress } from '../core/dataset';
import { progressQuery, resumeSignal } from '../core/messages';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import { sampleTexts, seedsFromTexts, startRun, waitForProgress } from './helpers/runs';
import { connectClient, eventually, llmAt, startWorker, uniqueTaskQueue, type TestWorker } from './helpers/temporal';

describe('budgets that hold: spend counted per call as it happens', () => {
  let sim: SimLlm;
  let client: Client;
  let connection: Connection;
  let worker: TestWorker;
  let store: LocalRunStore;
  let storeDir: string;
  let taskQueue: string;

  beforeAll(async () => {
    // Slow enough that 16 instructions have calls in flight together when the budget is reached.
    sim = await startSimLlm({ latencyMs: 400 });
    ({ client, connection } = await connectClient());
    storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-budget-'));
    store = new LocalRunStore(storeDir);
    taskQueue = uniqueTaskQueue('budget');
    worker = await startWorker({ taskQueue, store, env: () => ({ EVOL_TEST_API_KEY: 'k' }) });
  });

  /** The run's progress once every call in flight has ended and been counted. */
  function settledProgress(handle: WorkflowHandle): Promise<RunProgress> {
    return eventually(
      async () => {
        const progress = await handle.query(progressQuery);
        const answered = sim.requests().filter((r) => r.outcome === 'ok').length;
        return sim.stats().inFlight === 0 && progress.spent?.calls === answered ? progress : undefined;
      },
      'every call in flight to end and be counted',
      30_000,
    );
  }

  afterAll(async () => {
    await worker?.close();
    await connection?.close();
    await sim?.close();
    fs.rmSync(storeDir, { recursive: true, force: true });
  });

  test('a budget of a few hundred tokens with 16 instructions in flight: no call starts after it is reached, and the overshoot is the calls in flight then', async () => {
    const budget = 500;
    const runId = `budget-${process.pid}-${Date.now().toString(36)}`;
    sim.resetRequests();
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId,
      seeds: seedsFromTexts(sampleTexts(40, 'budget')),
      llm: llmAt(sim.url),
      config: { rounds: 2, concurrency: 16, budget: { maxTokens: budget } },
    });
    await waitForProgress(handle, (p) => p.status === 'paused', 'the budget to pause the run');
    // The calls in flight at that moment finish and are counted; nothing starts after them.
    const settled = await settledProgress(handle);
    const { spent, budgetReached } = settled;
    expect(settled.status).toBe('paused');
    expect(settled.pauseReason).toMatch(/^token budget reached: \d+ of 500 tokens spent/);
    expect(budgetReached).toBeDefined();
    const at = budgetReached!;
    expect(at.spent.usage.totalTokens).toBeGreaterThanOrEqual(budget);
    // 16 instructions, at most two calls each at once (the response and the verdict).
    expect(at.inFlight).toBeGreaterThan(0);
    expect(at.inFlight).toBeLessThanOrEqual(32);
    // Every call made is either one that had ended when the budget was reached or one in flight then.
    expect(spent!.calls).toBe(sim.requests().length);
    expect(spent!.calls).toBeLessThanOrEqual(at.spent.calls + at.inFlight);
    expect(spent!.usage.totalTokens).toBeGreaterThanOrEqual(at.spent.usage.totalTokens);
    // The instructions went no further than the budget allowed: most have not finished.
    expect(settled.counts.done).toBeLessThan(40);

    const status = summaryOf(settled);
    expect(status).toContain(
      `spent: ${plural(spent!.usage.totalTokens, 'token')} in ${plural(spent!.calls, 'LLM call')}`,
    );
    expect(status).toContain(`budget reached at ${plural(at.spent.usage.totalTokens, 'token')}`);
    expect(status).toContain(`with ${plural(at.inFlight, 'call')} in flight (in the worker that reached it)`);

    // A raised budget lets every held instruction go on, and the run finish with every call counted.
    await handle.signal(resumeSignal, { budget: { maxTokens: 10_000_000 } });
    const final = (await handle.result()) as RunProgress;
    expect(final.status).toBe('completed');
    expect(final.counts).toMatchObject({ done: 40, completed: 40, failed: 0 });
    // The last calls' reports may reach the run after it ends; its finished instructions count every token.
    expect(final.spent!.usage.totalTokens).toBe(final.counts.usage.totalTokens);
    expect(final.spent!.usage.totalTokens).toBeGreaterThan(spent!.usage.totalTokens);
    expect(final.budgetReached).toBeUndefined();
  });

  test("a cost budget holds the same way, priced call by call by the run's price table", async () => {
    // $1 per thousand tokens: a budget of $0.40 is about 400 tokens.
    const prices = { 'sim-1': { inputPerMillion: 1000, outputPerMillion: 1000 } };
    const runId = `cost-${process.pid}-${Date.now().toString(36)}`;
    sim.resetRequests();
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId,
      seeds: seedsFromTexts(sampleTexts(24, 'cost')),
      llm: llmAt(sim.url),
      config: { rounds: 2, concurrency: 8, budget: { maxCost: 0.4 }, prices },
    });
    await waitForProgress(handle, (p) => p.status === 'paused', 'the cost budget to pause the run');
    const settled = await settledProgress(handle);
    expect(settled.pauseReason).toMatch(/^cost budget reached: \$0\.\d{4} of \$0\.4 spent/);
    const at = settled.budgetReached!;
    expect(at.spent.costUsd).toBeGreaterThanOrEqual(0.4);
    expect(settled.spent!.costUsd).toBeCloseTo(settled.spent!.usage.totalTokens / 1000, 6);
    expect(settled.spent!.calls).toBeLessThanOrEqual(at.spent.calls + at.inFlight);
    await handle.cancel();
  });
});

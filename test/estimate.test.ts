/**
 * `evol estimate` against what a run really spends: the built CLI estimates a seed file, then runs it with the same
 * options on the simulated LLM, and the estimate must be within 25% of the tokens the run's calls spent; `evol status`
 * shows the estimate stored with the run beside that spend.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunProgress } from '../core/dataset';
import type { RunEstimate } from '../core/estimate';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import { startWorker, testAddress, uniqueTaskQueue, type TestWorker } from './helpers/temporal';
import { runCli, type CliResult } from './helpers/worker-process';

const SEEDS = path.resolve(__dirname, 'fixtures', 'input', 'wizardlm-testset.jsonl');
const FIELDS = ['--instruction-field', 'Instruction', '--id-field', 'idx'];

describe('evol estimate', () => {
  let dir: string;
  let sim: SimLlm;
  let worker: TestWorker;
  let store: LocalRunStore;
  const taskQueue = uniqueTaskQueue('estimate');

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-estimate-'));
    sim = await startSimLlm();
    store = new LocalRunStore(path.join(dir, 'runs'));
    worker = await startWorker({ taskQueue, store });
  });

  afterAll(async () => {
    await worker?.close();
    await sim?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function evol(args: string[]): Promise<CliResult> {
    return runCli(args, {
      cwd: dir,
      // The simulated server as a configured endpoint: the run is priced as gpt-4o-mini, the default model.
      env: { TEMPORAL_ADDRESS: testAddress(), EVOL_STORE_DIR: path.join(dir, 'runs'), OPENAI_BASE_URL: sim.url },
      timeoutMs: 180_000,
    });
  }

  /** `evol estimate --json`, and the calls it made to the simulated LLM. */
  async function estimate(
    options: string[],
  ): Promise<{ estimate: RunEstimate & { sampled?: unknown }; calls: number }> {
    const before = sim.requests().length;
    const result = await evol(['estimate', '--input', SEEDS, ...FIELDS, ...options, '--json']);
    expect([result.code, result.stderr]).toEqual([0, expect.stringContaining('10 seeds from')]);
    return { estimate: JSON.parse(result.stdout) as RunEstimate, calls: sim.requests().length - before };
  }

  test('the estimate of a seed file is within 25% of the tokens its run spends, and evol status shows both', async () => {
    const options = ['--rounds', '3', '--concurrency', '4'];
    const { estimate: before, calls } = await estimate(options);
    expect(calls).toBe(0);
    // Each seed's answer, then three rounds of a rewrite, its answer and its verdict.
    expect(before.calls).toBe(10 + 10 * 3 * 3);

    const runId = `estimate-${Date.now().toString(36)}`;
    const run = await evol([
      'run',
      '--input',
      SEEDS,
      ...FIELDS,
      ...options,
      '--run-id',
      runId,
      '--task-queue',
      taskQueue,
    ]);
    expect([run.code, run.stderr]).toEqual([
      0,
      expect.stringContaining(`Estimated: ${before.usage.totalTokens} tokens`),
    ]);
    expect((await store.readMeta(runId)).estimate).toMatchObject({
      totalTokens: before.usage.totalTokens,
      calls: before.calls,
    });

    const status = await evol(['status', runId, '--json']);
    expect(status.code).toBe(0);
    const progress = JSON.parse(status.stdout) as RunProgress;
    expect(progress.status).toBe('completed');
    const spent = progress.spent.usage.totalTokens;
    const error = before.usage.totalTokens / spent - 1;
    process.stdout.write(
      `estimated ${before.usage.totalTokens} tokens; spent ${spent} (${(100 * error).toFixed(1)}%)\n`,
    );
    expect(Math.abs(error)).toBeLessThanOrEqual(0.25);
    expect(spent).toBeLessThanOrEqual(before.upperBound.usage.totalTokens);

    // Answer lengths learned from three seeds' round 1 (nine calls) bring it closer.
    const { estimate: sampled, calls: sampleCalls } = await estimate([...options, '--sample', '3']);
    expect(sampleCalls).toBe(9);
    expect(sampled.sampled).toMatchObject({ seeds: 3, calls: 9 });
    const sampledError = sampled.usage.totalTokens / spent - 1;
    process.stdout.write(
      `with --sample 3: estimated ${sampled.usage.totalTokens} tokens (${(100 * sampledError).toFixed(1)}%)\n`,
    );
    expect(Math.abs(sampledError)).toBeLessThan(Math.abs(error));

    const text = await evol(['status', runId]);
    expect(text.stdout).toContain(
      `estimated: ${before.usage.totalTokens} tokens, $${before.costUsd.toFixed(4)} (at most ${before.upperBound.usage.totalTokens} tokens`,
    );
    expect(text.stdout).toContain(`spent so far: ${spent} tokens, $${progress.spent.costUsd.toFixed(4)}`);
  });
});

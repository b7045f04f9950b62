/**
 * A local server that answers one request at a time (llama.cpp, llama-cpp-python, Ollama, LM Studio by default),
 * run at the default concurrency: the worker keeps the requests in flight to what the server serves, so calls wait
 * at the worker (or in their workflow) rather than in the server's queue, where their request timeout would run out.
 * The simulated LLM serves one request at a time and queues the rest, as llama.cpp's server does.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import type { RunProgress } from '../core/dataset';
import { startSimLlm, type SimLlm, type SimLlmOptions } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import { closedRunHistories, historiesText, type History } from './helpers/histories';
import { sampleTexts, seedsFromTexts, startRun, testRunConfig } from './helpers/runs';
import { connectClient, llmAt, startWorker, uniqueTaskQueue, type TestWorker } from './helpers/temporal';

/** Each answer takes this long; the request timeout is six answers. */
const ANSWER_MS = 500;
const REQUEST_TIMEOUT_MS = 3_000;
const SEEDS = 16;

describe('a local server that answers one request at a time, at the default concurrency', () => {
  let client: Client;
  let connection: Connection;
  let storeDir: string;
  const sims: SimLlm[] = [];
  const workers: TestWorker[] = [];

  beforeAll(async () => {
    ({ client, connection } = await connectClient());
    storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-local-'));
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await connection?.close();
    await Promise.all(sims.map((s) => s.close()));
    fs.rmSync(storeDir, { recursive: true, force: true });
  });

  /** A run of SEEDS seeds, one round, seed answers asked, at the default concurrency, against a server like `server`. */
  async function runAgainst(server: SimLlmOptions, tag: string) {
    const sim = await startSimLlm({ latencyMs: ANSWER_MS, ...server });
    sims.push(sim);
    const store = new LocalRunStore(storeDir);
    const taskQueue = uniqueTaskQueue(`local-${tag}`);
    // As many activity slots as `evol worker` has by default: the calls are held by the endpoint's limit, not by them.
    workers.push(await startWorker({ taskQueue, store, maxConcurrentActivityTaskExecutions: 100 }));
    const llm = llmAt(sim.url, { requestTimeoutMs: REQUEST_TIMEOUT_MS });
    const config = { rounds: 1, answerSeeds: true, concurrency: undefined };
    expect(testRunConfig(llm, config).concurrency).toBe(16);
    const runId = `local-${tag}-${process.pid}-${Date.now().toString(36)}`;
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId,
      seeds: seedsFromTexts(sampleTexts(SEEDS, `local ${tag}`)),
      llm,
      config,
    });
    const final = (await handle.result()) as RunProgress;
    const histories = await closedRunHistories(client, runId, SEEDS + 1);
    return { sim, final, histories };
  }

  /** Every activity attempt was a first attempt, and every failed activity a call handed back to wait (SlotWait). */
  function expectNoFaultRetried(histories: History[]): void {
    const events = histories.flatMap((h) => h.events ?? []);
    const attempts = events.flatMap((e) => e.activityTaskStartedEventAttributes?.attempt ?? []);
    expect(attempts.length).toBeGreaterThan(SEEDS * 3);
    expect(new Set(attempts)).toEqual(new Set([1]));
    const failures = events.flatMap((e) => {
      const failure = e.activityTaskFailedEventAttributes?.failure;
      return failure ? [failure.applicationFailureInfo?.type ?? failure.message] : [];
    });
    expect(new Set(failures.filter((type) => type !== 'SlotWait'))).toEqual(new Set());
    expect(historiesText(histories)).not.toMatch(/LlmTimeoutError|LlmConnectionError/);
  }

  test("llama.cpp's server saying it has one slot: one request at a time, none waits in its queue, none times out, no fault retried", async () => {
    // Unheld, the 32 first requests (16 rewrites, 16 seed answers) would wait up to 16 s in its queue, past the 3 s
    // request timeout.
    const { sim, final, histories } = await runAgainst({ maxInFlight: 1, serverKind: 'llama.cpp' }, 'slots');
    expect(final.counts).toMatchObject({ done: SEEDS, failed: 0, retries: 0 });
    expect(sim.stats().peakInFlight).toBe(1);
    expect(sim.stats().queue).toMatchObject({ peakWaiting: 0, abandoned: 0 });
    expectNoFaultRetried(histories);
    // The calls whose turn was far off waited in their workflows, on a timer.
    expect(failuresOfType(histories, 'SlotWait')).toBeGreaterThan(0);
    expect(histories.flatMap((h) => h.events ?? []).some((e) => e.timerStartedEventAttributes)).toBe(true);
  }, 240_000);

  test('Ollama, which does not say how many it serves: the worker starts at one and holds at two, none times out, no fault retried', async () => {
    const { sim, final, histories } = await runAgainst({ maxInFlight: 1, serverKind: 'ollama' }, 'ollama');
    expect(final.counts).toMatchObject({ done: SEEDS, failed: 0, retries: 0 });
    // It serves one; a second waits in its queue, at most one answer long.
    expect(sim.stats().peakInFlight).toBe(2);
    expect(sim.stats().queue.peakWaiting).toBe(1);
    expect(sim.stats().queue.longestWaitMs).toBeLessThan(REQUEST_TIMEOUT_MS);
    expect(sim.stats().queue.abandoned).toBe(0);
    expectNoFaultRetried(histories);
  }, 240_000);

  test('a server that serves every request at once and says nothing (a hosted provider) is not held', async () => {
    const { sim, final, histories } = await runAgainst({}, 'hosted');
    expect(final.counts).toMatchObject({ done: SEEDS, failed: 0, retries: 0 });
    // The 16 rewrites and 16 seed answers went at once.
    expect(sim.stats().peakInFlight).toBeGreaterThanOrEqual(2 * SEEDS);
    expect(failuresOfType(histories, 'SlotWait')).toBe(0);
  }, 120_000);
});

function failuresOfType(histories: History[], type: string): number {
  return histories
    .flatMap((h) => h.events ?? [])
    .filter((e) => e.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo?.type === type).length;
}

/**
 * Rate limits shared by every worker: two workers on one task queue, against a simulated LLM that answers 429 over
 * its limit, keep under it together (each leases its share from the endpoint's rateLimiter workflow).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import type { RunProgress } from '../core/dataset';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import { historiesText } from './helpers/histories';
import { idsOf, sampleTexts, seedsFromTexts, startRun } from './helpers/runs';
import { connectClient, llmAt, startWorker, uniqueTaskQueue, type TestWorker } from './helpers/temporal';

describe('rate limits shared across workers', () => {
  let sim: SimLlm;
  let client: Client;
  let connection: Connection;
  const workers: TestWorker[] = [];
  let storeDir: string;

  beforeAll(async () => {
    sim = await startSimLlm({ latencyMs: 50, keepMessages: true });
    ({ client, connection } = await connectClient());
    storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-limits-'));
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await connection?.close();
    await sim?.close();
    fs.rmSync(storeDir, { recursive: true, force: true });
  });

  test('two workers, each running its own run against one endpoint, keep its 300 requests/min between them: no 429, and the limit is used', async () => {
    const rpm = 300;
    // The provider allows a little more than the run is told (and a burst of 5 s), so the pace seen below is the
    // workers' own sharing, not the provider's 429s or its x-ratelimit-remaining headers holding them back.
    sim.setRateLimits({ rpm: 360, burstSeconds: 5 });
    const store = new LocalRunStore(storeDir);
    // Two task queues, so each worker surely makes calls (one queue's activities go mostly to one worker).
    const queues = [uniqueTaskQueue('limits-a'), uniqueTaskQueue('limits-b')];
    for (const taskQueue of queues) {
      workers.push(await startWorker({ taskQueue, store, env: () => ({ EVOL_TEST_API_KEY: 'k' }) }));
    }
    sim.resetRequests();
    const runs = await Promise.all(
      queues.map((taskQueue, i) =>
        startRun({
          client,
          store,
          taskQueue,
          runId: `limits-${i}-${process.pid}-${Date.now().toString(36)}`,
          seeds: seedsFromTexts(sampleTexts(16, `limits ${i}`)),
          // Unlimited, 16 instructions at 50 ms a call would ask about 320 requests/s of each worker.
          llm: llmAt(sim.url, { rpm }),
          config: { rounds: 1, concurrency: 16 },
        }),
      ),
    );
    for (const run of runs) {
      const final = (await run.result()) as RunProgress;
      expect(final.counts).toMatchObject({ done: 16, completed: 16, failed: 0 });
    }

    expect(sim.stats().rateLimited).toEqual({ requests: 0, tokens: 0 });
    const records = sim.requests();
    const times = records.map((r) => r.receivedAt);
    expect(times.length).toBeGreaterThanOrEqual(64);
    // Both runs made their calls side by side, each worker its share.
    const spanOf = (tag: string) => {
      const mine = records.filter((r) => JSON.stringify(r.messages).includes(tag)).map((r) => r.receivedAt);
      return { first: Math.min(...mine), last: Math.max(...mine) };
    };
    const [a, b] = [spanOf('(limits 0 '), spanOf('(limits 1 ')];
    expect(Math.max(a.first, b.first)).toBeLessThan(Math.min(a.last, b.last));
    // The pace is the run's limit: within any 5 s, no more than 5 s of it plus one second of burst.
    const perSecond = rpm / 60;
    for (const start of times) {
      const inWindow = times.filter((t) => t >= start && t < start + 5000).length;
      expect(inWindow).toBeLessThanOrEqual(perSecond * 5 + perSecond + 2);
    }
    // And the limit is used, not left idle: the runs took at most half again as long as the limit allows.
    const seconds = (Math.max(...times) - Math.min(...times)) / 1000;
    expect(seconds).toBeLessThanOrEqual((times.length / perSecond) * 1.5);
  });

  test('a call the limit holds long waits in its workflow on a timer, spending no attempt', async () => {
    sim.setRateLimits(undefined);
    const store = new LocalRunStore(storeDir);
    const taskQueue = uniqueTaskQueue('limits-wait');
    workers.push(await startWorker({ taskQueue, store, env: () => ({ EVOL_TEST_API_KEY: 'k' }) }));
    const runId = `limits-wait-${process.pid}-${Date.now().toString(36)}`;
    // 30 requests a minute is one every 2 s: with 4 instructions, calls queue past the gate's 10 s at once.
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId,
      seeds: seedsFromTexts(sampleTexts(4, 'limits wait')),
      llm: llmAt(sim.url, { rpm: 30 }),
      config: { rounds: 1, concurrency: 4, answerSeeds: false },
    });
    const final = (await handle.result()) as RunProgress;
    expect(final.counts).toMatchObject({ done: 4, completed: 4, failed: 0, retries: 0 });
    const histories = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        client.workflow.getHandle(idsOf(runId).instruction(`s${i + 1}`)).fetchHistory(),
      ),
    );
    const timers = histories.flatMap((h) => h.events ?? []).filter((e) => e.timerStartedEventAttributes);
    expect(timers.length).toBeGreaterThan(0);
    expect(historiesText(histories)).toContain('RateLimitWait');
  }, 120_000);
});

/**
 * A run whose store is a bucket, under the store's faults: a server that answers 503 SlowDown or 500, resets
 * connections or leaves requests hanging (a proxy in front of the real S3 server injects them), and a worker whose
 * bucket settings are wrong. The run must complete with every seed recorded once and no LLM call made twice, and a
 * wrong setting must pause the run with what to fix, then go on after `evol resume`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { exportRun, resumeRun } from '../client/api';
import type { RunProgress } from '../core/dataset';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { openRunStore } from '../store/location';
import { deliberateRepeatCalls, repeatedCalls } from './helpers/llm-calls';
import { collect, sampleTexts, seedsFromTexts, startRun, waitForProgress } from './helpers/runs';
import { newBucket, s3TestServer } from './helpers/s3';
import { startS3FaultProxy } from './helpers/s3-fault-proxy';
import { connectClient, llmAt, startWorker, uniqueTaskQueue, type TestWorker } from './helpers/temporal';

const server = s3TestServer();
const describeWithS3 = server ? describe : describe.skip;

describeWithS3('a run whose store is a bucket, under the store faults', () => {
  let sim: SimLlm;
  let client: Client;
  let connection: Connection;
  let bucket: string;
  let dir: string;
  const workers: TestWorker[] = [];

  beforeAll(async () => {
    sim = await startSimLlm({ latencyMs: 10 });
    ({ client, connection } = await connectClient());
    bucket = await newBucket(server!, 'faults');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-s3-faults-'));
  });

  afterAll(async () => {
    for (const worker of workers) await worker.close();
    await connection?.close();
    await sim?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function worker(taskQueue: string, storeUrl: string, env: NodeJS.ProcessEnv): Promise<TestWorker> {
    const started = await startWorker({ taskQueue, store: openRunStore(storeUrl, env) });
    workers.push(started);
    return started;
  }

  test('503 SlowDown, 500s, resets and hangs: the run completes, each seed recorded once, no LLM call made twice', async () => {
    const proxy = await startS3FaultProxy({ target: server!.endpoint, faultRate: 0.12, seed: 5, hangMs: 3_000 });
    try {
      const taskQueue = uniqueTaskQueue('s3-faults');
      const storeUrl = `s3://${bucket}/flaky`;
      const runId = `flaky-${Date.now().toString(36)}`;
      const requestsBefore = sim.requests().length;
      await worker(taskQueue, storeUrl, {
        ...server!.env,
        AWS_ENDPOINT_URL: proxy.endpoint,
        EVOL_S3_TIMEOUT_MS: '1000',
      });
      // The run is created straight on the server; everything the worker reads and writes goes through the proxy.
      const direct = openRunStore(storeUrl, server!.env);
      const handle = await startRun({
        client,
        store: direct,
        taskQueue,
        runId,
        seeds: seedsFromTexts(sampleTexts(30, runId)),
        llm: llmAt(sim.url),
        config: { rounds: 2, concurrency: 8 },
      });
      const final = (await handle.result()) as RunProgress;

      const { faults, forwarded } = proxy.stats();
      console.log(`S3 faults injected: ${JSON.stringify(faults)}, requests forwarded: ${forwarded}`);
      expect(faults['slow-down'] + faults['internal-error'] + faults.reset + faults.hang).toBeGreaterThan(5);
      expect(final.status).toBe('completed');
      expect(final.counts).toMatchObject({ done: 30, failed: 0 });
      const records = await collect(direct.records(runId));
      expect(new Set(records.map((r) => r.instructionId)).size).toBe(30);
      expect(records).toHaveLength(30);
      const out = path.join(dir, `${runId}.jsonl`);
      const exported = await exportRun(direct, runId, {
        format: 'messages',
        rounds: 'all',
        includeSeeds: false,
        shuffle: false,
        seed: 0,
        out,
      });
      const rowIds = fs
        .readFileSync(out, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line)._evol.rowId as string);
      expect(rowIds.length).toBe(exported.stats.rows);
      expect(new Set(rowIds).size).toBe(rowIds.length);
      // No crash here: a repeated call could only be a round repeated on purpose.
      const { unexplained } = repeatedCalls(sim.requests().slice(requestsBefore), []);
      expect(unexplained).toBeLessThanOrEqual(deliberateRepeatCalls(records));
    } finally {
      await proxy.close();
    }
  });

  test.each([
    {
      setting: 'refused credentials',
      bad: (url: string) => ({ url, env: { ...server!.env, AWS_SECRET_ACCESS_KEY: 'not-the-secret' } }),
      says: /run store error: the run store s3:\/\/.* refused the credentials .*set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.*Fix it, then run: evol resume/,
    },
    {
      setting: 'a bucket that does not exist',
      bad: () => ({ url: `s3://no-such-bucket-${Date.now().toString(36)}/runs`, env: server!.env }),
      says: /run store error: the bucket "no-such-bucket-[a-z0-9]+" does not exist .*create it.*Fix it, then run: evol resume/,
    },
  ])(
    'a worker with $setting pauses the run saying what to fix; fixed, evol resume finishes it',
    async ({ bad, says }) => {
      const taskQueue = uniqueTaskQueue('s3-pause');
      const storeUrl = `s3://${bucket}/paused`;
      const runId = `paused-${Date.now().toString(36)}`;
      const misconfigured = bad(storeUrl);
      const badWorker = await worker(taskQueue, misconfigured.url, misconfigured.env);
      const direct = openRunStore(storeUrl, server!.env);
      const handle = await startRun({
        client,
        store: direct,
        taskQueue,
        runId,
        seeds: seedsFromTexts(sampleTexts(6, runId)),
        llm: llmAt(sim.url),
        config: { rounds: 2, concurrency: 4 },
      });
      const paused = await waitForProgress(handle, (p) => p.status === 'paused', 'the run to pause itself', 60_000);
      expect(paused.pauseReason).toMatch(says);
      expect(paused.pauseReason).not.toContain('not-the-secret');

      await badWorker.close();
      workers.splice(workers.indexOf(badWorker), 1);
      await worker(taskQueue, storeUrl, server!.env);
      await resumeRun(handle);
      const final = (await handle.result()) as RunProgress;
      expect(final.status).toBe('completed');
      expect(final.counts).toMatchObject({ done: 6, failed: 0 });
      expect((await collect(direct.records(runId))).map((r) => r.instructionId).sort()).toEqual(
        ['s1', 's2', 's3', 's4', 's5', 's6'].sort(),
      );
    },
  );
});

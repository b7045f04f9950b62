import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import type { RunProgress } from '../core/dataset';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import { collect, recordCount, sampleTexts, seedsFromTexts, startRun } from './helpers/runs';
import { connectClient, eventually, llmAt, testAddress, uniqueTaskQueue } from './helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from './helpers/worker-process';

describe('a worker killed with SIGKILL mid-run', () => {
  let sim: SimLlm;
  let client: Client;
  let connection: Connection;
  let storeDir: string;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    // Messages kept, to tell which instruction each call was for.
    sim = await startSimLlm({ latencyMs: 300, keepMessages: true });
    ({ client, connection } = await connectClient());
    storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-crash-'));
  });

  afterAll(async () => {
    for (const w of workers) await w.kill();
    await connection?.close();
    await sim?.close();
    fs.rmSync(storeDir, { recursive: true, force: true });
  });

  test('restarted, it finishes the run with one record per seed and repeats no LLM call finished before the kill', async () => {
    const taskQueue = uniqueTaskQueue('crash');
    const store = new LocalRunStore(storeDir);
    const runId = `crash-${Date.now().toString(36)}`;
    const env = { EVOL_STORE_DIR: storeDir, EVOL_TEST_API_KEY: 'k' };
    const seeds = seedsFromTexts(sampleTexts(40, 'crash'));

    workers.push(await startWorkerProcess({ address: testAddress(), taskQueue, env }));
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId,
      seeds,
      llm: llmAt(sim.url),
      config: { rounds: 2, concurrency: 8 },
    });
    const recordsDir = path.join(storeDir, runId, 'records');
    await eventually(async () => ((await recordCount(recordsDir)) >= 20 ? true : undefined), 'twenty finished records');

    await workers[0].kill('SIGKILL');
    const killedAt = Date.now();
    // Records are written once, atomically, as an instruction's last step: those on disk now are finished ones.
    const recordedAtKill = (await collect(store.records(runId))).map((r) => r.instructionId);
    expect(recordedAtKill.length).toBeGreaterThanOrEqual(20);
    expect(recordedAtKill.length).toBeLessThan(40);

    workers.push(await startWorkerProcess({ address: testAddress(), taskQueue, env }));
    const final = (await handle.result()) as RunProgress;
    expect(final.counts).toMatchObject({ done: 40, completed: 40, failed: 0 });

    const records = await collect(store.records(runId));
    expect(records).toHaveLength(40);
    expect(new Set(records.map((r) => r.instructionId)).size).toBe(40);

    // A call answered well before the kill was reported to Temporal and must never be made again after it; only
    // the calls in flight at the kill (at most two per running instruction: its response and its verdict are asked
    // at the same time) may be. The same prompt can also be
    // sent twice on purpose (a round eliminated by a rule is evolved again from the same parent, maybe with the
    // same operation, and the simulated LLM is deterministic), so only requests after the kill count as repeats.
    const settledBefore = killedAt - 3000;
    const requests = sim.requests();
    const firstSeen = new Map<string, number>();
    for (const r of requests) if (!firstSeen.has(r.key)) firstSeen.set(r.key, r.receivedAt);
    const askedAgainAfterKill = new Set(
      requests.filter((r) => r.receivedAt >= killedAt && firstSeen.get(r.key)! < killedAt).map((r) => r.key),
    );
    const settled = [...firstSeen.entries()].filter(([, at]) => at < settledBefore);
    expect(settled.length).toBeGreaterThan(20);
    expect(settled.filter(([key]) => askedAgainAfterKill.has(key))).toEqual([]);
    expect(askedAgainAfterKill.size).toBeLessThanOrEqual(2 * 8);

    // An instruction recorded before the kill had finished all its work: the restarted worker asks nothing for it.
    // A call is told apart by what its prompt quotes: its seed's made-up word (sampleTexts), or for an in-breadth
    // task, which may drop that word, the task as its record keeps it.
    const marks = new Map(
      records.map((r) => [r.instructionId, [/\bvel[a-z]{3}\b/.exec(r.seed)![0], ...r.steps.map((s) => s.instruction)]]),
    );
    const seedsAskedFor = (r: (typeof requests)[number]) => {
      const text = r.messages!.map((m) => m.content).join('\n');
      return [...marks].filter(([, quoted]) => quoted.some((q) => text.includes(q))).map(([id]) => id);
    };
    const attributed = requests.map((r) => ({ at: r.receivedAt, seeds: seedsAskedFor(r) }));
    expect(attributed.filter((a) => a.seeds.length !== 1)).toEqual([]);
    const afterKill = attributed.filter((a) => a.at >= killedAt).map((a) => a.seeds[0]);
    expect(afterKill.length).toBeGreaterThan(0);
    expect(afterKill.filter((id) => recordedAtKill.includes(id))).toEqual([]);
    // ... while one never asked for before the kill was started by the restarted worker.
    const askedBeforeKill = new Set(attributed.filter((a) => a.at < killedAt).map((a) => a.seeds[0]));
    const notStartedAtKill = seeds.map((s) => s.id).filter((id) => !askedBeforeKill.has(id));
    expect(notStartedAtKill.filter((id) => !afterKill.includes(id))).toEqual([]);
  });
});

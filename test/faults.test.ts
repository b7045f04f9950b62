/**
 * The fault suite: worker SIGKILLs at several points, the Temporal server killed and restarted on
 * its SQLite file, and an LLM that fails 20% of calls (429 with Retry-After, 500, 503, resets,
 * hangs past the timeout, truncated JSON, empty choices). Every run must end with exactly one
 * record per seed. Prints a table of what was injected and what it cost.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { exportRun } from '../client/export';
import type { RunProgress } from '../core/dataset';
import { findFreePorts, startDevServer, type DevServer } from '../server/dev-server';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import { collect, recordCount, sampleTexts, seedsFromTexts, startRun } from './helpers/runs';
import { eventually, llmAt, uniqueTaskQueue } from './helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from './helpers/worker-process';

interface Row {
  scenario: string;
  faultsInjected: number;
  crashes: number;
  runsCompleted: number;
  recordsLost: number;
  duplicates: number;
  callsRepeatedAfterCrashes: number;
}

const table: Row[] = [];
/** Generous: on a loaded 2-core machine (CI runs two test files at once) these runs take minutes. */
const FAULT_TEST_TIMEOUT_MS = 420_000;

/** The run's result, riding out a server that is down for a while. */
async function resultOf(handle: WorkflowHandle): Promise<RunProgress> {
  return eventually(
    async () => (await handle.result()) as RunProgress,
    `run ${handle.workflowId} to complete`,
    240_000,
  );
}

describe('fault suite: crashes, a server restart and a flaky LLM lose nothing and duplicate nothing', () => {
  let dir: string;
  let server: DevServer;
  let port: number;
  let sim: SimLlm;
  let connection: Connection;
  let client: Client;
  let store: LocalRunStore;
  const workers: WorkerProcess[] = [];
  const taskQueue = uniqueTaskQueue('faults');
  const env = () => ({ EVOL_STORE_DIR: path.join(dir, 'runs'), EVOL_TEST_API_KEY: 'k' });

  const startServer = () =>
    startDevServer({ dataDir: path.join(dir, 'temporal'), port, headless: true, reuseExisting: false });
  const startWorker = async () => {
    const w = await startWorkerProcess({ address: `127.0.0.1:${port}`, taskQueue, env: env() });
    workers.push(w);
    return w;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-faults-'));
    [port] = await findFreePorts(1);
    server = await startServer();
    sim = await startSimLlm({ latencyMs: 30, faultRate: 0.2, faultSeed: 11 });
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection });
    store = new LocalRunStore(path.join(dir, 'runs'));
  });

  afterAll(async () => {
    for (const w of workers) await w.kill();
    await connection?.close();
    await sim?.close();
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    if (table.length) console.log(`Fault suite\n${formatTable(table)}`);
  });

  async function run(scenario: string, seedsCount: number, crash: (recordsDir: string) => Promise<number>) {
    const runId = `${scenario}-${Date.now().toString(36)}`;
    const statsBefore = sim.stats();
    const requestsBefore = sim.requests().length;
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId,
      seeds: seedsFromTexts(sampleTexts(seedsCount, runId)),
      llm: llmAt(sim.url, { requestTimeoutMs: 1500 }),
      config: { rounds: 2, concurrency: 8, llmRetry: { maximumAttempts: 12, initialIntervalMs: 200 } },
    });
    const crashes = await crash(path.join(dir, 'runs', runId, 'records'));
    const final = await resultOf(handle);

    const records = await collect(store.records(runId));
    const ids = records.map((r) => r.instructionId);
    const out = path.join(dir, `${runId}.jsonl`);
    const exported = await exportRun(store, runId, {
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
      .map((l) => JSON.parse(l)._evol.rowId);

    // A call the LLM answered with 200 and that was made again: work redone after a crash.
    const answered = new Set<string>();
    let repeated = 0;
    for (const r of sim.requests().slice(requestsBefore)) {
      if (r.outcome === 'ok' && answered.has(r.key)) repeated++;
      if (r.outcome === 'ok') answered.add(r.key);
    }
    const faults =
      Object.values(sim.stats().faultsInjected).reduce((a, b) => a + b, 0) -
      Object.values(statsBefore.faultsInjected).reduce((a, b) => a + b, 0);
    const row: Row = {
      scenario,
      faultsInjected: faults,
      crashes,
      runsCompleted: final.status === 'completed' ? 1 : 0,
      recordsLost: seedsCount - new Set(ids).size,
      duplicates: ids.length - new Set(ids).size + (rowIds.length - new Set(rowIds).size),
      callsRepeatedAfterCrashes: repeated,
    };
    table.push(row);
    expect(final.counts.done).toBe(seedsCount);
    expect(final.counts.failed).toBe(0);
    expect(row).toMatchObject({ runsCompleted: 1, recordsLost: 0, duplicates: 0 });
    expect(exported.stats.records).toBe(seedsCount);
    expect(row.faultsInjected).toBeGreaterThan(0);
    // Only calls in flight at a crash may be redone.
    expect(repeated).toBeLessThanOrEqual(crashes * 8 * 2);
    return row;
  }

  test(
    'worker SIGKILLs at three points of a run with 20% LLM faults',
    async () => {
      let worker = await startWorker();
      await run('worker-kills', 30, async (records) => {
        for (const atRecords of [4, 12, 20]) {
          await eventually(
            async () => ((await recordCount(records)) >= atRecords ? true : undefined),
            `${atRecords} records`,
            240_000,
          );
          await worker.kill('SIGKILL');
          worker = await startWorker();
        }
        return 3;
      });
    },
    FAULT_TEST_TIMEOUT_MS,
  );

  test(
    'the Temporal server killed and restarted on the same SQLite file mid-run',
    async () => {
      await run('server-restart', 24, async (records) => {
        await eventually(async () => ((await recordCount(records)) >= 8 ? true : undefined), '8 records', 240_000);
        process.kill(server.pid!, 'SIGKILL');
        await server.exited;
        server = await startServer();
        return 1;
      });
    },
    FAULT_TEST_TIMEOUT_MS,
  );
});

function formatTable(rows: Row[]): string {
  const headers = [
    'scenario',
    'faults injected',
    'crashes',
    'runs completed',
    'records lost',
    'duplicates',
    'LLM calls repeated after crashes',
  ];
  const cells = rows.map((r) =>
    [
      r.scenario,
      r.faultsInjected,
      r.crashes,
      r.runsCompleted,
      r.recordsLost,
      r.duplicates,
      r.callsRepeatedAfterCrashes,
    ].map(String),
  );
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join(' | ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('-|-'), ...cells.map(line)].join('\n');
}

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
import { exportRun } from '../client/api';
import type { RunProgress } from '../core/dataset';
import { findFreePorts, startDevServer, type DevServer } from '../server/dev-server';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import { collect, idsOf, recordCount, sampleTexts, seedsFromTexts, startRun } from './helpers/runs';
import { eventually, llmAt, uniqueTaskQueue } from './helpers/temporal';
import { deliberateRepeatCalls, llmCallsInFlight as inFlightIn, repeatedCalls, type Crash } from './helpers/llm-calls';
import { startWorkerProcess, type WorkerProcess } from './helpers/worker-process';

interface Row {
  scenario: string;
  faultsInjected: number;
  crashes: number;
  runsCompleted: number;
  recordsLost: number;
  duplicates: number;
  /** LLM activities running (started, not completed) on the server at the crashes: the only ones a crash can redo. */
  callsInFlightAtCrashes: number;
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

  /** LLM activities started and not completed now, in the run's instruction workflows. */
  const llmCallsInFlight = (runId: string, seedsCount: number) =>
    inFlightIn(
      client,
      Array.from({ length: seedsCount }, (_, i) => idsOf(runId).instruction(`s${i + 1}`)),
    );

  async function run(
    scenario: string,
    seedsCount: number,
    crash: (recordsDir: string, inFlight: () => Promise<number>) => Promise<Crash[]>,
  ) {
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
    const crashes = await crash(path.join(dir, 'runs', runId, 'records'), () => llmCallsInFlight(runId, seedsCount));
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

    const { repeated, unexplained } = repeatedCalls(sim.requests().slice(requestsBefore), crashes);
    const faults =
      Object.values(sim.stats().faultsInjected).reduce((a, b) => a + b, 0) -
      Object.values(statsBefore.faultsInjected).reduce((a, b) => a + b, 0);
    const row: Row = {
      scenario,
      faultsInjected: faults,
      crashes: crashes.length,
      runsCompleted: final.status === 'completed' ? 1 : 0,
      recordsLost: seedsCount - new Set(ids).size,
      duplicates: ids.length - new Set(ids).size + (rowIds.length - new Set(rowIds).size),
      callsInFlightAtCrashes: crashes.reduce((n, c) => n + c.llmCallsInFlight, 0),
      callsRepeatedAfterCrashes: repeated,
    };
    table.push(row);
    expect(final.counts.done).toBe(seedsCount);
    expect(final.counts.failed).toBe(0);
    expect(row).toMatchObject({ runsCompleted: 1, recordsLost: 0, duplicates: 0 });
    expect(exported.stats.records).toBe(seedsCount);
    expect(row.faultsInjected).toBeGreaterThan(0);
    // Each crash redoes at most the LLM calls running at it; a repeat beyond that must be a round repeated on purpose.
    expect(unexplained).toBeLessThanOrEqual(deliberateRepeatCalls(records));
    return row;
  }

  test(
    'worker SIGKILLs at three points of a run with 20% LLM faults',
    async () => {
      let worker = await startWorker();
      await run('worker-kills', 30, async (records, inFlight) => {
        const crashes: Crash[] = [];
        for (const atRecords of [4, 12, 20]) {
          await eventually(
            async () => ((await recordCount(records)) >= atRecords ? true : undefined),
            `${atRecords} records`,
            240_000,
          );
          await worker.kill('SIGKILL');
          // No worker runs now: what the server has running is exactly what the kill interrupted. The crash's instant
          // is the end of this workerless spell, not its start: a request the worker sent just before it died can be
          // read by the simulated LLM (in this process) after the kill was seen, and must count as before the crash.
          const llmCallsInFlight = await inFlight();
          crashes.push({ at: Date.now(), llmCallsInFlight });
          worker = await startWorker();
        }
        return crashes;
      });
    },
    FAULT_TEST_TIMEOUT_MS,
  );

  test(
    'the Temporal server killed and restarted on the same SQLite file mid-run',
    async () => {
      await run('server-restart', 24, async (records, inFlight) => {
        await eventually(async () => ((await recordCount(records)) >= 8 ? true : undefined), '8 records', 240_000);
        process.kill(server.pid!, 'SIGKILL');
        await server.exited;
        server = await startServer();
        // The crash lasts until the server is back: a call answered while it was down may lose its completion. Asked
        // now, the server names what it had running at the kill (still running, or lost), and what the worker started
        // since: an upper bound.
        return [{ at: Date.now(), llmCallsInFlight: await inFlight() }];
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
    'LLM calls in flight at crashes',
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
      r.callsInFlightAtCrashes,
      r.callsRepeatedAfterCrashes,
    ].map(String),
  );
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join(' | ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('-|-'), ...cells.map(line)].join('\n');
}

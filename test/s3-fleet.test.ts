/**
 * A fleet over a bucket (issue 21): three `evol worker` processes, each in an empty directory of its own with its own
 * HOME and an environment holding only the Temporal, bucket and LLM settings, and `evol run --detach` from a fourth.
 * 100 seeds × 2 rounds complete while one worker is SIGKILLed and the S3 server is SIGKILLed and restarted on its
 * data dir. Every seed is recorded once, no finished LLM call is made again beyond what the killed worker had in
 * flight, and the export equals that of a crash-free run of the same seeds. Then the bucket's secret key is looked
 * for in every history, every object of the bucket, the worker logs and every process's terminal output.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import type { RunProgress } from '../core/dataset';
import { progressQuery } from '../core/messages';
import { startS3Server, type S3Server } from '../server/s3-server';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import type { SimRequestRecord } from '../sim/types';
import { openRunStore } from '../store/location';
import { S3Objects } from '../store/s3-objects';
import { closedRunHistories, historiesText } from './helpers/histories';
import {
  callsBeyondBaseline,
  deliberateRepeatCalls,
  llmCallsInFlight,
  llmCallWorkers,
  repeatedCalls,
  type Crash,
} from './helpers/llm-calls';
import { collect, idsOf, sampleTexts } from './helpers/runs';
import { newBucket, s3TestServer } from './helpers/s3';
import { connectClient, eventually, testAddress, uniqueTaskQueue } from './helpers/temporal';
import { runCli, startWorkerProcess, type CliResult, type WorkerProcess } from './helpers/worker-process';

const SEEDS = 100;
const ROUNDS = 2;
const PLAN_SEED = 7;
/** The CI machine has 2 cores and runs two test files at once: each step gets minutes. */
const STEP_MS = 240_000;
const FLEET_TEST_TIMEOUT_MS = 600_000;
/** The LLM key the workers hold (named by the run's settings, never copied into them). */
const LLM_KEY = `sk-fleet-${randomBytes(12).toString('hex')}`;
/** Logged by a worker when a store request fails because the server is down (store/s3-objects.ts). */
const STORE_DOWN = /did not answer a request/;

const shared = s3TestServer();
const weedPath = process.env.EVOL_TEST_WEED_PATH;
const describeWithS3 = shared && weedPath ? describe : describe.skip;

interface Row {
  run: string;
  seeds: number;
  crashes: string;
  inFlight: string;
  repeats: string;
  records: number;
  rows: number;
  wallS: string;
}

describeWithS3('a fleet of workers with nothing on local disk, over a bucket', () => {
  let root: string;
  let s3: S3Server;
  let secretKey: string;
  let awsEnv: NodeJS.ProcessEnv;
  let storeUrl: string;
  let bucket: string;
  let sim: SimLlm;
  let client: Client;
  let connection: Connection;
  let clientDir: string;
  let clientHome: string;
  const taskQueue = uniqueTaskQueue('fleet');
  const workers: WorkerProcess[] = [];
  /** Each worker's working dir and HOME, both empty when it started. */
  const dirsOf = new Map<WorkerProcess, { cwd: string; home: string }>();
  const terminal: Array<{ what: string; result: CliResult }> = [];
  const table: Row[] = [];
  const texts = sampleTexts(SEEDS, 'fleet');
  const runs: Record<'crashed' | 'clean', string> = {
    crashed: `fleet-crashed-${Date.now().toString(36)}`,
    clean: `fleet-clean-${Date.now().toString(36)}`,
  };
  /** Each run's requests at the simulated LLM, and its exported rows. */
  const requestsOf: Partial<Record<keyof typeof runs, SimRequestRecord[]>> = {};
  const rowsOf: Partial<Record<keyof typeof runs, Array<Record<string, unknown>>>> = {};
  const crashes: Crash[] = [];

  /** A new empty directory under the test's root. */
  const emptyDir = (name: string) => fs.mkdtempSync(path.join(root, `${name}-`));

  /** A worker as on a machine of its own: an empty working dir, its own HOME, only these settings. */
  async function startFleetWorker(): Promise<WorkerProcess> {
    const dirs = { cwd: emptyDir('worker'), home: emptyDir('worker-home') };
    const worker = await startWorkerProcess({
      address: testAddress(),
      taskQueue,
      cwd: dirs.cwd,
      cleanEnv: true,
      env: { HOME: dirs.home, EVOL_STORE: storeUrl, ...awsEnv, OPENAI_API_KEY: LLM_KEY },
      timeoutMs: 120_000,
    });
    workers.push(worker);
    dirsOf.set(worker, dirs);
    return worker;
  }

  /** `evol ARGS` from the fourth machine: its own dir and HOME, the Temporal, bucket and LLM settings. */
  async function evol(what: string, args: string[]): Promise<CliResult> {
    const result = await runCli([...args, '--store', storeUrl], {
      cwd: clientDir,
      env: {
        HOME: clientHome,
        TEMPORAL_ADDRESS: testAddress(),
        TEMPORAL_NAMESPACE: 'default',
        OPENAI_BASE_URL: sim.url,
        OPENAI_API_KEY: LLM_KEY,
        ...awsEnv,
      },
      timeoutMs: 180_000,
    });
    terminal.push({ what, result });
    return result;
  }

  /** Records of a run in the bucket so far, counted by listing. */
  async function recordCount(runId: string): Promise<number> {
    const objects = new S3Objects(storeUrl, awsEnv);
    try {
      let n = 0;
      for await (const page of objects.list(`${runId}/records/`)) n += page.filter((k) => k.endsWith('.json')).length;
      return n;
    } finally {
      objects.close();
    }
  }

  const instructionIds = (runId: string) =>
    Array.from({ length: SEEDS }, (_, i) => idsOf(runId).instruction(`s${i + 1}`));
  const dataset = (runId: string) => client.workflow.getHandle(idsOf(runId).dataset);

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-fleet-'));
    // A server of its own, since this test kills it; a fresh identity shaped like AWS's.
    const credentials = {
      accessKey: `EVOL${randomBytes(8).toString('hex').toUpperCase()}`,
      secretKey: randomBytes(30).toString('base64url'),
    };
    secretKey = credentials.secretKey;
    s3 = await startS3Server({ weedPath: weedPath!, dataDir: path.join(root, 's3'), credentials });
    awsEnv = {
      AWS_ENDPOINT_URL: s3.endpoint,
      AWS_ACCESS_KEY_ID: credentials.accessKey,
      AWS_SECRET_ACCESS_KEY: credentials.secretKey,
      AWS_REGION: 'us-east-1',
    };
    bucket = await newBucket({ endpoint: s3.endpoint, ...credentials, env: awsEnv }, 'fleet');
    storeUrl = `s3://${bucket}/fleet`;
    sim = await startSimLlm({ latencyMs: 20 });
    ({ client, connection } = await connectClient());
    clientDir = emptyDir('client');
    clientHome = emptyDir('client-home');
    fs.writeFileSync(
      path.join(clientDir, 'seeds.jsonl'),
      texts.map((text, i) => JSON.stringify({ id: `s${i + 1}`, instruction: text })).join('\n') + '\n',
    );
    // The default request timeout (180 s) would hold the killed worker's calls that long before they are retried.
    fs.writeFileSync(
      path.join(clientDir, 'fleet.json'),
      JSON.stringify({ llm: { default: { requestTimeoutMs: 5_000 } } }),
    );
    for (let i = 0; i < 3; i++) await startFleetWorker();
  }, STEP_MS);

  afterAll(async () => {
    for (const worker of workers) await worker.kill();
    await connection?.close();
    await sim?.close();
    await s3?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
    if (table.length) console.log(`Fleet over a bucket\n${formatTable(table)}`);
  });

  /** Starts a run from the fourth process, detached, and returns when its workflow is known. */
  async function startRun(which: keyof typeof runs): Promise<void> {
    const started = await evol(`evol run ${which}`, [
      'run',
      '--input',
      'seeds.jsonl',
      '--run-id',
      runs[which],
      '--rounds',
      String(ROUNDS),
      '--seed',
      String(PLAN_SEED),
      '--config',
      'fleet.json',
      '--detach',
      '--task-queue',
      taskQueue,
    ]);
    expect({ code: started.code, stderr: started.stderr }).toMatchObject({ code: 0 });
    expect(started.stdout.split('\n')[0]).toBe(`Run ${runs[which]}`);
    expect(started.stderr).toContain(`at ${sim.url}`);
  }

  async function finish(which: keyof typeof runs, requestsBefore: number, startedAt: number) {
    const runId = runs[which];
    const final = await eventually(
      async () => (await dataset(runId).result()) as RunProgress,
      `run ${runId} to complete`,
      STEP_MS,
    );
    const wallMs = Date.now() - startedAt;
    requestsOf[which] = sim.requests().slice(requestsBefore);
    expect(final.status).toBe('completed');
    expect(final.counts).toMatchObject({ done: SEEDS, failed: 0 });

    const store = openRunStore(storeUrl, awsEnv);
    const records = await collect(store.records(runId));
    expect(records).toHaveLength(SEEDS);
    expect(new Set(records.map((r) => r.instructionId))).toEqual(
      new Set(Array.from({ length: SEEDS }, (_, i) => `s${i + 1}`)),
    );

    const out = `${runId}.jsonl`;
    const exported = await evol(`evol export ${which}`, [
      'export',
      runId,
      '--format',
      'messages',
      '--no-shuffle',
      '--rounds',
      'all',
      '--out',
      out,
    ]);
    expect({ code: exported.code, stderr: exported.stderr }).toMatchObject({ code: 0 });
    const rows = fs
      .readFileSync(path.join(clientDir, out), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown> & { _evol: { rowId: string; runId: string } });
    const rowIds = rows.map((r) => r._evol.rowId);
    expect(new Set(rowIds).size).toBe(rows.length);
    expect(rows.every((r) => r._evol.runId === runId)).toBe(true);
    // The same rows whatever run made them: the run's id is the only thing they may differ by.
    rowsOf[which] = rows.map(({ _evol: { runId: _, ...ids }, ...row }) => ({ ...row, _evol: ids }));
    return { final, records, rows, wallMs };
  }

  test(
    '100 seeds × 2 rounds on three workers with nothing local complete through a worker SIGKILL and an S3 outage',
    async () => {
      const runId = runs.crashed;
      const requestsBefore = sim.requests().length;
      const startedAt = Date.now();
      await startRun('crashed');

      // 1. A worker SIGKILLed once records exist; a new one, in a new empty dir, takes its place.
      await eventually(async () => ((await recordCount(runId)) >= 20 ? true : undefined), '20 records', STEP_MS);
      // The victim: the worker with the most LLM calls running, so the kill interrupts some.
      const busiest = await llmCallWorkers(client, instructionIds(runId));
      const victim = workers
        .map((worker) => ({ worker, calls: busiest.filter((id) => id === worker.identity).length }))
        .sort((a, b) => b.calls - a.calls)[0].worker;
      await victim.kill('SIGKILL');
      // Only the victim's started calls can be made again: the other workers run on and finish theirs.
      const runningOn = await llmCallWorkers(client, instructionIds(runId));
      // Each names a worker of the fleet (so the victim's count below cannot be 0 for want of a matching name).
      expect(runningOn.filter((id) => !workers.some((w) => w.identity === id))).toEqual([]);
      const victimInFlight = runningOn.filter((id) => id === victim.identity).length;
      const allInFlight = runningOn.length;
      crashes.push({ at: Date.now(), llmCallsInFlight: victimInFlight });
      await startFleetWorker();

      // 2. The S3 server SIGKILLed mid-run, kept down until the fleet has met it and the run stands still, restarted.
      await eventually(async () => ((await recordCount(runId)) >= 50 ? true : undefined), '50 records', STEP_MS);
      const logSizes = workers.map((w) => w.log().length);
      const storeFailures = () =>
        workers.reduce(
          (n, w, i) => n + (w.log().slice(logSizes[i]).match(new RegExp(STORE_DOWN, 'g'))?.length ?? 0),
          0,
        );
      await s3.kill();
      const killedAt = Date.now();
      const doneAtKill = (await dataset(runId).query(progressQuery)).counts.done;
      expect(doneAtKill).toBeLessThan(SEEDS);
      const s3InFlight = await llmCallsInFlight(client, instructionIds(runId));
      let stalled: { done: number; since: number } | undefined;
      await eventually(
        async () => {
          const { done } = (await dataset(runId).query(progressQuery)).counts;
          if (!stalled || stalled.done !== done) stalled = { done, since: Date.now() };
          // Three failed store calls logged, and nothing finished for 2 s: the outage holds the run up.
          return storeFailures() >= 3 && Date.now() - stalled.since >= 2_000 ? true : undefined;
        },
        'the workers to meet the store down and the run to stand still',
        STEP_MS,
      );
      await s3.restart();
      const outageMs = Date.now() - killedAt;
      // The outage as a crash: no LLM call depends on the store, so none may be made again across it.
      crashes.push({ at: Date.now(), llmCallsInFlight: 0 });

      const { records, rows, wallMs } = await finish('crashed', requestsBefore, startedAt);

      const { sinceCrash, unexplained } = repeatedCalls(requestsOf.crashed!, crashes);
      table.push({
        run: 'worker SIGKILL, then S3 down',
        seeds: SEEDS,
        crashes: `2 (S3 down ${(outageMs / 1000).toFixed(1)} s, ${storeFailures()} store calls failed)`,
        inFlight: `${victimInFlight} of the victim's (${allInFlight} fleet-wide); ${s3InFlight} running at the S3 kill`,
        repeats: `all: ${sinceCrash.join('; ')}`,
        records: records.length,
        rows: rows.length,
        wallS: (wallMs / 1000).toFixed(0),
      });
      // As the fault suite counts: each crash redoes at most what it had in flight; beyond that, only rounds
      // repeated on purpose. The crash-free run below takes away the rounds repeated on purpose.
      expect(unexplained).toBeLessThanOrEqual(deliberateRepeatCalls(records));
      expect(sinceCrash[0]).toBeLessThanOrEqual(victimInFlight + deliberateRepeatCalls(records));

      // A worker left nothing on local disk but its log, and nothing in its HOME.
      const filesIn = (dir: string) =>
        fs
          .readdirSync(dir, { recursive: true, withFileTypes: true })
          .filter((entry) => !entry.isDirectory())
          .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)));
      for (const worker of workers) {
        const { cwd, home } = dirsOf.get(worker)!;
        expect(filesIn(cwd)).toEqual([path.join('.evolforge', 'logs', 'evol.log')]);
        expect(path.join(cwd, '.evolforge', 'logs', 'evol.log')).toBe(worker.logFile);
        expect(filesIn(home)).toEqual([]);
      }
    },
    FLEET_TEST_TIMEOUT_MS,
  );

  test(
    'a crash-free run of the same seeds on the same fleet makes the same calls and exports the same rows',
    async () => {
      expect(rowsOf.crashed).toBeDefined();
      const requestsBefore = sim.requests().length;
      const startedAt = Date.now();
      await startRun('clean');
      const { records, rows, wallMs } = await finish('clean', requestsBefore, startedAt);

      expect(rowsOf.clean).toEqual(rowsOf.crashed);

      // The same seeds and plan seed ask the deterministic LLM the same: the crash-free run's answers, request by
      // request, are what the crashed run had to ask (rounds repeated on purpose included). Any answer beyond those was
      // asked again because of a crash.
      const answeredKeys = (requests: SimRequestRecord[]) =>
        new Set(requests.filter((r) => r.outcome === 'ok').map((r) => r.key));
      expect(answeredKeys(requestsOf.crashed!)).toEqual(answeredKeys(requestsOf.clean!));
      const beyond = callsBeyondBaseline(requestsOf.crashed!, requestsOf.clean!, crashes);
      const { repeated } = repeatedCalls(requestsOf.clean!, []);
      table.push({
        run: 'crash-free, same seeds',
        seeds: SEEDS,
        crashes: '0',
        inFlight: '-',
        repeats: `${repeated} (rounds repeated on purpose)`,
        records: records.length,
        rows: rows.length,
        wallS: (wallMs / 1000).toFixed(0),
      });
      table[0].repeats += `; beyond the crash-free run's: ${beyond.sinceCrash.join('; ')}`;
      expect(repeated).toBeLessThanOrEqual(deliberateRepeatCalls(records));
      expect(beyond).toMatchObject({ missing: 0, notAfterACrash: 0 });
      // The worker's kill cost at most the calls it had running; the store's outage cost no LLM call at all.
      expect(beyond.sinceCrash[0]).toBeLessThanOrEqual(crashes[0].llmCallsInFlight);
      expect(beyond.sinceCrash[1]).toBe(0);
    },
    FLEET_TEST_TIMEOUT_MS,
  );

  test(
    "the bucket's secret key is in no history, no object of the bucket, no worker log and no terminal output",
    async () => {
      expect(rowsOf.clean).toBeDefined();
      const secrets = [secretKey, LLM_KEY];
      const absent = (where: string, haystack: string) => {
        for (const secret of secrets)
          expect({ where, found: haystack.includes(secret) }).toEqual({ where, found: false });
      };

      // Every history of both runs: the dataset workflow's executions and every instruction's.
      for (const runId of Object.values(runs)) {
        const histories = await closedRunHistories(client, runId, SEEDS + 1);
        const haystack = historiesText(histories);
        expect(haystack).toContain(texts[0]);
        expect(haystack).toContain(texts[SEEDS - 1]);
        absent(`histories of ${runId}`, haystack);
      }

      // Every object of the bucket, read whole.
      const objects = new S3Objects(`s3://${bucket}`, awsEnv);
      let bucketText = '';
      let keys = 0;
      try {
        for await (const page of objects.list('')) {
          for (const key of page) {
            keys++;
            bucketText += `== ${key}\n${(await objects.get(key)) ?? ''}\n`;
          }
        }
      } finally {
        objects.close();
      }
      expect(keys).toBeGreaterThanOrEqual(2 * (SEEDS + 2));
      expect(bucketText).toContain(texts[0]);
      expect(bucketText).toContain(`"runId": "${runs.crashed}"`);
      absent('the bucket', bucketText);

      // Each worker's log file, the killed one's too: each says it started polling this task queue, and the outage's
      // failed store calls (which name the bucket and its endpoint) are in them.
      expect(workers.length).toBe(4);
      for (const worker of workers) {
        const log = worker.log();
        expect(log).toContain(`INFO Worker state changed sdkComponent=worker taskQueue=${taskQueue} state=RUNNING`);
        absent(`log ${worker.logFile}`, log);
      }
      expect(workers.map((w) => w.log()).join('\n')).toContain(
        `StoreUnreachableError: the run store ${storeUrl} at ${s3.endpoint} did not answer a request`,
      );

      // What every process printed: the workers and each evol command.
      for (const worker of workers) {
        expect(worker.output()).toContain('Worker polling');
        absent(`terminal of worker ${worker.identity}`, worker.output());
      }
      expect(terminal.map((t) => t.what)).toEqual([
        'evol run crashed',
        'evol export crashed',
        'evol run clean',
        'evol export clean',
      ]);
      for (const { what, result } of terminal) {
        expect(`${result.stdout}${result.stderr}`.length).toBeGreaterThan(0);
        absent(`terminal of ${what}`, `${result.stdout}\n${result.stderr}`);
      }
      expect(terminal[0].result.stdout).toContain(`Run ${runs.crashed}`);
      expect(terminal[1].result.stderr).toContain(`rows from ${SEEDS} records written to`);
    },
    FLEET_TEST_TIMEOUT_MS,
  );
});

function formatTable(rows: Row[]): string {
  const headers = [
    'run',
    'seeds',
    'crashes',
    'LLM calls in flight at each crash',
    'calls repeated after each',
    'records',
    'export rows',
    'wall s',
  ];
  const cells = rows.map((r) =>
    [r.run, r.seeds, r.crashes, r.inFlight, r.repeats, r.records, r.rows, r.wallS].map(String),
  );
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join(' | ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('-|-'), ...cells.map(line)].join('\n');
}

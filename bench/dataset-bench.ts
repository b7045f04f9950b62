/**
 * `npm run bench -- --seeds N --rounds R --latency-ms L --concurrency C [--workers W] [--rpm R] [--tpm T] [--store s3] [--costs] [--json] [--keep]`
 *
 * One whole dataset run against the simulated LLM at a fixed latency, every part in its own process as in
 * production (Temporal dev server, simulated LLM, `evol worker`), then its figures: LLM calls/s against the C/L
 * limit, the latency Temporal adds to each call (from workflow histories), peak RSS, and history sizes. With
 * `--rpm`/`--tpm` the simulated LLM enforces those limits and every role's endpoint carries them, so the workers
 * pace themselves through their shared rate limiter: then it also prints the requests and tokens per minute held,
 * as shares of the limits, and the share of requests answered 429. With `--store s3` it runs twice, on a local run
 * store and then on a bucket of a SeaweedFS server of its own, and prints the second's share of the first, the
 * bucket's requests per seed, and what a run costs (`--costs` prints that for one run on either store).
 * See bench/README.md for what each figure means and the targets.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { Command, InvalidArgumentError } from 'commander';
import { createDatasetRun, runProgress, startDatasetRun, workflowIdsOf } from '../client/api';
import type { RunProgress } from '../core/dataset';
import type { DatasetRunConfigInput } from '../core/settings-schemas';
import { GENERAL_OPERATIONS } from '../core/operations';
import { LEASE_EXPIRY_MS } from '../core/rate-limits';
import type { LlmConfig, LlmEndpoint } from '../core/endpoints';
import {
  DEFAULT_DYNAMIC_CONFIG,
  DEFAULT_SQLITE_PRAGMAS,
  findFreePorts,
  startDevServer,
  type DevServer,
} from '../server/dev-server';
import { ensureTemporalCli } from '../server/temporal-cli';
import type { SimRequestRecord } from '../sim/types';
import { startS3Server, type S3Server } from '../server/s3-server';
import { openRunStore } from '../store/location';
import { OBJECT_REQUEST_KINDS, type ObjectRequestKind } from '../store/objects';
import { S3Objects } from '../store/s3-objects';
import type { RunMeta, SeedRecord } from '../core/run';
import { STORE_BYTES_METRIC, STORE_REQUESTS_METRIC } from '../worker/runtime';
import {
  ACTION_KINDS,
  ACTIONS_SOURCE,
  addHistory,
  emptyTally,
  totalActions,
  type ActionKind,
  type HistoryTally,
} from './costs';
import { meanMsText, meanOf, scrapeCounters, scrapeWorkers, type Counter, type Histograms } from './prometheus';
import type { FloorFigures } from './floor-bench';
import {
  Cleanup,
  delay,
  MACHINE,
  note,
  onInterrupt,
  percentile,
  positiveInt,
  ProcessSampler,
  round,
  simStats,
  spawnNode,
  startSimProcess,
  waitForOutput,
  withRunShape,
  type NodeProcess,
  type RunShape,
  type SimCounters,
} from './proc';

const DIST = path.resolve(__dirname, '..');
const CLI = path.join(DIST, 'client', 'cli.js');
const FLOOR = path.join(DIST, 'bench', 'floor-bench.js');
const TASK_QUEUE = 'evolforge-bench';
const API_KEY_ENV = 'EVOL_BENCH_API_KEY';
const LLM_ACTIVITIES = new Set(['mutate', 'respond', 'judgeEquality']);
const HISTORY_SAMPLE = 200;
const HISTORY_EVENT_LIMIT = 10_000;
const PROGRESS_INTERVAL_MS = 15_000;
/** How often the run's spend is read while a rate limit is given, for its tokens per minute. */
const SPEND_SAMPLE_MS = 1_000;
/** With `--store s3`: the bench's bucket on its own SeaweedFS server, and the prefix of the run store in it. */
const BENCH_BUCKET = 'evol-bench';
const BENCH_STORE = `s3://${BENCH_BUCKET}/runs`;
/** The S3 run's share of the local one that issue 21 asks for at C = 32, L = 500 ms. */
const S3_SHARE_TARGET = 0.9;

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type History = temporal.api.history.v1.IHistory;
const EventType = temporal.api.enums.v1.EventType;

// ---------------------------------------------------------------------------------------------------------------
// Options

interface BenchOptions extends RunShape {
  /** `evol worker` processes on the task queue. */
  workers: number;
  /** Limits the simulated LLM enforces and every endpoint of the run is given. */
  rpm?: number;
  tpm?: number;
  /** The simulated LLM's burst (seconds' worth of each limit its buckets hold); its own default when absent. */
  burstSeconds?: number;
  /** Width of one step of the rates-over-time line, in seconds. */
  rateStepS: number;
  json: boolean;
  keep: boolean;
  /** Replace the dev server's SQLite pragmas and add dynamic config, to compare settings (see README). */
  sqlitePragmas: string[];
  dynamicConfig: Record<string, unknown>;
  /** Node options for the worker processes, e.g. `--cpu-prof` (see README). */
  workerNodeArgs: string[];
  /** Run the floor bench (bare Temporal, same N R L C) first and print this run's share of it. */
  floor: boolean;
  /** `s3`: the run on a local store, then the same on a bucket, and the second's share of the first. */
  store: StoreKind;
  /** Print what the run costs (always with `--store s3`). */
  costs: boolean;
}

type StoreKind = 'local' | 's3';

function storeKind(value: string): StoreKind {
  if (value !== 'local' && value !== 's3') throw new InvalidArgumentError('expected local or s3');
  return value;
}

function append(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function collect(value: string, previous: string[]): string[] {
  if (!/^\w+=\w+$/.test(value)) throw new InvalidArgumentError('expected PRAGMA=VALUE, e.g. journal_mode=wal');
  return [...previous, value];
}

function collectConfig(value: string, previous: Record<string, unknown>): Record<string, unknown> {
  const match = /^([\w.]+)=(.+)$/.exec(value);
  if (!match) throw new InvalidArgumentError('expected KEY=JSON, e.g. system.enableActivityEagerExecution=true');
  try {
    return { ...previous, [match[1]]: JSON.parse(match[2]) };
  } catch {
    throw new InvalidArgumentError(`the value of ${match[1]} is not JSON`);
  }
}

function parseOptions(argv: string[]): BenchOptions {
  const program = withRunShape(new Command('dataset-bench'), 'seed instructions')
    .description('runs one dataset run against the simulated LLM at a fixed latency and prints its figures')
    .option('--workers <n>', '`evol worker` processes on the task queue', positiveInt, 1)
    .option('--rpm <n>', 'requests per minute the simulated LLM allows and every endpoint is given', positiveInt)
    .option('--tpm <n>', 'tokens per minute the simulated LLM allows and every endpoint is given', positiveInt)
    .option('--burst-seconds <n>', "seconds' worth of each limit the simulated LLM lets through at once", positiveInt)
    .option('--rate-step-s <n>', 'seconds per step of the rates-over-time line (with a limit)', positiveInt, 10)
    .option('--json', 'also print the figures as one JSON object')
    .option('--keep', 'keep the temp dirs (Temporal state, run store, server log)')
    .option(
      '--floor',
      "first run the same seeds, rounds, latency and concurrency on bare Temporal (bench/floor-bench.ts), then print this run's share of it",
    )
    .option(
      '--store <kind>',
      "local (default), or s3: the run on a local store, then on a bucket of the bench's own SeaweedFS server",
      storeKind,
      'local' as StoreKind,
    )
    .option(
      '--costs',
      'print what the run costs: Temporal actions and history bytes, CPU per LLM call (always with --store s3)',
    )
    .option('--sqlite-pragma <pragma=value>', "replaces the dev server's SQLite settings, repeatable", collect, [])
    .option('--dynamic-config <key=json>', "the dev server's dynamic config value, repeatable", collectConfig, {})
    .option(
      '--worker-node-arg <arg>',
      'a Node option for each worker process (e.g. --cpu-prof), repeatable',
      append,
      [],
    )
    .parse(argv);
  const opts = program.opts<{
    seeds: number;
    rounds: number;
    latencyMs: number;
    concurrency: number;
    workers: number;
    rpm?: number;
    tpm?: number;
    burstSeconds?: number;
    rateStepS: number;
    json?: boolean;
    keep?: boolean;
    floor?: boolean;
    store: StoreKind;
    costs?: boolean;
    sqlitePragma: string[];
    dynamicConfig: Record<string, unknown>;
    workerNodeArg: string[];
  }>();
  const { sqlitePragma, json, keep, floor, costs, workerNodeArg, ...rest } = opts;
  if (rest.burstSeconds !== undefined && !rest.rpm && !rest.tpm) {
    program.error('--burst-seconds needs --rpm or --tpm');
  }
  return {
    ...rest,
    json: Boolean(json),
    keep: Boolean(keep),
    floor: Boolean(floor),
    costs: Boolean(costs) || rest.store === 's3',
    sqlitePragmas: sqlitePragma,
    workerNodeArgs: workerNodeArg,
  };
}

const limited = (options: BenchOptions): boolean => Boolean(options.rpm || options.tpm);

// ---------------------------------------------------------------------------------------------------------------
// Processes and cleanup

interface Environment {
  server: DevServer;
  simPort: number;
  sim: NodeProcess;
  workers: NodeProcess[];
  /** Where each worker serves the SDK's Prometheus metrics (EVOL_METRICS_ADDRESS). */
  metricsPorts: number[];
  client: Client;
  store: BenchStore;
}

/** Where a run's store lives, and the settings a process needs to reach it. */
interface BenchStore {
  kind: StoreKind;
  /** A directory, or `s3://bucket/prefix`. */
  location: string;
  /** The bucket's endpoint, keys and region (none for a directory). */
  env: NodeJS.ProcessEnv;
  s3?: S3Server;
}

/** A directory in `dir`, or a SeaweedFS server in `dir` with a fresh identity and the bench's bucket on it. */
async function startStore(kind: StoreKind, dir: string, cleanup: Cleanup): Promise<BenchStore> {
  if (kind === 'local') return { kind, location: path.join(dir, 'store'), env: {} };
  const credentials = {
    accessKey: `bench${randomBytes(6).toString('hex')}`,
    secretKey: randomBytes(20).toString('hex'),
  };
  const s3 = await startS3Server({ dataDir: path.join(dir, 's3'), credentials, log: note });
  cleanup.add(() => s3.stop());
  const env = {
    AWS_ENDPOINT_URL: s3.endpoint,
    AWS_ACCESS_KEY_ID: credentials.accessKey,
    AWS_SECRET_ACCESS_KEY: credentials.secretKey,
    AWS_REGION: 'us-east-1',
  };
  const bucket = new S3Objects(`s3://${BENCH_BUCKET}`, env);
  try {
    await bucket.createBucket();
  } finally {
    bucket.close();
  }
  return { kind, location: BENCH_STORE, env, s3 };
}

/** This process's environment with the store's settings in place of any the user has (another store, other keys). */
function storeEnv(store: BenchStore): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('AWS_') || key === 'EVOL_STORE_DIR') delete env[key];
  return { ...env, EVOL_STORE: store.location, ...store.env };
}

async function startServer(dataDir: string, port: number, options: BenchOptions, cleanup: Cleanup): Promise<DevServer> {
  const cliPath = await ensureTemporalCli({ log: note });
  const server = await startDevServer({
    cliPath,
    dataDir,
    port,
    headless: true,
    reuseExisting: false,
    dynamicConfig: options.dynamicConfig,
    sqlitePragmas: options.sqlitePragmas.length ? options.sqlitePragmas : undefined,
  });
  cleanup.add(() => server.stop());
  return server;
}

function startSim(port: number, options: BenchOptions, cleanup: Cleanup): Promise<NodeProcess> {
  const args: string[] = [];
  if (options.rpm) args.push('--rpm', String(options.rpm));
  if (options.tpm) args.push('--tpm', String(options.tpm));
  if (options.burstSeconds) args.push('--burst-seconds', String(options.burstSeconds));
  return startSimProcess(port, options.latencyMs, args, cleanup);
}

async function startWorker(
  name: string,
  address: string,
  store: BenchStore,
  dataDir: string,
  metricsPort: number,
  options: BenchOptions,
  cleanup: Cleanup,
): Promise<NodeProcess> {
  // Every instruction workflow has at most one activity running, the dataset workflow one more.
  const maxConcurrent = 3 * options.concurrency + 16;
  const args = [
    ...options.workerNodeArgs,
    CLI,
    'worker',
    '--task-queue',
    TASK_QUEUE,
    '--max-concurrent',
    String(maxConcurrent),
  ];
  const env = {
    ...storeEnv(store),
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: 'default',
    // Its log (logs/evol.log) in the temp dir, not the working directory's .evolforge.
    EVOL_DATA_DIR: dataDir,
    EVOL_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
    [API_KEY_ENV]: 'bench',
  };
  const worker = spawnNode(name, args, env, cleanup);
  await waitForOutput(worker, 'Worker polling', 120_000);
  return worker;
}

async function startEnvironment(
  tempDir: string,
  options: BenchOptions,
  storeKind: StoreKind,
  cleanup: Cleanup,
): Promise<Environment> {
  const [serverPort, simPort, ...metricsPorts] = await findFreePorts(2 + options.workers);
  const [server, sim, store] = await Promise.all([
    startServer(path.join(tempDir, 'temporal'), serverPort, options, cleanup),
    startSim(simPort, options, cleanup),
    startStore(storeKind, tempDir, cleanup),
  ]);
  const workers = await Promise.all(
    workerLabels(options).map((label, i) =>
      startWorker(label, server.address, store, path.join(tempDir, 'data'), metricsPorts[i], options, cleanup),
    ),
  );
  const connection = await Connection.connect({ address: server.address });
  cleanup.add(() => connection.close());
  return {
    server,
    simPort,
    sim,
    workers,
    metricsPorts,
    client: new Client({ connection, namespace: 'default' }),
    store,
  };
}

/** `worker` alone, else `worker 1` … `worker N`: the names of the worker processes in the figures. */
function workerLabels(options: BenchOptions): string[] {
  if (options.workers === 1) return ['worker'];
  return Array.from({ length: options.workers }, (_, i) => `worker ${i + 1}`);
}

// ---------------------------------------------------------------------------------------------------------------
// The run

const SUBJECTS = [
  'tides',
  'volcanoes',
  'compilers',
  'bread baking',
  'chess openings',
  'tax returns',
  'bird migration',
  'password hashing',
  'crop rotation',
  'jazz harmony',
  'glaciers',
  'supply chains',
];
const TASKS = [
  (s: string) => `Explain ${s} to a curious beginner`,
  (s: string) => `Write a short guide to ${s} for a busy student`,
  (s: string) => `List three common misconceptions about ${s} and correct them`,
  (s: string) => `Compare two ways of thinking about ${s}`,
  (s: string) => `Describe how ${s} changed over the last century`,
  (s: string) => `Give a worked example that shows ${s} in practice`,
];

function benchSeeds(n: number): SeedRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const subject = SUBJECTS[i % SUBJECTS.length];
    const task = TASKS[Math.floor(i / SUBJECTS.length) % TASKS.length];
    return { id: `s${i + 1}`, text: `${task(subject)} (case ${i + 1}).`, source: { file: 'bench', line: i + 1 } };
  });
}

function benchLlm(baseURL: string, options: BenchOptions): LlmConfig {
  const { latencyMs, rpm, tpm } = options;
  // One endpoint (URL, model, key) for all three roles: they share one limiter, so one limit.
  const endpoint = (temperature: number): LlmEndpoint => ({
    baseURL,
    model: 'sim-1',
    temperature,
    maxTokens: 256,
    apiKeyEnv: API_KEY_ENV,
    requestTimeoutMs: latencyMs + 30_000,
    ...(rpm ? { rpm } : {}),
    ...(tpm ? { tpm } : {}),
  });
  return { evolver: endpoint(0.7), responder: endpoint(0.7), judge: endpoint(0) };
}

/** Creates the run in the store as `evol run` does; `onRequest` hears of each request sent to a bucket. */
async function createBenchRun(
  env: Environment,
  options: BenchOptions,
  onRequest: (kind: ObjectRequestKind, bytes: number) => void,
): Promise<RunMeta> {
  const config: DatasetRunConfigInput = {
    rounds: options.rounds,
    seed: 1,
    llm: benchLlm(`http://127.0.0.1:${env.simPort}/v1`, options),
    method: 'general',
    operations: GENERAL_OPERATIONS.map((op) => ({ ...op })),
    concurrency: options.concurrency,
    // The bench measures rounds; a seed's own answer would add a call per seed that no round counts.
    answerSeeds: false,
  };
  return createDatasetRun(openRunStore(env.store.location, storeEnv(env.store), { onRequest }), {
    runId: `bench-${Date.now().toString(36)}`,
    inputFile: 'bench',
    seeds: benchSeeds(options.seeds),
    config,
  });
}

type SimRequest = Pick<SimRequestRecord, 'receivedAt' | 'status'>;

/** When the simulated LLM received each call and what it answered, sorted by arrival. */
async function simRequests(port: number): Promise<SimRequest[]> {
  const response = await fetch(`http://127.0.0.1:${port}/_sim/requests`);
  if (!response.ok) throw new Error(`GET /_sim/requests answered ${response.status}`);
  return ((await response.json()) as SimRequestRecord[])
    .map(({ receivedAt, status }) => ({ receivedAt, status }))
    .sort((a, b) => a.receivedAt - b.receivedAt);
}

/**
 * Calls/s over the middle 80 % of the calls (from the 10th to the 90th percentile of their arrival): the run's
 * steady state, without its start (the first page, the first starts) and its end (the last window draining).
 */
function steadyCallsPerSecond(times: number[]): number {
  if (times.length < 10) return NaN;
  const from = Math.floor(times.length * 0.1);
  const to = Math.ceil(times.length * 0.9) - 1;
  return (to - from) / ((times[to] - times[from]) / 1000);
}

function reportProgress(simPort: number, startedAt: number): () => void {
  const timer = setInterval(() => {
    simStats(simPort).then(
      ({ total }) => {
        const seconds = (Date.now() - startedAt) / 1000;
        note(`${seconds.toFixed(0)} s: ${total} LLM calls (${(total / seconds).toFixed(1)}/s)`);
      },
      () => undefined,
    );
  }, PROGRESS_INTERVAL_MS);
  return () => clearInterval(timer);
}

/** The run's result, or a worker's last words should one die first (the run would then wait forever). */
async function waitForResult(handle: WorkflowHandle, workers: NodeProcess[]): Promise<RunProgress> {
  let waiting = true;
  const died = new Promise<never>((_, reject) => {
    for (const worker of workers) {
      void worker.exited.then((code) => {
        if (waiting) reject(new Error(`the ${worker.name} exited (${code}) during the run:\n${worker.tail()}`));
      });
    }
  });
  try {
    return await Promise.race([handle.result() as Promise<RunProgress>, died]);
  } finally {
    waiting = false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Histories

interface HistoryFigure {
  workflowId: string;
  runId: string;
  events: number;
  bytes: number;
}

interface FetchedHistory extends HistoryFigure {
  history: History;
}

async function fetchHistory(client: Client, workflowId: string, runId?: string): Promise<FetchedHistory> {
  const handle = client.workflow.getHandle(workflowId, runId);
  const history = await handle.fetchHistory();
  const resolvedRunId = runId ?? (await handle.describe()).runId;
  return {
    workflowId,
    runId: resolvedRunId,
    events: history.events?.length ?? 0,
    bytes: temporal.api.history.v1.History.encode(history).finish().length,
    history,
  };
}

async function datasetHistories(client: Client, meta: RunMeta): Promise<FetchedHistory[]> {
  const workflowId = workflowIdsOf(meta).dataset;
  const executions: Array<{ runId: string; startMs: number }> = [];
  for await (const execution of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) {
    executions.push({ runId: execution.runId, startMs: execution.startTime.getTime() });
  }
  executions.sort((a, b) => a.startMs - b.startMs);
  return mapLimit(executions, 4, ({ runId }) => fetchHistory(client, workflowId, runId));
}

/** Evenly spread over the run, so early, middle and late instructions are all represented. */
function sampleIds(seeds: number, size: number): string[] {
  const count = Math.min(size, seeds);
  return Array.from({ length: count }, (_, i) => `s${Math.floor((i * seeds) / count) + 1}`);
}

async function instructionHistories(client: Client, meta: RunMeta, seeds: number): Promise<FetchedHistory[]> {
  const ids = sampleIds(seeds, HISTORY_SAMPLE);
  return mapLimit(ids, 8, (id) => fetchHistory(client, workflowIdsOf(meta).instruction(id)));
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** The marker the TypeScript SDK records for a finished local activity. */
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

const num = (value: { toString(): string } | number | null | undefined): number => Number(String(value ?? 0));
const eventMs = (event: HistoryEvent): number => tsToMs(event.eventTime);

interface ActivityTiming {
  type: string;
  scheduledMs: number;
  startedMs: number;
  completedMs: number;
  madeLlmCall: boolean;
}

/** Completed activities with their event times; an activity that answered without an LLM call is marked. */
function activityTimings(events: HistoryEvent[]): ActivityTiming[] {
  const scheduled = new Map<number, { type: string; ms: number }>();
  const started = new Map<number, number>();
  const timings: ActivityTiming[] = [];
  for (const event of events) {
    if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
      const type = event.activityTaskScheduledEventAttributes?.activityType?.name ?? '';
      scheduled.set(num(event.eventId), { type, ms: eventMs(event) });
    } else if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
      started.set(num(event.activityTaskStartedEventAttributes?.scheduledEventId), eventMs(event));
    } else if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) {
      const attributes = event.activityTaskCompletedEventAttributes;
      const id = num(attributes?.scheduledEventId);
      const start = scheduled.get(id);
      if (!start) continue;
      timings.push({
        type: start.type,
        scheduledMs: start.ms,
        startedMs: started.get(id) ?? start.ms,
        completedMs: eventMs(event),
        madeLlmCall: LLM_ACTIVITIES.has(start.type) && spentTokens(attributes?.result),
      });
    }
  }
  return timings;
}

/** The rule-based eliminations answer without asking the judge: their usage is zero. */
function spentTokens(result: temporal.api.common.v1.IPayloads | null | undefined): boolean {
  const payload = result?.payloads?.[0];
  if (!payload) return false;
  const value = defaultPayloadConverter.fromPayload<{ usage?: { totalTokens?: number } }>(payload);
  return (value?.usage?.totalTokens ?? 0) > 0;
}

/** Schedule-to-start and start-to-complete of each workflow task. */
function workflowTaskTimings(events: HistoryEvent[]): { scheduleToStart: number[]; processing: number[] } {
  const times = new Map<number, number>(events.map((event) => [num(event.eventId), eventMs(event)]));
  const scheduleToStart: number[] = [];
  const processing: number[] = [];
  for (const event of events) {
    if (event.eventType !== EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) continue;
    const attributes = event.workflowTaskCompletedEventAttributes;
    const scheduledMs = times.get(num(attributes?.scheduledEventId));
    const startedMs = times.get(num(attributes?.startedEventId));
    if (scheduledMs === undefined || startedMs === undefined) continue;
    scheduleToStart.push(startedMs - scheduledMs);
    processing.push(eventMs(event) - startedMs);
  }
  return { scheduleToStart, processing };
}

/** Time from one LLM call's completion to the next one's scheduling: the workflow task in between. */
function gapsBetweenCalls(timings: ActivityTiming[]): number[] {
  const llm = timings.filter((t) => LLM_ACTIVITIES.has(t.type)).sort((a, b) => a.scheduledMs - b.scheduledMs);
  return llm.slice(1).map((t, i) => t.scheduledMs - llm[i].completedMs);
}

/**
 * For each report signal, how long until the dataset workflow started the next instruction workflow (a window slot
 * refilled): the next local-activity marker (the start, recorded when the workflow task that ran it completes), or
 * the next StartChildWorkflowExecutionInitiated in runs recorded when instructions were child workflows.
 */
function refillDelays(events: HistoryEvent[]): number[] {
  const starts = events
    .filter(
      (e) =>
        e.eventType === EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED ||
        (e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED &&
          e.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER),
    )
    .map(eventMs);
  const delays: number[] = [];
  let i = 0;
  for (const event of events) {
    if (event.eventType !== EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) continue;
    const signaledMs = eventMs(event);
    while (i < starts.length && starts[i] < signaledMs) i++;
    if (i < starts.length) delays.push(starts[i] - signaledMs);
  }
  return delays;
}

/** From an instruction workflow's start to its first activity (its first LLM call) being scheduled. */
function firstActivityDelays(instructions: FetchedHistory[]): number[] {
  return instructions.flatMap(({ history }) => {
    const events = history.events ?? [];
    const first = events.find((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
    return events.length && first ? [eventMs(first) - eventMs(events[0])] : [];
  });
}

function workflowSpanMs(events: HistoryEvent[]): number {
  return events.length ? eventMs(events[events.length - 1]) - eventMs(events[0]) : 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Figures

interface Spread {
  p50: number;
  p99: number;
  count: number;
}

function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), count: sorted.length };
}

/** LLM round trips one after another in a round: mutate, then respond and judgeEquality at once. */
const ROUND_TRIPS_PER_ROUND = 2;

/** The floor bench's run of the same N, R, L and C (with `--floor`), and this run's share of it. */
interface FloorShare {
  roundsPerSecond: number;
  callsPerSecond: number;
  cpuMsPerSeed: { worker?: number; server?: number };
  /** The floor worker's workflow tasks from receipt to reply (SDK metrics, mean). */
  workflowTaskMs?: number;
  /** This run's evolved rounds/s over the floor's, and its LLM calls/s over the floor's calls/s. */
  roundsShare: number;
  callsShare: number;
}

/** A bucket's requests and body bytes, by kind: the run's total (workers and run creation), per seed, and per LLM call. */
interface StoreRequestFigures {
  requests: Record<ObjectRequestKind, number>;
  bytes: Record<ObjectRequestKind, number>;
  requestsPerSeed: Record<ObjectRequestKind, number>;
  bytesPerSeed: Record<ObjectRequestKind, number>;
  /** All kinds together. */
  totalPerSeed: number;
  totalPerLlmCall: number;
  /** The part of `requests` the bench sent creating the run, as `evol run` does (the workers sent the rest). */
  creatingTheRun: Record<ObjectRequestKind, number>;
}

/** What the run cost: its histories (Temporal Cloud bills actions and history storage) and CPU. */
interface CostFigures {
  workflows: number;
  events: number;
  historyBytes: number;
  eventsPerSeed: number;
  historyBytesPerSeed: number;
  /** The most frequent event types, per seed. */
  eventsPerSeedByType: Record<string, number>;
  actions: Record<ActionKind, number>;
  actionsTotal: number;
  actionsPerSeed: number;
  actionsPerLlmCall: number;
  /** CPU time per LLM call the simulated LLM answered: the worker(s), the Temporal server, the S3 server. */
  cpuMsPerLlmCall: { worker?: number; server?: number; s3?: number };
}

interface Figures {
  /** Where the run store was: a directory (`local`) or a bucket (`s3`). */
  store: StoreKind;
  seeds: number;
  rounds: number;
  latencyMs: number;
  concurrency: number;
  workers: number;
  sqlitePragmas: string[];
  dynamicConfig: Record<string, unknown>;
  runId: string;
  outcome: { status: string; completed: number; failed: number };
  wallMs: number;
  llmCalls: number;
  llmCallsByKind: Record<string, number>;
  llmCallsPerSecond: number;
  limitCallsPerSecond: number;
  ratio: number;
  /** Evolved rounds (seeds x rounds, passed or eliminated) per second, their ideal C / (k L), and the ratio. */
  roundsPerSecond: number;
  idealRoundsPerSecond: number;
  roundsRatio: number;
  /** The ratio over the middle 80 % of the calls: see {@link steadyCallsPerSecond}. */
  steadyRatio: number;
  callsPerSeed: number;
  wallMsPerSeed: number;
  /** Over the LLM calls of the sampled instruction workflows. */
  addedLatencyMs: Spread;
  scheduleToStartMs: Spread;
  sampledInstructionWorkflows: number;
  /** `worker`: the sum of the workers' peaks (each sampled on its own, listed in `workers`). */
  peakRssMb: { worker?: number; server?: number; workers: Array<number | undefined> };
  /** Average cores used during the run by each process, and by the whole machine (other processes included). */
  cpuCores: {
    /** All the workers together; each in `workers`. */
    worker?: number;
    workers: Array<number | undefined>;
    server?: number;
    sim?: number;
    bench?: number;
    /** The S3 server (SeaweedFS), with `--store s3`. */
    s3?: number;
    /** Whatever else ran meanwhile: on a shared machine, the figures above are only comparable when this is low. */
    others?: number;
    machine?: number;
    available: number;
  };
  /** With `--rpm`/`--tpm` only. */
  rateLimits?: RateFigures;
  /** With a bucket only. */
  storeRequests?: StoreRequestFigures;
  /** With `--costs` (or `--store s3`) only. */
  costs?: CostFigures;
  largestHistoryByEvents: HistoryFigure;
  largestHistoryByBytes: HistoryFigure;
  historyOver10kEvents: boolean;
  continuedAsNew: number;
  datasetExecutions: HistoryFigure[];
  /** Where the time goes, for when the ratio falls short. */
  floor?: FloorShare;
  diagnostics: {
    instructionWorkflowMs: Spread;
    idealInstructionWorkflowMs: number;
    gapBetweenLlmCallsMs: Spread;
    instructionWorkflowTask: { scheduleToStartMs: Spread; processingMs: Spread };
    datasetWorkflowTask: { scheduleToStartMs: Spread; processingMs: Spread };
    signalToNextStartMs: Spread;
    startToFirstActivityMs: Spread;
    instructionHistoryEvents: Spread;
    instructionHistoryBytes: Spread;
    /** CPU time each process spent per seed: what a seed costs the machine, whatever the wall time. */
    cpuMsPerSeed: { worker?: number; server?: number };
    datasetBytesByEventType: EventTypeBytes[];
    /** Average instruction workflows open, from the visibility records of all of them, over C. */
    windowOccupancy: number;
    /** Means from the workers' own SDK metrics (ms), undefined where nothing was observed. */
    sdk: SdkFigures;
  };
}

/** Requests to a bucket and their body bytes, by kind. */
interface RequestTally {
  requests: Counter;
  bytes: Counter;
}

function requestTally(): RequestTally & { add: (kind: ObjectRequestKind, bytes: number) => void } {
  const tally: RequestTally = { requests: new Map(), bytes: new Map() };
  return {
    ...tally,
    add: (kind, bytes) => {
      tally.requests.set(kind, (tally.requests.get(kind) ?? 0) + 1);
      tally.bytes.set(kind, (tally.bytes.get(kind) ?? 0) + bytes);
    },
  };
}

interface Measured {
  store: StoreKind;
  /** With a bucket: the workers' requests (from their metrics) and the bench's own (creating the run). */
  storeRequests?: { workers: RequestTally; bench: RequestTally };
  /** With `--costs`: every history of the run, added up. */
  histories?: HistoryTally;
  options: BenchOptions;
  runId: string;
  progress: RunProgress;
  wallMs: number;
  stats: SimCounters;
  /** When the simulated LLM received each call (epoch ms), sorted. */
  requestTimes: number[];
  /** Each call's arrival and status, sorted by arrival. */
  requests: SimRequest[];
  /** The run's spend over time, sampled with a rate limit only. */
  spend: SpendSample[];
  leases?: LeaseFigures;
  processes: ProcessSampler;
  dataset: FetchedHistory[];
  instructions: FetchedHistory[];
  openMsTotal: number;
  /** The workers' SDK metrics at the end of the run. */
  sdk: Histograms;
}

function withoutHistory({ workflowId, runId, events, bytes }: HistoryFigure): HistoryFigure {
  return { workflowId, runId, events, bytes };
}

function largest(histories: FetchedHistory[], by: 'events' | 'bytes'): HistoryFigure {
  return withoutHistory(histories.reduce((a, b) => (b[by] > a[by] ? b : a)));
}

function othersCores(processes: ProcessSampler, workers: string[]): number | undefined {
  const machine = processes.cores(MACHINE);
  if (machine === undefined) return undefined;
  const ours = [...workers, 'server', 'sim', 'bench', 's3'].map((label) => processes.cores(label) ?? 0);
  return round(Math.max(0, machine - ours.reduce((a, b) => a + b, 0)), 2);
}

/** The sum of a figure over the workers (undefined when none was sampled), to the given digits. */
function sumOf(values: Array<number | undefined>, digits: number): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length
    ? round(
        known.reduce((a, b) => a + b, 0),
        digits,
      )
    : undefined;
}

function figuresOf(m: Measured): Figures {
  const { options } = m;
  const calls = m.stats.total;
  const perSecond = calls / (m.wallMs / 1000);
  const limit = options.concurrency / (options.latencyMs / 1000);
  const roundsPerSecond = (options.seeds * options.rounds) / (m.wallMs / 1000);
  const idealRounds = options.concurrency / (ROUND_TRIPS_PER_ROUND * (options.latencyMs / 1000));
  const timings = m.instructions.map((h) => activityTimings(h.history.events ?? []));
  const llmCalls = timings.flat().filter((t) => t.madeLlmCall);
  const all = [...m.dataset, ...m.instructions];
  const workers = workerLabels(options);
  const workerRss = workers.map((label) => m.processes.peakMb(label));
  const workerCores = workers.map((label) => m.processes.cores(label));
  const rateLimits = rateFiguresOf(m);
  const storeRequests = storeRequestFiguresOf(m);
  const costs = costFiguresOf(m);
  return {
    store: m.store,
    seeds: options.seeds,
    rounds: options.rounds,
    latencyMs: options.latencyMs,
    concurrency: options.concurrency,
    workers: options.workers,
    sqlitePragmas: options.sqlitePragmas.length ? options.sqlitePragmas : DEFAULT_SQLITE_PRAGMAS,
    dynamicConfig: { ...DEFAULT_DYNAMIC_CONFIG, ...options.dynamicConfig },
    runId: m.runId,
    outcome: { status: m.progress.status, completed: m.progress.counts.completed, failed: m.progress.counts.failed },
    wallMs: m.wallMs,
    llmCalls: calls,
    llmCallsByKind: m.stats.byKind,
    llmCallsPerSecond: round(perSecond, 2),
    limitCallsPerSecond: round(limit, 2),
    ratio: round(perSecond / limit, 3),
    roundsPerSecond: round(roundsPerSecond, 2),
    idealRoundsPerSecond: round(idealRounds, 2),
    roundsRatio: round(roundsPerSecond / idealRounds, 3),
    steadyRatio: round(steadyCallsPerSecond(m.requestTimes) / limit, 3),
    callsPerSeed: round(calls / options.seeds, 3),
    wallMsPerSeed: round(m.wallMs / options.seeds, 1),
    addedLatencyMs: spread(llmCalls.map((t) => t.completedMs - t.scheduledMs - options.latencyMs)),
    scheduleToStartMs: spread(llmCalls.map((t) => t.startedMs - t.scheduledMs)),
    sampledInstructionWorkflows: m.instructions.length,
    peakRssMb: { worker: sumOf(workerRss, 1), server: m.processes.peakMb('server'), workers: workerRss },
    cpuCores: {
      worker: sumOf(workerCores, 2),
      workers: workerCores,
      server: m.processes.cores('server'),
      sim: m.processes.cores('sim'),
      bench: m.processes.cores('bench'),
      ...(m.store === 's3' ? { s3: m.processes.cores('s3') } : {}),
      others: othersCores(m.processes, workers),
      machine: m.processes.cores(MACHINE),
      available: os.cpus().length,
    },
    ...(rateLimits ? { rateLimits } : {}),
    ...(storeRequests ? { storeRequests } : {}),
    ...(costs ? { costs } : {}),
    largestHistoryByEvents: largest(all, 'events'),
    largestHistoryByBytes: largest(all, 'bytes'),
    historyOver10kEvents: all.some((h) => h.events > HISTORY_EVENT_LIMIT),
    continuedAsNew: m.progress.continuedAsNew,
    datasetExecutions: m.dataset.map(withoutHistory),
    diagnostics: diagnosticsOf(m, timings),
  };
}

function byKind(counter: Counter, scale = 1, digits = 0): Record<ObjectRequestKind, number> {
  return Object.fromEntries(
    OBJECT_REQUEST_KINDS.map((kind) => [kind, round((counter.get(kind) ?? 0) * scale, digits)]),
  ) as Record<ObjectRequestKind, number>;
}

function addCounters(a: Counter, b: Counter): Counter {
  const sum = new Map(a);
  for (const [kind, n] of b) sum.set(kind, (sum.get(kind) ?? 0) + n);
  return sum;
}

function storeRequestFiguresOf(m: Measured): StoreRequestFigures | undefined {
  if (!m.storeRequests) return undefined;
  const { workers, bench } = m.storeRequests;
  const requests = addCounters(workers.requests, bench.requests);
  const bytes = addCounters(workers.bytes, bench.bytes);
  const total = [...requests.values()].reduce((a, b) => a + b, 0);
  return {
    requests: byKind(requests),
    bytes: byKind(bytes),
    requestsPerSeed: byKind(requests, 1 / m.options.seeds, 3),
    bytesPerSeed: byKind(bytes, 1 / m.options.seeds),
    totalPerSeed: round(total / m.options.seeds, 3),
    totalPerLlmCall: round(total / Math.max(1, m.stats.total), 3),
    creatingTheRun: byKind(bench.requests),
  };
}

/** CPU ms a process (or all the workers) spent per LLM call made. */
function cpuMsPerCall(m: Measured, label: string): number | undefined {
  const perSeed = cpuMsPerSeed(m, label);
  return perSeed === undefined ? undefined : round((perSeed * m.options.seeds) / Math.max(1, m.stats.total), 2);
}

const TOP_EVENT_TYPES = 8;

function costFiguresOf(m: Measured): CostFigures | undefined {
  const h = m.histories;
  if (!h) return undefined;
  const seeds = m.options.seeds;
  const actionsTotal = totalActions(h);
  const topTypes = Object.entries(h.eventsByType)
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP_EVENT_TYPES);
  return {
    workflows: h.workflows,
    events: h.events,
    historyBytes: h.bytes,
    eventsPerSeed: round(h.events / seeds, 2),
    historyBytesPerSeed: round(h.bytes / seeds),
    eventsPerSeedByType: Object.fromEntries(topTypes.map(([type, n]) => [type, round(n / seeds, 2)])),
    actions: h.actions,
    actionsTotal,
    actionsPerSeed: round(actionsTotal / seeds, 2),
    actionsPerLlmCall: round(actionsTotal / Math.max(1, m.stats.total), 3),
    cpuMsPerLlmCall: {
      worker: cpuMsPerCall(m, 'worker'),
      server: cpuMsPerCall(m, 'server'),
      ...(m.store === 's3' ? { s3: cpuMsPerCall(m, 's3') } : {}),
    },
  };
}

function cpuMsPerSeed(m: Measured, label: string): number | undefined {
  const cores =
    label === 'worker'
      ? sumOf(
          workerLabels(m.options).map((l) => m.processes.cores(l)),
          2,
        )
      : m.processes.cores(label);
  return cores === undefined ? undefined : round((cores * m.wallMs) / m.options.seeds, 1);
}

/** What the SDK in the workers measured itself, in ms (means over the run). */
interface SdkFigures {
  /** A workflow task from the worker's receipt to its reply (local activities included), by workflow type. */
  workflowTaskMs: { instruction?: number; dataset?: number };
  /** The same tasks' schedule-to-start, as the worker saw it. */
  workflowTaskScheduleToStartMs?: number;
  /** Local activities by workflow type (the instruction's record, the dataset workflow's starts). */
  localActivityMs: { instruction?: number; dataset?: number };
  /** Calls to the Temporal server, by operation. */
  serverCallMs: Record<string, number | undefined>;
}

const SERVER_CALLS = [
  'RespondWorkflowTaskCompleted',
  'RespondActivityTaskCompleted',
  'StartWorkflowExecution',
  'SignalWorkflowExecution',
  'UpdateWorkflowExecution',
];

function sdkFiguresOf(sdk: Histograms): SdkFigures {
  const byType = (metric: string) => ({
    instruction: meanOf(sdk, `${metric}{instructionEvolution}`),
    dataset: meanOf(sdk, `${metric}{datasetEvolution}`),
  });
  return {
    workflowTaskMs: byType('temporal_workflow_task_execution_latency'),
    workflowTaskScheduleToStartMs: meanOf(sdk, 'temporal_workflow_task_schedule_to_start_latency'),
    localActivityMs: byType('temporal_local_activity_execution_latency'),
    serverCallMs: Object.fromEntries(
      SERVER_CALLS.map((op) => [
        op,
        meanOf(sdk, `temporal_request_latency{${op}}`) ?? meanOf(sdk, `temporal_long_request_latency{${op}}`),
      ]),
    ),
  };
}

function sdkLines(s: SdkFigures): string[] {
  const ms = meanMsText;
  const calls = Object.entries(s.serverCallMs)
    .filter(([, v]) => v !== undefined)
    .map(([op, v]) => `${op} ${ms(v)}`)
    .join(', ');
  return [
    `  worker's workflow tasks (SDK):    receipt to reply, mean: instruction ${ms(s.workflowTaskMs.instruction)}, dataset ${ms(s.workflowTaskMs.dataset)}; schedule-to-start ${ms(s.workflowTaskScheduleToStartMs)}; local activities: instruction ${ms(s.localActivityMs.instruction)}, dataset ${ms(s.localActivityMs.dataset)}`,
    `  worker's calls to the server (SDK): mean ${calls || 'n/a'}`,
  ];
}

function diagnosticsOf(m: Measured, timings: ActivityTiming[][]): Figures['diagnostics'] {
  const instructionTasks = m.instructions.map((h) => workflowTaskTimings(h.history.events ?? []));
  const datasetEvents = m.dataset.flatMap((h) => h.history.events ?? []);
  // Event ids start again in each run of a continued-as-new workflow: pair them run by run.
  const datasetTasks = m.dataset.map((h) => workflowTaskTimings(h.history.events ?? []));
  return {
    instructionWorkflowMs: spread(m.instructions.map((h) => workflowSpanMs(h.history.events ?? []))),
    idealInstructionWorkflowMs: ROUND_TRIPS_PER_ROUND * m.options.rounds * m.options.latencyMs,
    gapBetweenLlmCallsMs: spread(timings.flatMap(gapsBetweenCalls)),
    instructionWorkflowTask: {
      scheduleToStartMs: spread(instructionTasks.flatMap((t) => t.scheduleToStart)),
      processingMs: spread(instructionTasks.flatMap((t) => t.processing)),
    },
    datasetWorkflowTask: {
      scheduleToStartMs: spread(datasetTasks.flatMap((t) => t.scheduleToStart)),
      processingMs: spread(datasetTasks.flatMap((t) => t.processing)),
    },
    signalToNextStartMs: spread(m.dataset.flatMap((h) => refillDelays(h.history.events ?? []))),
    startToFirstActivityMs: spread(firstActivityDelays(m.instructions)),
    windowOccupancy: round(m.openMsTotal / (m.options.concurrency * m.wallMs), 3),
    sdk: sdkFiguresOf(m.sdk),
    instructionHistoryEvents: spread(m.instructions.map((h) => h.events)),
    instructionHistoryBytes: spread(m.instructions.map((h) => h.bytes)),
    cpuMsPerSeed: { worker: cpuMsPerSeed(m, 'worker'), server: cpuMsPerSeed(m, 'server') },
    datasetBytesByEventType: bytesByEventType(datasetEvents),
  };
}

interface EventTypeBytes {
  type: string;
  count: number;
  avgBytes: number;
  /** Of the history's bytes. */
  share: number;
}

/** The event types that make up most of a history's bytes, largest first, with their average size. */
function bytesByEventType(events: HistoryEvent[], top = 3): EventTypeBytes[] {
  const byType = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  for (const event of events) {
    const type = EventType[event.eventType ?? 0].replace('EVENT_TYPE_', '');
    const bytes = temporal.api.history.v1.HistoryEvent.encode(event).finish().length;
    const entry = byType.get(type) ?? { count: 0, bytes: 0 };
    byType.set(type, { count: entry.count + 1, bytes: entry.bytes + bytes });
    total += bytes;
  }
  return [...byType.entries()]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .slice(0, top)
    .map(([type, { count, bytes }]) => ({
      type,
      count,
      avgBytes: Math.round(bytes / count),
      share: round(bytes / total, 2),
    }));
}

/**
 * Every history of the run, added up: each run of its dataset workflow and every instruction workflow (all that carry
 * its EvolRunId), and with a rate limit the limiter workflows too (they serve every run on their endpoint).
 */
async function runHistories(client: Client, runId: string, options: BenchOptions): Promise<HistoryTally> {
  const query = `EvolRunId = "${runId}"${limited(options) ? ' OR WorkflowType = "rateLimiter"' : ''}`;
  const executions: Array<{ workflowId: string; runId: string }> = [];
  for await (const execution of client.workflow.list({ query })) {
    executions.push({ workflowId: execution.workflowId, runId: execution.runId });
  }
  const tally = emptyTally();
  await mapLimit(executions, 8, async ({ workflowId, runId: id }) => {
    addHistory(await client.workflow.getHandle(workflowId, id).fetchHistory(), tally);
  });
  if (executions.length < options.seeds + 1) {
    note(`visibility listed ${executions.length} workflows of the run, fewer than its ${options.seeds} seeds + 1`);
  }
  return tally;
}

/** Total time instruction workflows of the run were open, from visibility (covers all of them, not the sample). */
async function instructionOpenMs(client: Client, runId: string): Promise<number> {
  let total = 0;
  for await (const execution of client.workflow.list({
    query: `EvolRunId = "${runId}" AND EvolKind = "instruction"`,
  })) {
    if (execution.closeTime) total += execution.closeTime.getTime() - execution.startTime.getTime();
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------------------
// Rate limits

interface SpendSample {
  atMs: number;
  /** The run's spend so far (`RunProgress.spent`): calls and tokens of the calls that have ended. */
  calls: number;
  tokens: number;
}

/** Reads the run's spend every SPEND_SAMPLE_MS (a progress query), for its tokens per minute over time. */
function sampleSpend(client: Client, workflowId: string, samples: SpendSample[]): () => Promise<void> {
  const handle = client.workflow.getHandle(workflowId);
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const progress = await runProgress(handle).catch(() => undefined);
      if (progress?.spent) {
        samples.push({ atMs: Date.now(), calls: progress.spent.calls, tokens: progress.spent.usage.totalTokens });
      }
      await delay(SPEND_SAMPLE_MS);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

/** The run's tokens at a moment, interpolated between the samples around it. */
function tokensAt(samples: SpendSample[], atMs: number): number {
  if (!samples.length) return NaN;
  if (atMs <= samples[0].atMs) return samples[0].tokens;
  for (let i = 1; i < samples.length; i++) {
    const [a, b] = [samples[i - 1], samples[i]];
    if (atMs <= b.atMs) return a.tokens + ((b.tokens - a.tokens) * (atMs - a.atMs)) / Math.max(1, b.atMs - a.atMs);
  }
  return samples[samples.length - 1].tokens;
}

interface LeaseFigures {
  /** rateLimiter workflows seen (one per endpoint; more means the endpoint key differs between calls). */
  limiters: number;
  leases: number;
  /** Per worker process (its lease id): leases granted, its share and its weight (calls waiting + in flight). */
  byWorker: Array<{
    worker: string;
    leases: number;
    /** Its first and last lease, in seconds after the run's first request. */
    fromS: number;
    toS: number;
    share: Spread & { min: number; max: number };
    weight: Spread;
  }>;
  /**
   * After each grant, the sum of every live member's latest share (members whose last lease is under 6 s old):
   * 1 when the shares add up; above 1 the workers together may go over the limit.
   */
  shareSum: Spread & { max: number };
}

interface RateFigures {
  limits: { rpm?: number; tpm?: number; burstSeconds?: number };
  /** The steady window: from the 10th to the 90th percentile of the answered requests' arrival. */
  window: { fromS: number; toS: number; answered: number };
  requestsPerMinute: number;
  tokensPerMinute: number;
  /** The same from the run's average tokens per call (spent tokens / spent calls) × requests/min, as a check. */
  tokensPerMinuteFromAverage: number;
  tokensPerCall: number;
  rpmShare?: number;
  tpmShare?: number;
  binding?: 'rpm' | 'tpm';
  bindingShare?: number;
  /** Requests the simulated LLM refused with a 429 (by the limit that refused them), and their share of all. */
  rateLimited: { requests: number; tokens: number; total: number; share: number };
  /** Requests the simulated LLM received, answered or not, and the calls the run's spend counted. */
  requests: number;
  spentCalls: number;
  /** Per `--rate-step-s` from the first request: answered requests and tokens per minute, and 429s. */
  stepS: number;
  timeline: Array<{ atS: number; rpm: number; tpm: number; refused: number }>;
  leases?: LeaseFigures;
}

function rateFiguresOf(m: Measured): RateFigures | undefined {
  const { options } = m;
  if (!limited(options)) return undefined;
  const answered = m.requests.filter((r) => r.status === 200).map((r) => r.receivedAt);
  const start = m.requests[0]?.receivedAt ?? 0;
  const from = Math.floor(answered.length * 0.1);
  const to = Math.max(from, Math.ceil(answered.length * 0.9) - 1);
  const [fromMs, toMs] = [answered[from] ?? NaN, answered[to] ?? NaN];
  const minutes = (toMs - fromMs) / 60_000;
  const requestsPerMinute = (to - from) / minutes;
  // A call's spend counts once it ends (L after it arrives) and is reported within a second.
  const tokensPerMinute =
    (tokensAt(m.spend, toMs + options.latencyMs) - tokensAt(m.spend, fromMs + options.latencyMs)) / minutes;
  // Per call the spend counted (its last reports may reach the run after its result: fewer calls than answered).
  const tokensPerCall = m.progress.spent
    ? m.progress.spent.usage.totalTokens / Math.max(1, m.progress.spent.calls)
    : m.progress.counts.usage.totalTokens / Math.max(1, answered.length);
  const rpmShare = options.rpm ? requestsPerMinute / options.rpm : undefined;
  const tpmShare = options.tpm ? tokensPerMinute / options.tpm : undefined;
  const binding = (tpmShare ?? -1) > (rpmShare ?? -1) ? 'tpm' : 'rpm';
  const refused = m.stats.rateLimited.requests + m.stats.rateLimited.tokens;
  const step = options.rateStepS * 1000;
  const timeline: RateFigures['timeline'] = [];
  const end = m.requests[m.requests.length - 1]?.receivedAt ?? start;
  for (let at = start; at < end; at += step) {
    const inStep = m.requests.filter((r) => r.receivedAt >= at && r.receivedAt < at + step);
    const perMinute = 60_000 / step;
    const tokens = tokensAt(m.spend, at + step + options.latencyMs) - tokensAt(m.spend, at + options.latencyMs);
    timeline.push({
      atS: round((at - start) / 1000),
      rpm: inStep.filter((r) => r.status === 200).length * perMinute,
      tpm: round(tokens * perMinute),
      refused: inStep.filter((r) => r.status === 429).length,
    });
  }
  return {
    limits: {
      ...(options.rpm ? { rpm: options.rpm } : {}),
      ...(options.tpm ? { tpm: options.tpm } : {}),
      ...(options.burstSeconds ? { burstSeconds: options.burstSeconds } : {}),
    },
    window: { fromS: round((fromMs - start) / 1000, 1), toS: round((toMs - start) / 1000, 1), answered: to - from },
    requestsPerMinute: round(requestsPerMinute),
    tokensPerMinute: round(tokensPerMinute),
    tokensPerMinuteFromAverage: round(requestsPerMinute * tokensPerCall),
    tokensPerCall: round(tokensPerCall, 1),
    ...(rpmShare !== undefined ? { rpmShare: round(rpmShare, 3) } : {}),
    ...(tpmShare !== undefined ? { tpmShare: round(tpmShare, 3) } : {}),
    binding,
    bindingShare: round((binding === 'tpm' ? tpmShare : rpmShare) ?? NaN, 3),
    rateLimited: {
      ...m.stats.rateLimited,
      total: refused,
      share: round(refused / Math.max(1, m.stats.total), 4),
    },
    requests: m.stats.total,
    spentCalls: m.progress.spent?.calls ?? NaN,
    stepS: options.rateStepS,
    timeline,
    ...(m.leases ? { leases: m.leases } : {}),
  };
}

interface LeaseGrant {
  atMs: number;
  worker: string;
  weight: number;
  share: number;
}

/** Every lease the run's rateLimiter workflows granted, from their histories (request and lease by update id). */
async function leaseFigures(client: Client, startMs: number): Promise<LeaseFigures | undefined> {
  const grants: LeaseGrant[] = [];
  let limiters = 0;
  for await (const execution of client.workflow.list({ query: `WorkflowType = "rateLimiter"` })) {
    limiters++;
    const { history } = await fetchHistory(client, execution.workflowId, execution.runId);
    const requests = new Map<string, { worker: string; weight: number }>();
    for (const event of history.events ?? []) {
      if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) {
        const accepted = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
        const payload = accepted?.input?.args?.payloads?.[0];
        const id = accepted?.meta?.updateId;
        if (!payload || !id) continue;
        const request = defaultPayloadConverter.fromPayload<{ worker: string; weight: number }>(payload);
        requests.set(id, { worker: request.worker, weight: request.weight });
      } else if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED) {
        const attributes = event.workflowExecutionUpdateCompletedEventAttributes;
        const request = requests.get(attributes?.meta?.updateId ?? '');
        const payload = attributes?.outcome?.success?.payloads?.[0];
        if (!request || !payload) continue;
        const lease = defaultPayloadConverter.fromPayload<{ share: number }>(payload);
        grants.push({ atMs: eventMs(event), ...request, share: lease.share });
      }
    }
  }
  if (!grants.length) return undefined;
  grants.sort((a, b) => a.atMs - b.atMs);
  const latest = new Map<string, LeaseGrant>();
  const sums: number[] = [];
  for (const grant of grants) {
    latest.set(grant.worker, grant);
    const live = [...latest.values()].filter((g) => grant.atMs - g.atMs < LEASE_EXPIRY_MS);
    sums.push(live.reduce((sum, g) => sum + g.share, 0));
  }
  const workers = [...new Set(grants.map((g) => g.worker))];
  return {
    limiters,
    leases: grants.length,
    byWorker: workers.map((worker) => {
      const mine = grants.filter((g) => g.worker === worker);
      const shares = mine.map((g) => round(g.share, 3));
      return {
        worker,
        leases: mine.length,
        fromS: round((mine[0].atMs - startMs) / 1000, 1),
        toS: round((mine[mine.length - 1].atMs - startMs) / 1000, 1),
        share: { ...spread(shares), min: Math.min(...shares), max: Math.max(...shares) },
        weight: spread(mine.map((g) => g.weight)),
      };
    }),
    shareSum: { ...spread(sums.map((v) => round(v, 3))), max: round(Math.max(...sums), 3) },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Output

const ms = (value: number) => (Number.isFinite(value) ? `${round(value)} ms` : 'n/a');
const mb = (value: number | undefined) => (value === undefined ? 'n/a' : `${value} MB`);
const spreadText = (s: Spread) => `p50 ${ms(s.p50)}, p99 ${ms(s.p99)} (${s.count} samples)`;
const historyText = (h: HistoryFigure) => `${h.events} events, ${h.bytes} bytes (${h.workflowId})`;

function serverSettings(f: Figures): string {
  const settings = [
    ...f.sqlitePragmas,
    ...Object.entries(f.dynamicConfig).map(([k, v]) => `${k}=${JSON.stringify(v)}`),
  ];
  return settings.join(' ');
}

function describeFloor(floor: FloorShare): string[] {
  return [
    `platform floor:             ${floor.roundsPerSecond} rounds/s, ${floor.callsPerSecond} calls/s; CPU per seed worker ${floor.cpuMsPerSeed.worker} ms, server ${floor.cpuMsPerSeed.server} ms  (bare Temporal + openai client, same N R L C, run just before: bench/floor-bench.ts)`,
    `share of the floor:         rounds/s ${floor.roundsShare}, calls/s ${floor.callsShare}`,
    `  the floor's workflow tasks:   receipt to reply ${floor.workflowTaskMs ?? 'n/a'} ms (SDK, mean; this run's below)`,
  ];
}

function describe(f: Figures): string[] {
  const d = f.diagnostics;
  return [
    `seeds ${f.seeds}, rounds ${f.rounds}, latency ${f.latencyMs} ms, concurrency ${f.concurrency}, workers ${f.workers}  (run ${f.runId})`,
    `server settings:            ${serverSettings(f)}`,
    `outcome:                    ${f.outcome.status}, ${f.outcome.completed} completed, ${f.outcome.failed} failed`,
    `wall time:                  ${(f.wallMs / 1000).toFixed(1)} s`,
    `LLM calls made:             ${f.llmCalls}  (${Object.entries(f.llmCallsByKind)
      .map(([kind, n]) => `${kind} ${n}`)
      .join(', ')})`,
    `LLM calls/s achieved:       ${f.llmCallsPerSecond}`,
    `limit C/L:                  ${f.limitCallsPerSecond} calls/s`,
    `ratio achieved/limit:       ${f.ratio}`,
    `  the same, steady state:     ${f.steadyRatio}  (middle 80 % of the calls: the start and the last window's drain left out)`,
    `evolved rounds/s:           ${f.roundsPerSecond}  (seeds x rounds / wall time)`,
    `ideal C/(k L), k=${ROUND_TRIPS_PER_ROUND}:         ${f.idealRoundsPerSecond} rounds/s  (k: LLM round trips one after another per round)`,
    `ratio rounds/ideal:         ${f.roundsRatio}`,
    ...(f.floor ? describeFloor(f.floor) : []),
    `calls per seed:             ${f.callsPerSeed}`,
    `wall ms per seed:           ${f.wallMsPerSeed}`,
    `added latency per call:     ${spreadText(f.addedLatencyMs)}  (completed - scheduled - L)`,
    `schedule-to-start per call: ${spreadText(f.scheduleToStartMs)}`,
    `  (from ${f.sampledInstructionWorkflows} sampled instruction workflows)`,
    `peak RSS worker:            ${mb(f.peakRssMb.worker)}${f.workers > 1 ? `  (sum of ${f.peakRssMb.workers.map(mb).join(', ')})` : ''}`,
    `peak RSS Temporal server:   ${mb(f.peakRssMb.server)}`,
    `CPU cores used (average):   worker ${f.cpuCores.worker}${f.workers > 1 ? ` (${f.cpuCores.workers.join(' + ')})` : ''}, server ${f.cpuCores.server}${f.cpuCores.s3 !== undefined ? `, S3 server ${f.cpuCores.s3}` : ''}, sim ${f.cpuCores.sim}, bench ${f.cpuCores.bench}; other processes ${f.cpuCores.others}; machine ${f.cpuCores.machine} of ${f.cpuCores.available}`,
    ...(f.rateLimits ? describeRates(f.rateLimits) : []),
    ...(f.storeRequests ? describeStoreRequests(f.storeRequests) : []),
    ...(f.costs ? describeCosts(f.costs, f) : []),
    `largest history (events):   ${historyText(f.largestHistoryByEvents)}`,
    `largest history (bytes):    ${historyText(f.largestHistoryByBytes)}`,
    `any history > 10,000 events: ${f.historyOver10kEvents ? 'YES' : 'no'}`,
    `dataset continued as new:   ${f.continuedAsNew} time(s); its runs: ${f.datasetExecutions.map((h) => h.events).join(', ')} events`,
    'diagnostics:',
    `  instruction workflow span:        ${spreadText(d.instructionWorkflowMs)}; ideal ${d.idealInstructionWorkflowMs} ms`,
    `  gap between its LLM calls:        ${spreadText(d.gapBetweenLlmCallsMs)}`,
    `  its workflow tasks:               schedule-to-start ${spreadText(d.instructionWorkflowTask.scheduleToStartMs)}; processing ${spreadText(d.instructionWorkflowTask.processingMs)}`,
    `  dataset workflow tasks:           schedule-to-start ${spreadText(d.datasetWorkflowTask.scheduleToStartMs)}; processing ${spreadText(d.datasetWorkflowTask.processingMs)}`,
    `  report signal to next start:      ${spreadText(d.signalToNextStartMs)}`,
    `  instruction start to 1st activity: ${spreadText(d.startToFirstActivityMs)}`,
    `  sampled instruction histories:    events ${spreadText(d.instructionHistoryEvents).replace(/ ms/g, '')}; bytes ${spreadText(d.instructionHistoryBytes).replace(/ ms/g, '')}`,
    `  CPU per seed:                     worker ${d.cpuMsPerSeed.worker} ms, server ${d.cpuMsPerSeed.server} ms`,
    `  dataset history bytes by event:   ${d.datasetBytesByEventType.map((t) => `${t.type} ${Math.round(t.share * 100)}% (${t.count} x ${t.avgBytes} B)`).join(', ')}`,
    `  window occupancy:                 ${d.windowOccupancy} (instruction workflows open on average / C)`,
    ...sdkLines(d.sdk),
  ];
}

const kindsText = (values: Record<ObjectRequestKind, number>) =>
  OBJECT_REQUEST_KINDS.map((kind) => `${kind} ${values[kind]}`).join(', ');

function describeStoreRequests(r: StoreRequestFigures): string[] {
  return [
    `bucket requests per seed:   ${kindsText(r.requestsPerSeed)}; ${r.totalPerSeed} in all, ${r.totalPerLlmCall} per LLM call  (each HTTP request the workers sent, from their ${STORE_REQUESTS_METRIC} metric, and the bench's creating the run)`,
    `bucket bytes per seed:      ${kindsText(r.bytesPerSeed)}  (bodies sent by PUT, received by GET and LIST)`,
    `  the run's requests:         ${kindsText(r.requests)}; creating it (as evol run does): ${kindsText(r.creatingTheRun)}`,
  ];
}

const thousands = (n: number) => Math.round(n).toLocaleString('en-US');

function describeCosts(c: CostFigures, f: Figures): string[] {
  const perSeed = (n: number) => round(n / f.seeds, 2);
  const actions = ACTION_KINDS.filter((kind) => c.actions[kind] > 0)
    .map((kind) => `${kind} ${perSeed(c.actions[kind])}`)
    .join(', ');
  const byType = Object.entries(c.eventsPerSeedByType)
    .map(([type, n]) => `${type} ${n}`)
    .join(', ');
  const cpu = c.cpuMsPerLlmCall;
  return [
    `costs (${f.seeds} seeds x ${f.rounds} rounds, ${f.llmCalls} LLM calls):`,
    `  Temporal histories:         ${c.workflows} workflows, ${thousands(c.events)} events, ${thousands(c.historyBytes)} bytes; per seed ${c.eventsPerSeed} events, ${thousands(c.historyBytesPerSeed)} bytes; per 1,000 seeds ${thousands(c.eventsPerSeed * 1000)} events, ${round(c.historyBytesPerSeed / 1000, 1)} MB`,
    `  events per seed, by type:   ${byType}`,
    `  Temporal Cloud actions:     ${thousands(c.actionsTotal)}; per seed ${c.actionsPerSeed}, per LLM call ${c.actionsPerLlmCall}, per 1,000 seeds ${thousands(c.actionsPerSeed * 1000)}  (from the histories, by ${ACTIONS_SOURCE}; queries and heartbeats are not in them)`,
    `  actions per seed, by kind:  ${actions}`,
    `  CPU per LLM call:           worker ${cpu.worker ?? 'n/a'} ms, Temporal server ${cpu.server ?? 'n/a'} ms${'s3' in cpu ? `, S3 server ${cpu.s3 ?? 'n/a'} ms` : ''}`,
  ];
}

/** The bucket's run against the local store's: the same N, R, L and C, one after the other. */
interface StoreComparison {
  /** Evolved rounds/s on the bucket over the local store's. */
  roundsShare: number;
  callsShare: number;
  /** What issue 21 asks of the share, at C = 32 and L = 500 ms. */
  target: number;
}

function compareStores(local: Figures, s3: Figures): StoreComparison {
  return {
    roundsShare: round(s3.roundsPerSecond / local.roundsPerSecond, 3),
    callsShare: round(s3.llmCallsPerSecond / local.llmCallsPerSecond, 3),
    target: S3_SHARE_TARGET,
  };
}

function describeComparison(c: StoreComparison, local: Figures, s3: Figures): string[] {
  const cpu = (f: Figures) => {
    const d = f.diagnostics.cpuMsPerSeed;
    return `worker ${d.worker} + server ${d.server}${f.cpuCores.s3 !== undefined ? ` + S3 server ${round((f.cpuCores.s3 * f.wallMs) / f.seeds, 1)}` : ''} ms`;
  };
  const lines = [
    '== the bucket against the local store (same seeds, rounds, latency and concurrency, one after the other)',
    `evolved rounds/s:           local ${local.roundsPerSecond}, S3 ${s3.roundsPerSecond}; S3's share of local: ${c.roundsShare}  (target >= ${c.target} at C = 32, L = 500 ms)`,
    `LLM calls/s:                local ${local.llmCallsPerSecond}, S3 ${s3.llmCallsPerSecond}; share ${c.callsShare}`,
    `CPU per seed:               local ${cpu(local)}; S3 ${cpu(s3)}`,
    `other processes (cores):    local ${local.cpuCores.others}, S3 ${s3.cpuCores.others}  (the share is only meaningful when both are low)`,
  ];
  if (s3.storeRequests) {
    lines.push(
      `bucket requests per seed:   ${kindsText(s3.storeRequests.requestsPerSeed)}`,
      `bucket bytes per seed:      ${kindsText(s3.storeRequests.bytesPerSeed)}`,
    );
  }
  return lines;
}

const pct = (share: number | undefined) => (share === undefined ? 'n/a' : `${round(share * 100, 1)} %`);

function describeRates(r: RateFigures): string[] {
  const limits = [
    r.limits.rpm ? `rpm ${r.limits.rpm}` : '',
    r.limits.tpm ? `tpm ${r.limits.tpm}` : '',
    r.limits.burstSeconds ? `burst ${r.limits.burstSeconds} s` : "the simulated LLM's default burst",
  ].filter(Boolean);
  const lines = [
    `rate limits:                ${limits.join(', ')}`,
    `  steady window:              ${r.window.fromS} s to ${r.window.toS} s after the first request (10th to 90th percentile of the answered requests' arrival, ${r.window.answered} requests)`,
    `  requests/min held:          ${r.requestsPerMinute}${r.limits.rpm ? `  (${pct(r.rpmShare)} of rpm ${r.limits.rpm})` : ''}`,
    `  tokens/min held:            ${r.tokensPerMinute}${r.limits.tpm ? `  (${pct(r.tpmShare)} of tpm ${r.limits.tpm})` : ''}; from ${r.tokensPerCall} tokens per call x requests/min: ${r.tokensPerMinuteFromAverage}`,
    `  binding limit:              ${r.binding} at ${pct(r.bindingShare)}`,
    `  answered 429:               ${r.rateLimited.total} of ${r.requests} requests (${pct(r.rateLimited.share)}; ${r.rateLimited.requests} by rpm, ${r.rateLimited.tokens} by tpm); spend counted ${r.spentCalls} calls`,
    `  per ${r.stepS} s (rpm/tpm/429s):      ${r.timeline.map((t) => `${t.atS}s ${t.rpm}/${t.tpm}/${t.refused}`).join(', ')}`,
  ];
  const l = r.leases;
  if (l) {
    lines.push(
      `  leases:                     ${l.leases} from ${l.limiters} limiter workflow(s); live shares summed after each grant p50 ${l.shareSum.p50}, p99 ${l.shareSum.p99}, max ${l.shareSum.max}`,
      ...l.byWorker.map(
        (w) =>
          `    ${w.worker}: ${w.leases} leases from ${w.fromS} s to ${w.toS} s, share p50 ${w.share.p50} (${w.share.min} - ${w.share.max}), weight p50 ${w.weight.p50}, p99 ${w.weight.p99}`,
      ),
    );
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------------------------

async function measure(env: Environment, options: BenchOptions): Promise<Measured> {
  const benchRequests = requestTally();
  const meta = await createBenchRun(env, options, benchRequests.add);
  const labels = workerLabels(options);
  const processes = new ProcessSampler({
    ...Object.fromEntries(env.workers.map((worker, i) => [labels[i], worker.pid])),
    server: env.server.pid,
    sim: env.sim.pid,
    bench: process.pid,
    ...(env.store.s3 ? { s3: env.store.s3.pid } : {}),
  });
  const limits = [options.rpm ? `rpm ${options.rpm}` : '', options.tpm ? `tpm ${options.tpm}` : ''].filter(Boolean);
  note(
    `run ${meta.runId} (store: ${env.store.location}): ${options.seeds} seeds, ${options.rounds} rounds, L ${options.latencyMs} ms, C ${options.concurrency}, ${options.workers} worker(s)${limits.length ? `, ${limits.join(', ')}` : ''}`,
  );
  const startedAt = Date.now();
  const stopProgress = reportProgress(env.simPort, startedAt);
  const spend: SpendSample[] = [];
  let stopSpend: (() => Promise<void>) | undefined;
  let progress: RunProgress;
  let sdk: Histograms;
  let storeCounters: Map<string, Counter> | undefined;
  try {
    const handle = await startDatasetRun(env.client, TASK_QUEUE, meta);
    if (limited(options)) stopSpend = sampleSpend(env.client, workflowIdsOf(meta).dataset, spend);
    progress = await waitForResult(handle, env.workers);
    sdk = await scrapeWorkers(env.metricsPorts);
    if (env.store.kind === 's3') {
      storeCounters = await scrapeCounters(env.metricsPorts, [STORE_REQUESTS_METRIC, STORE_BYTES_METRIC]);
    }
  } finally {
    stopProgress();
    await stopSpend?.();
    await processes.stop();
  }
  const wallMs = Date.now() - startedAt;
  note(`run finished in ${(wallMs / 1000).toFixed(1)} s; reading histories`);
  const requests = await simRequests(env.simPort);
  const [stats, dataset, instructions, openMsTotal, leases] = await Promise.all([
    simStats(env.simPort),
    datasetHistories(env.client, meta),
    instructionHistories(env.client, meta, options.seeds),
    instructionOpenMs(env.client, meta.runId),
    limited(options) ? leaseFigures(env.client, requests[0]?.receivedAt ?? startedAt) : Promise.resolve(undefined),
  ]);
  if (options.costs) note('reading every history of the run for its costs');
  const histories = options.costs ? await runHistories(env.client, meta.runId, options) : undefined;
  return {
    store: env.store.kind,
    ...(storeCounters
      ? {
          storeRequests: {
            workers: {
              requests: storeCounters.get(STORE_REQUESTS_METRIC) ?? new Map(),
              bytes: storeCounters.get(STORE_BYTES_METRIC) ?? new Map(),
            },
            bench: benchRequests,
          },
        }
      : {}),
    ...(histories ? { histories } : {}),
    options,
    runId: meta.runId,
    progress,
    wallMs,
    stats,
    requestTimes: requests.map((r) => r.receivedAt),
    requests,
    spend,
    leases,
    processes,
    dataset,
    instructions,
    openMsTotal,
    sdk,
  };
}

/** The floor bench with this run's N, R, L and C, its calls through the openai client; its own processes, ended. */
async function runFloor(options: BenchOptions, cleanup: Cleanup): Promise<FloorFigures> {
  note('first the floor: the same run on bare Temporal (bench/floor-bench.ts --http)');
  const args = [FLOOR, '--http', '--json', '--seeds', String(options.seeds), '--rounds', String(options.rounds)];
  args.push('--latency-ms', String(options.latencyMs), '--concurrency', String(options.concurrency));
  const floor = spawnNode('floor bench', args, process.env, cleanup);
  const code = await floor.exited;
  const json = floor
    .tail()
    .split('\n')
    .reverse()
    .find((line) => line.startsWith('{'));
  if (code !== 0 || !json) throw new Error(`the floor bench failed (exit ${code}):\n${floor.tail()}`);
  const figures = JSON.parse(json) as FloorFigures;
  note(`the floor: ${figures.roundsPerS} rounds/s, ${figures.callsPerS} calls/s`);
  return figures;
}

function shareOf(floor: FloorFigures, f: Figures): FloorShare {
  return {
    roundsPerSecond: floor.roundsPerS,
    callsPerSecond: floor.callsPerS,
    cpuMsPerSeed: { worker: floor.cpuMsPerSeed.worker, server: floor.cpuMsPerSeed.server },
    workflowTaskMs: floor.sdk.workflowTaskMs,
    roundsShare: round(f.roundsPerSecond / floor.roundsPerS, 3),
    callsShare: round(f.llmCallsPerSecond / floor.callsPerS, 3),
  };
}

/**
 * One run with processes of its own (a fresh Temporal server, simulated LLM, workers and, for a bucket, SeaweedFS),
 * all stopped before this returns, so a run that follows does not share the machine with them.
 */
async function runOnce(tempDir: string, options: BenchOptions, store: StoreKind, cleanup: Cleanup): Promise<Figures> {
  const own = new Cleanup();
  cleanup.add(() => own.run());
  try {
    const dir = path.join(tempDir, store);
    await fs.mkdir(dir, { recursive: true });
    const env = await startEnvironment(dir, options, store, own);
    return figuresOf(await measure(env, options));
  } finally {
    await own.run();
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv);
  const cleanup = new Cleanup();
  onInterrupt(
    cleanup,
    `the worker, the simulated LLM and the Temporal server${options.store === 's3' ? ' (and the S3 server)' : ''}`,
  );
  try {
    const tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'evolforge-bench-'));
    cleanup.add(async () => {
      if (options.keep) note(`kept ${tempDir}`);
      else await fs.rm(tempDir, { recursive: true, force: true });
    });
    const floor = options.floor ? await runFloor(options, cleanup) : undefined;
    const withFloor = (figures: Figures): Figures => (floor ? { ...figures, floor: shareOf(floor, figures) } : figures);
    if (options.store === 's3') {
      note('first on a local run store, then the same run on an S3 bucket');
      const local = withFloor(await runOnce(tempDir, options, 'local', cleanup));
      const s3 = withFloor(await runOnce(tempDir, options, 's3', cleanup));
      const comparison = compareStores(local, s3);
      process.stdout.write(
        [
          '== on the local run store',
          ...describe(local),
          '',
          '== on an S3 bucket (SeaweedFS on this machine)',
          ...describe(s3),
          '',
          ...describeComparison(comparison, local, s3),
        ].join('\n') + '\n',
      );
      if (options.json) process.stdout.write(`${JSON.stringify({ local, s3, comparison })}\n`);
    } else {
      const figures = withFloor(await runOnce(tempDir, options, 'local', cleanup));
      process.stdout.write(`${describe(figures).join('\n')}\n`);
      if (options.json) process.stdout.write(`${JSON.stringify(figures)}\n`);
    }
  } finally {
    await cleanup.run();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

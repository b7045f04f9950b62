/**
 * EvolForge as a library: create a run in the store, start its workflow, follow it, control it, export it. The CLI,
 * the benchmarks, the scripts and the tests all go through here. Nothing here prints, reads the environment or
 * traps signals: the commands in client/run.ts, client/auto.ts and the rest do that around these calls.
 */
import {
  isGrpcServiceError,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  type Client,
  type QueryDefinition,
  type WorkflowClient,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { z } from 'zod';
import { AutoEvolSettingsSchema, type AutoEvolInput, type AutoEvolLlm } from '../core/auto-evol';
import type { Budget, DatasetEvolutionInput, DatasetRunConfig, RunProgress } from '../core/dataset';
import type { DatasetRunConfigInput } from '../core/settings-schemas';
import { GENERAL_OPERATIONS } from '../core/operations';
import { DEFAULT_QUALITY } from '../core/quality';
import { runWorkflowIds, type RunWorkflowIds } from '../core/ids';
import { EVOLFORGE_RELEASE, requireVersionedRun } from '../core/release';
import { pauseSignal, progressQuery, resumeSignal } from '../core/messages';
import type { BatcherStatus } from '../core/batch';
import { batchesQuery } from '../core/batch-messages';
import { hash32 } from '../core/prng';
import {
  autoSettingsOf,
  datasetSettingsOf,
  RunSettingsSchema,
  type RunEstimateSummary,
  type RunMeta,
  type SeedRecord,
} from '../core/run';
import type { SingleInstructionInput } from '../core/instruction-input';
import type { Lineage } from '../core/lineage';
import type { ScoreRunInput } from '../core/scoring';
import { EvolKind, EvolRunId, EvolStatus, instructionStartAttributes } from '../core/search-attributes';
import { datasetDetails, datasetSummary, instructionDetails, instructionSummary } from '../core/summaries';
import { describeIssues, UserError } from '../core/validation';
import type { RunStore } from '../store/types';
import type { autoEvol, datasetEvolution, scoreRun } from '../workflows';
import { plural } from '../core/plural';

export {
  exportDataset,
  exportRun,
  type DatasetExportOptions,
  type ExportResult,
  type ExportRunOptions,
} from './export';
export type { Lineage, RunMeta, RunProgress };

// ---------------------------------------------------------------------------------------------
// Ids

/** A stable id for an instruction given as text alone. */
export function instructionIdFor(text: string): string {
  return `i${hash32(text.trim()).toString(16).padStart(8, '0')}`;
}

/** A readable, unique run id: `<prefix>-YYYYMMDD-HHMMSS-xxxx`. */
export function newRunId(prefix = 'run', now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${prefix}-${stamp}-${Math.random().toString(36).slice(2, 6)}`;
}

/** The ids of a run's workflows. */
export function workflowIdsOf(meta: RunMeta): RunWorkflowIds {
  return runWorkflowIds(meta.runId);
}

// ---------------------------------------------------------------------------------------------
// Creating runs in the store

/** What a new run's meta records of its input file. */
export interface RunSource {
  runId: string;
  inputFile: string;
  seeds: readonly SeedRecord[];
  invalidRows?: number;
  duplicateRows?: number;
}

/** A new run's meta, its settings checked by the schema the store reads them with. */
function newMeta(source: RunSource, seedCount: number, settings: unknown): RunMeta {
  const parsed = RunSettingsSchema.safeParse(settings);
  if (!parsed.success) throw new UserError(`invalid run settings: ${describeIssues(parsed.error.issues)}`);
  const config = parsed.data;
  return {
    runId: source.runId,
    createdAt: new Date().toISOString(),
    inputFile: source.inputFile,
    seedCount,
    invalidRows: source.invalidRows ?? 0,
    duplicateRows: source.duplicateRows ?? 0,
    config,
    release: EVOLFORGE_RELEASE,
  };
}

/** Writes a dataset run (its seeds and settings) to the store; refuses an existing run id. */
export async function createDatasetRun(
  store: RunStore,
  source: RunSource & { config: DatasetRunConfigInput; estimate?: RunEstimateSummary },
): Promise<RunMeta> {
  const meta = {
    ...newMeta(source, source.seeds.length, { kind: 'dataset', ...source.config }),
    ...(source.estimate ? { estimate: source.estimate } : {}),
  };
  await store.createRun(meta, source.seeds);
  return meta;
}

/**
 * Writes a learning run to the store: the input's instructions first, then the dev file's (ids
 * prefixed `dev:` so they never clash). Settings are validated and completed with the paper's defaults.
 */
export async function createAutoRun(
  store: RunStore,
  source: RunSource & {
    devSeeds?: readonly SeedRecord[];
    devFile?: string;
    settings: z.input<typeof AutoEvolSettingsSchema>;
    llm: AutoEvolLlm;
  },
): Promise<RunMeta> {
  const parsed = AutoEvolSettingsSchema.safeParse(source.settings);
  if (!parsed.success) throw new UserError(`invalid learning settings: ${describeIssues(parsed.error.issues)}`);
  const settings = parsed.data;
  const devSeeds = (source.devSeeds ?? []).map((s) => ({ ...s, id: `dev:${s.id}` }));
  if (devSeeds.length === 0 && source.seeds.length <= settings.devSize) {
    throw new UserError(
      `a dev set of ${settings.devSize} drawn from ${plural(source.seeds.length, 'instruction')} leaves none for the mini-batches: use a smaller --dev-size or --dev FILE`,
    );
  }
  if (source.seeds.length === 0) throw new UserError('the input has no instructions to learn from');
  const meta = newMeta(source, source.seeds.length + devSeeds.length, {
    kind: 'auto-evol',
    inputCount: source.seeds.length,
    devFileCount: devSeeds.length,
    ...(source.devFile ? { devFile: source.devFile } : {}),
    ...settings,
    llm: source.llm,
  });
  await store.createRun(meta, [...source.seeds, ...devSeeds]);
  return meta;
}

// ---------------------------------------------------------------------------------------------
// Starting workflows

async function describeIfAny(handle: WorkflowHandle) {
  return handle.describe().catch((err) => {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  });
}

/** The dataset workflow's input for a run: its settings, and how to retry when asked. */
export function datasetInputOf(meta: RunMeta, retry?: DatasetRunConfig['retry']): DatasetEvolutionInput {
  const { kind: _kind, ...settings } = datasetSettingsOf(meta);
  return { runId: meta.runId, totalSeeds: meta.seedCount, config: { ...settings, ...(retry ? { retry } : {}) } };
}

/**
 * Starts the run's dataset workflow unless one is already running for it (or, without `retry`, has completed).
 * A failed, cancelled or terminated run starts again: instructions already recorded are skipped.
 */
export async function startDatasetRun(
  client: Client,
  taskQueue: string,
  meta: RunMeta,
  retry?: DatasetRunConfig['retry'],
): Promise<WorkflowHandle<typeof datasetEvolution>> {
  requireVersionedRun(meta);
  const workflowId = workflowIdsOf(meta).dataset;
  const existing = client.workflow.getHandle<typeof datasetEvolution>(workflowId);
  const description = await describeIfAny(existing);
  if (description?.status.name === 'RUNNING') return existing;
  if (description?.status.name === 'COMPLETED' && !retry) return existing;
  const input = datasetInputOf(meta, retry);
  const { config } = input;
  return client.workflow.start<typeof datasetEvolution>('datasetEvolution', {
    taskQueue,
    workflowId,
    args: [input],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    memo: { config: { ...config, operations: config.operations.map((op) => op.id) }, inputFile: meta.inputFile },
    staticSummary: datasetSummary(meta.runId, meta.seedCount, config.rounds, config.concurrency),
    staticDetails: datasetDetails(config),
    typedSearchAttributes: [
      { key: EvolRunId, value: meta.runId },
      { key: EvolKind, value: 'dataset' },
      { key: EvolStatus, value: 'running' },
    ],
  });
}

/** The learning workflow's input for a run. */
export function autoInputOf(meta: RunMeta): AutoEvolInput {
  const { kind: _kind, inputCount, devFileCount, devFile: _devFile, ...config } = autoSettingsOf(meta);
  return { runId: meta.runId, config, inputCount, devFileCount };
}

/** Starts the run's learning workflow unless it is running or has finished. */
export async function startAutoRun(
  client: Client,
  taskQueue: string,
  meta: RunMeta,
): Promise<WorkflowHandle<typeof autoEvol>> {
  requireVersionedRun(meta);
  const workflowId = workflowIdsOf(meta).auto;
  const existing = client.workflow.getHandle<typeof autoEvol>(workflowId);
  const description = await describeIfAny(existing);
  if (description?.status.name === 'RUNNING' || description?.status.name === 'COMPLETED') return existing;
  const input = autoInputOf(meta);
  return client.workflow.start<typeof autoEvol>('autoEvol', {
    taskQueue,
    workflowId,
    args: [input],
    // A learning that failed or was cancelled starts over; its stored method versions stay apart (learningId).
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    staticSummary: `Auto Evol-Instruct ${meta.runId}: up to ${plural(input.config.steps, 'step')}, m=${input.config.candidates}`,
    typedSearchAttributes: [
      { key: EvolRunId, value: meta.runId },
      { key: EvolKind, value: 'auto' },
      { key: EvolStatus, value: 'running' },
    ],
  });
}

/**
 * Starts `evol score`'s workflow for a dataset run, unless it is running (then `alreadyRunning`: it goes on with the
 * input it was started with). Ratings already in the store are never asked again.
 */
export async function startScoreRun(
  client: Client,
  taskQueue: string,
  meta: RunMeta,
  input: Omit<ScoreRunInput, 'runId' | 'state'>,
): Promise<{ handle: WorkflowHandle<typeof scoreRun>; alreadyRunning: boolean }> {
  datasetSettingsOf(meta);
  requireVersionedRun(meta);
  const workflowId = workflowIdsOf(meta).score;
  const existing = client.workflow.getHandle<typeof scoreRun>(workflowId);
  if ((await describeIfAny(existing))?.status.name === 'RUNNING') return { handle: existing, alreadyRunning: true };
  const handle = await client.workflow.start<typeof scoreRun>('scoreRun', {
    taskQueue,
    workflowId,
    args: [{ runId: meta.runId, ...input }],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    staticSummary: `scores of run ${meta.runId}${input.perRound ? ` · ${input.perRound} per round` : ''}`,
    typedSearchAttributes: [
      { key: EvolRunId, value: meta.runId },
      { key: EvolKind, value: 'score' },
      { key: EvolStatus, value: 'running' },
    ],
  });
  return { handle, alreadyRunning: false };
}

/** `evol evolve`: one instruction on its own, whose lineage is the workflow's result. */
export type SingleInstructionEvolution = (input: SingleInstructionInput) => Promise<Lineage>;

/** What `evol evolve` gives: the method defaults to the general set, prices to none, quality to the defaults. */
export type SingleInstructionRequest = Omit<SingleInstructionInput, 'kind' | 'operations' | 'prices' | 'quality'> &
  Partial<Pick<SingleInstructionInput, 'operations' | 'prices' | 'quality'>>;

export async function startSingleInstruction(
  client: Client,
  taskQueue: string,
  request: SingleInstructionRequest,
): Promise<WorkflowHandleWithFirstExecutionRunId<SingleInstructionEvolution>> {
  const input: SingleInstructionInput = {
    kind: 'single',
    operations: [...GENERAL_OPERATIONS],
    prices: {},
    quality: DEFAULT_QUALITY,
    ...request,
  };
  return client.workflow.start<SingleInstructionEvolution>('singleInstructionEvolution', {
    taskQueue,
    workflowId: runWorkflowIds(input.runId).instruction(input.instructionId),
    args: [input],
    staticSummary: instructionSummary(input.runId, input.instructionId, input.rounds),
    staticDetails: instructionDetails(input),
    typedSearchAttributes: instructionStartAttributes(input.runId, input.instructionId),
  });
}

// ---------------------------------------------------------------------------------------------
// Finding, following and controlling a run

/**
 * A run's dataset, learning or scoring workflow, if this Temporal server has one. A run created before worker
 * versioning is refused (core/release.ts): its workflows run only on that release's workers.
 */
export async function findRunWorkflow(
  client: Client,
  runId: string,
  kind: 'dataset' | 'auto' | 'score',
  meta?: RunMeta,
): Promise<WorkflowHandle | undefined> {
  if (meta) requireVersionedRun(meta);
  const handle = client.workflow.getHandle(runWorkflowIds(runId)[kind]);
  return (await describeIfAny(handle)) ? handle : undefined;
}

/** The run's dataset or learning workflow; a clear error when this Temporal server has none. */
export async function requireRunWorkflow(
  client: Client,
  runId: string,
  kind: 'dataset' | 'auto',
  meta?: RunMeta,
): Promise<WorkflowHandle> {
  const handle = await findRunWorkflow(client, runId, kind, meta);
  if (handle) return handle;
  const what = kind === 'dataset' ? 'dataset run' : 'learning run';
  throw new UserError(`no ${what} "${runId}" on this Temporal server: \`evol runs\` lists the runs`);
}

/** How long a query waits for a worker of its workflow's task queue, and what the message says when none answers. */
export interface WorkerWait {
  /** Asked again for this long while no worker answers (a worker restarting, or none started); 0: not at all. */
  waitMs: number;
  /** The Temporal server, as the message names it (e.g. `10.0.0.5:7233 (namespace default)`). */
  where?: string;
  /** Told once when no worker answers and the wait begins. */
  onWaiting?: (taskQueue: string, waitMs: number) => void;
  /** The command that asks again once a worker runs (default: "run this command again"). */
  again?: string;
}

/** No worker of a workflow's task queue answered it within the wait. */
export class NoWorkerError extends Error {
  constructor(
    readonly taskQueue: string,
    message: string,
  ) {
    super(message);
    this.name = 'NoWorkerError';
  }
}

/** gRPC status codes (@grpc/grpc-js's `status`, not a dependency of ours). */
const GRPC_CANCELLED = 1;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_FAILED_PRECONDITION = 9;

/**
 * How long one ask is given while a wait is set: at least long enough for a worker that has just come back to answer,
 * at most short enough to say soon that none answers (the server itself gives up on a query after about 30 s).
 */
const MIN_QUERY_MS = 1000;
const MAX_QUERY_MS = 10_000;
/** Between two asks while waiting for a worker. */
const WORKER_RETRY_MS = 1000;

/**
 * What a query fails with when no worker of the workflow's task queue answers: FAILED_PRECONDITION once the server
 * has seen its workers go ("no poller seen for task queue recently"), DEADLINE_EXCEEDED when none ever polled, and
 * DEADLINE_EXCEEDED or CANCELLED when the wait's own deadline for the ask has passed.
 */
function noWorkerAnswered(err: unknown, deadlinePassed: boolean): boolean {
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    if (isGrpcServiceError(e)) {
      return (
        e.code === GRPC_FAILED_PRECONDITION ||
        e.code === GRPC_DEADLINE_EXCEEDED ||
        (deadlinePassed && e.code === GRPC_CANCELLED)
      );
    }
  }
  return false;
}

/** The workers the server has seen polling a workflow task queue lately (it keeps them for a few minutes). */
async function pollersOf(client: WorkflowClient, taskQueue: string): Promise<string[]> {
  const { pollers } = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (pollers ?? []).map((p) => {
    const seconds = Number(p.lastAccessTime?.seconds ?? 0);
    const ago = seconds ? `, ${Math.max(0, Math.round(Date.now() / 1000 - seconds))} s ago` : '';
    const build = p.deploymentOptions?.buildId ? `build ${p.deploymentOptions.buildId}` : 'no build';
    return `${p.identity ?? 'unnamed'} (${build}${ago})`;
  });
}

/** The words for a task queue whose workers did not answer: which queue, where, and what to start. */
async function noWorkerError(
  handle: WorkflowHandle,
  description: WorkflowExecutionDescription,
  wait: WorkerWait,
  cause: unknown,
): Promise<NoWorkerError> {
  const { taskQueue } = description;
  const build = description.raw.workflowExecutionInfo?.versioningInfo?.deploymentVersion?.buildId;
  const where = wait.where ? ` on ${wait.where}` : '';
  const then = wait.again ? `\`${wait.again}\`` : 'run this command again';
  const start = `start one with \`evol worker --task-queue ${taskQueue}\` (same TEMPORAL_* settings), then ${then}`;
  const said = cause instanceof Error ? ` (the server said: ${rootMessageOf(cause)})` : '';
  const seen = await pollersOf(handle.client, taskQueue).catch(() => []);
  if (!seen.length) {
    return new NoWorkerError(taskQueue, `no worker polls task queue "${taskQueue}"${where}: ${start}${said}`);
  }
  const waited = wait.waitMs ? ` in ${Math.round(wait.waitMs / 1000)} s` : '';
  const onBuild = build ? ` (the run's workflow is on build ${build})` : '';
  return new NoWorkerError(
    taskQueue,
    `no worker of task queue "${taskQueue}"${where} answered${waited}${onBuild}; last seen polling: ${seen.join(', ')}. ` +
      `Either ${start}, or make the build of a running worker current (\`evol workers\`, \`evol workers current BUILD\`)${said}`,
  );
}

function rootMessageOf(err: Error): string {
  let e: Error = err;
  while (e.cause instanceof Error) e = e.cause;
  return e.message;
}

/**
 * Asks a run's workflow a query. A query needs a worker of the workflow's task queue: while none answers (one is
 * restarting, or none was started), it is asked again for `wait.waitMs`, then fails with a {@link NoWorkerError}
 * that says which queue lacks a worker and how to start one. A workflow that is no longer running is answered by
 * `whenClosed` (its result, or an error saying how to go on).
 */
export async function queryRun<T>(
  handle: WorkflowHandle,
  query: QueryDefinition<T>,
  options: { wait?: WorkerWait; whenClosed: (status: string) => Promise<T> },
): Promise<T> {
  const wait = options.wait ?? { waitMs: 0 };
  /** When the first of the asks no worker answered began. */
  let waitingSince: number | undefined;
  for (;;) {
    const askedAt = Date.now();
    const left = (waitingSince ?? askedAt) + wait.waitMs - askedAt;
    const deadline = askedAt + Math.min(Math.max(left, MIN_QUERY_MS), MAX_QUERY_MS);
    try {
      const ask = () => handle.query(query);
      return await (wait.waitMs ? handle.client.connection.withDeadline(deadline, ask) : ask());
    } catch (err) {
      const description = await handle.describe();
      if (description.status.name !== 'RUNNING') return options.whenClosed(description.status.name);
      if (!noWorkerAnswered(err, wait.waitMs > 0 && Date.now() >= deadline)) throw err;
      const { taskQueue } = description;
      if (waitingSince === undefined) {
        waitingSince = askedAt;
        if (wait.waitMs) wait.onWaiting?.(taskQueue, wait.waitMs);
      }
      if (Date.now() - waitingSince >= wait.waitMs) throw await noWorkerError(handle, description, wait, err);
      await new Promise((resolve) => setTimeout(resolve, WORKER_RETRY_MS));
    }
  }
}

/** The run's counts now: asked of the running workflow (a worker must be polling), or its result once completed. */
export async function runProgress(handle: WorkflowHandle, wait?: WorkerWait): Promise<RunProgress> {
  return queryRun(handle, progressQuery, {
    wait,
    whenClosed: async () => (await handle.result()) as RunProgress,
  });
}

export interface WatchOptions {
  /** Resolves to stop watching early (Ctrl-C). */
  stop?: Promise<void>;
  pollMs?: number;
  /** Called with each progress read, the last one included. */
  onProgress?: (progress: RunProgress) => void;
  /**
   * Also return when the run is paused (by itself: a budget reached, an LLM setting, the run store; or by request),
   * since it will not move until someone resumes it. Default: wait through pauses until it completes.
   */
  untilPaused?: boolean;
  /** How long to wait for a worker when none answers (default: not at all). */
  wait?: WorkerWait;
}

/**
 * Polls the run's progress until it completes or, with `untilPaused`, pauses (returns it), or watching is stopped
 * (returns undefined).
 */
export async function watchRun(handle: WorkflowHandle, options: WatchOptions = {}): Promise<RunProgress | undefined> {
  const pollMs = options.pollMs ?? 1000;
  let stopped = false;
  void options.stop?.then(() => (stopped = true));
  for (;;) {
    const progress = await runProgress(handle, options.wait);
    options.onProgress?.(progress);
    if (progress.status === 'completed' || (options.untilPaused && progress.status === 'paused')) return progress;
    await Promise.race([
      new Promise((resolve) => setTimeout(resolve, pollMs)),
      ...(options.stop ? [options.stop] : []),
    ]);
    if (stopped) return undefined;
  }
}

/** Stop starting work (a dataset or learning run); running steps finish and wait. */
export async function pauseRun(handle: WorkflowHandle, reason = 'paused by request (evol pause)'): Promise<void> {
  await handle.signal(pauseSignal, { reason });
}

/** Go on, with a new budget when given. */
export async function resumeRun(handle: WorkflowHandle, budget?: Budget): Promise<void> {
  await handle.signal(resumeSignal, { budget });
}

/** Cancels the run and its running instructions; finished records stay in the store. */
export async function cancelRun(handle: WorkflowHandle): Promise<void> {
  await handle.cancel();
}

/**
 * A Batch API run's open batches and queued calls, asked of its batcher workflow while it runs; undefined when it is
 * not running (no call queued since it last went idle, or the run does not use the Batch API).
 */
export async function openBatches(client: Client, meta: RunMeta): Promise<BatcherStatus | undefined> {
  const handle = client.workflow.getHandle(workflowIdsOf(meta).batch);
  const description = await describeIfAny(handle);
  if (description?.status.name !== 'RUNNING') return undefined;
  return handle.query(batchesQuery);
}

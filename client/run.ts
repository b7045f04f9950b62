/** `evol run` and the commands that control a dataset run: status, pause, resume, cancel, export, runs. */
import fs from 'node:fs';
import path from 'node:path';
import type { QueryDefinition, WorkflowHandle } from '@temporalio/client';
import { resolveLlmConfig, type LlmMode } from '../core/config';
import { usesBatch, type BatcherStatus } from '../core/batch';
import type { Budget, RunProgress } from '../core/dataset';
import type { ExportFormat, ExportOptions } from '../core/export';
import { resolveDatasetRunSettings } from '../core/run-settings';
import { DEFAULT_PRICES } from '../core/pricing';
import {
  DatasetRunConfigSchema,
  PriceTableSchema,
  type DatasetRunConfig,
  type DatasetRunConfigInput,
  type PriceTable,
} from '../core/settings-schemas';
import { estimateRun, estimateSummaryOf } from '../core/estimate';
import { progressQuery } from '../core/messages';
import { plural } from '../core/plural';
import { datasetSettingsOf, type RunEstimateSummary, type RunMeta } from '../core/run';
import { describeIssues, UserError } from '../core/validation';
import { checkRunId } from '../store/object-run-store';
import { openRunStore } from '../store/location';
import type { RunStore } from '../store/types';
import {
  cancelRun,
  createDatasetRun,
  findRunWorkflow,
  newRunId,
  openBatches,
  pauseRun,
  queryRun,
  requireRunWorkflow,
  resumeRun,
  startDatasetRun,
  workflowIdsOf,
} from './api';
import { loadConfigFile } from './config-file';
import { openSession, uiLink, untilCtrlC, type Session } from './embedded';
import { exportDataset, exportRun } from './export';
import { PARQUET_CONTENT_TYPE } from './parquet-file';
import { figuresOf, followRun, formatDuration } from './follow';
import { EXIT } from './errors';
import { printInputReport, stderr } from './format';
import { readSeedFile, type InputReport } from './input-file';
import { estimateBesideSpend, estimateLine } from './estimate-table';
import { isS3Url, writeOutput } from './locations';
import { loadBenchmarks } from './benchmarks';
import { resolveMethod } from './method-file';
import { buildsOf, formatRunBuilds, type BuildSummary } from './workers';
import { deploymentNameOf } from '../worker/versioning';

export interface RunOptions {
  input?: string;
  runId?: string;
  resume?: boolean;
  rounds: number;
  seed: number;
  concurrency: number;
  method: string;
  maxTokens?: number;
  maxCost?: number;
  rpm?: number;
  tpm?: number;
  prices?: string;
  strict?: boolean;
  detach?: boolean;
  config?: string;
  /** Which fields of the input's rows hold the instruction, its input and its id (default: recognised by name). */
  instructionField?: string;
  inputField?: string;
  idField?: string;
  /** Unusable answers asked again at most this many times (default: the config file's, else 2). */
  unusableRetries?: number;
  /** Print the worker log to the terminal as well. */
  verbose?: boolean;
  /** Answer seeds without an answer of their own, for the final mix (default true; `--no-seed-answers`). */
  seedAnswers?: boolean;
  /** Every role's calls through the provider's Batch API (`--batch`); also `llm.<role>.batch` in the config file. */
  batch?: boolean;
  llm: LlmMode;
  taskQueue: string;
}

/** The limits given on the command line (`--max-tokens`, `--max-cost`), and only those. */
function budgetOf(options: { maxTokens?: number; maxCost?: number }): Budget {
  return {
    ...(options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {}),
    ...(options.maxCost !== undefined ? { maxCost: options.maxCost } : {}),
  };
}

/** The fields named on the command line, for the input reader. */
export function fieldChoice(options: { instructionField?: string; inputField?: string; idField?: string }) {
  return {
    ...(options.instructionField ? { instruction: options.instructionField } : {}),
    ...(options.inputField ? { input: options.inputField } : {}),
    ...(options.idField ? { id: options.idField } : {}),
  };
}

function openStore(): RunStore {
  return openRunStore();
}

/** The price table: defaults, overridden model by model by a JSON file. */
export function loadPrices(file: string | undefined): PriceTable {
  if (!file) return DEFAULT_PRICES;
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new UserError(`cannot read the price table ${file}: ${(err as Error).message}`);
  }
  const parsed = PriceTableSchema.safeParse(data);
  if (!parsed.success) {
    throw new UserError(
      `${file}: ${describeIssues(parsed.error.issues)}. Expected {"model": {"inputPerMillion": 0.15, "outputPerMillion": 0.6}}`,
    );
  }
  return { ...DEFAULT_PRICES, ...parsed.data };
}

/** What `evol run` and `evol estimate` read to make a new run's settings. */
export type NewRunOptions = Pick<
  RunOptions,
  | 'input'
  | 'instructionField'
  | 'inputField'
  | 'idField'
  | 'strict'
  | 'config'
  | 'llm'
  | 'method'
  | 'prices'
  | 'rounds'
  | 'seed'
  | 'concurrency'
  | 'maxTokens'
  | 'maxCost'
  | 'rpm'
  | 'tpm'
  | 'batch'
  | 'unusableRetries'
  | 'seedAnswers'
>;

/**
 * The seeds and settings of a new run, as `evol run` creates it (and `evol estimate` estimates it): the input read
 * and reported, the endpoints, method, prices and options resolved; the notices printed.
 */
export async function resolveNewRun(
  options: NewRunOptions,
): Promise<{ input: string; report: InputReport; settings: DatasetRunConfig; config: DatasetRunConfigInput }> {
  if (!options.input) throw new UserError('--input FILE is needed to start a new run');
  const report = await readSeedFile(options.input, { strict: options.strict, fields: fieldChoice(options) });
  printInputReport(options.input, report, 'seed');
  const { file } = loadConfigFile(options.config);
  const resolved = resolveLlmConfig({ env: process.env, file, mode: options.llm });
  const { config, notices } = resolveDatasetRunSettings({
    llm: resolved.llm,
    simulated: resolved.simulated,
    llmDescription: resolved.description,
    method: await resolveMethod(options.method),
    file,
    prices: loadPrices(options.prices),
    rounds: options.rounds,
    seed: options.seed,
    concurrency: options.concurrency,
    maxTokens: options.maxTokens,
    maxCost: options.maxCost,
    rpm: options.rpm,
    tpm: options.tpm,
    batch: options.batch,
    unusableRetries: options.unusableRetries,
    seedAnswers: options.seedAnswers,
  });
  for (const notice of notices) stderr(notice);
  const parsed = DatasetRunConfigSchema.safeParse(config);
  if (!parsed.success) throw new UserError(`invalid run settings: ${describeIssues(parsed.error.issues)}`);
  return { input: options.input, report, settings: parsed.data, config };
}

async function createRun(store: RunStore, runId: string, options: RunOptions): Promise<RunMeta> {
  const { input, report, settings, config } = await resolveNewRun(options);
  const estimate = estimateRun({ seeds: report.seeds, settings });
  stderr(estimateLine(estimate));
  return createDatasetRun(store, {
    runId,
    inputFile: isS3Url(input) ? input : path.resolve(input),
    seeds: report.seeds,
    invalidRows: report.invalid.length,
    duplicateRows: report.duplicates.length,
    config,
    estimate: estimateSummaryOf(estimate),
  });
}

/** What to tell a user who detached (Ctrl-C) from following a run or a learning run. */
export function howToComeBack(
  session: Session,
  runId: string,
  commands: { what: string; status: string; follow: string } = {
    what: 'run',
    status: `evol status ${runId}`,
    follow: `evol run --run-id ${runId} --resume`,
  },
): string {
  const link = uiLink(session, `EvolRunId="${runId}"`);
  return [
    `Detached from ${commands.what} ${runId}; it was not cancelled.`,
    `  ${commands.status}      shows its progress`,
    `  ${commands.follow}   follows it again`,
    ...(link ? [`  ${link}`] : []),
    ...(session.worker
      ? ['The worker in this process stopped with it: run `evol worker` (or the command above) for it to go on.']
      : []),
  ].join('\n');
}

/**
 * What to tell a user whose run paused while followed (by itself, or by `evol pause`): why, and how to go on. The
 * command then exits with {@link EXIT}.paused.
 */
export function howToGoOn(
  session: Session,
  runId: string,
  reason: string | undefined,
  commands: { what: string; resume: string; follow: string; budget?: boolean } = {
    what: 'Run',
    resume: `evol resume ${runId}`,
    follow: `evol run --run-id ${runId} --resume`,
    budget: true,
  },
): string {
  return [
    `${commands.what} ${runId} is paused and did not finish (exit code ${EXIT.paused}): ${reason ?? 'paused'}`,
    `  ${commands.resume}   goes on once what stopped it is fixed` +
      (commands.budget ? ` (a budget reached: add --max-tokens N or --max-cost USD to raise it)` : ''),
    `  ${commands.follow}   then follows it again`,
    ...(session.worker
      ? ['The worker in this process stopped with it: the command that follows it again runs one.']
      : []),
  ].join('\n');
}

/** Starts (or resumes) a run and follows it; returns its progress when it completed while followed. */
export async function runDataset(options: RunOptions): Promise<{ runId: string; finished?: RunProgress }> {
  const store = openStore();
  const runId = checkRunId(options.runId ?? newRunId('run'));
  process.stdout.write(`Run ${runId}\n`);
  const exists = await store.runExists(runId);
  if (exists && !options.resume) {
    throw new UserError(
      `run "${runId}" already exists: see it with \`evol status ${runId}\`, or continue it with \`evol run --run-id ${runId} --resume\``,
    );
  }
  if (!exists && options.resume) throw new UserError(`there is no run "${runId}" to resume in ${store.location}`);
  const meta = exists ? await store.readMeta(runId) : await createRun(store, runId, options);
  if (exists && options.batch && !(meta.config.kind === 'dataset' && usesBatch(meta.config.llm))) {
    stderr(
      `--batch is ignored: run ${runId} was created without it, and a run keeps the settings it was created with.`,
    );
  }

  const session = await openSession({ taskQueue: options.taskQueue, handleSignals: false, verbose: options.verbose });
  try {
    const handle = await startDatasetRun(session.client, session.taskQueue, meta);
    return { runId, finished: await followAndReport(session, handle, runId, options.detach) };
  } finally {
    await session.close();
  }
}

/**
 * Follows a run until it completes, pauses or Ctrl-C detaches, then prints its summary (and, paused, how to go on);
 * returns its progress when it completed.
 */
async function followAndReport(
  session: Session,
  handle: WorkflowHandle,
  runId: string,
  detach?: boolean,
): Promise<RunProgress | undefined> {
  const link = uiLink(session, `EvolRunId="${runId}"`);
  if (detach) {
    stderr(`Started; not following (--detach). evol status ${runId} shows progress.${link ? ` ${link}` : ''}`);
    if (session.worker)
      stderr('No worker keeps running after this command: start `evol worker` for the run to progress.');
    return undefined;
  }
  const wait = { ...session.workerWait, again: `evol run --run-id ${runId} --resume` };
  const finished = await untilCtrlC((stop) => session.run(() => followRun(handle, { stop, wait })));
  if (!finished) {
    stderr(howToComeBack(session, runId));
    process.exitCode = EXIT.detached;
    return undefined;
  }
  stderr(summaryOf(finished));
  if (finished.status === 'paused') {
    stderr(howToGoOn(session, runId, finished.pauseReason));
    process.exitCode = EXIT.paused;
    return undefined;
  }
  stderr(`Export it: evol export ${runId} --format alpaca --out ${runId}.json`);
  if (link) stderr(`Its workflows in Temporal UI: ${link}`);
  return finished;
}

/**
 * `evol retry`: runs the run's dataset workflow again; recorded instructions are skipped, failed
 * ones go on from their last good round (or from round `fromRound`), keeping their earlier lineage.
 */
export async function runRetry(
  runId: string,
  options: { fromRound?: number; onlyFailed?: boolean; detach?: boolean; taskQueue: string },
): Promise<void> {
  const store = openStore();
  const meta = await store.readMeta(checkRunId(runId));
  if (options.fromRound !== undefined && options.fromRound > datasetSettingsOf(meta).rounds) {
    throw new UserError(`--from-round ${options.fromRound} is past the run's last round`);
  }
  const session = await openSession({ taskQueue: options.taskQueue, handleSignals: false });
  try {
    const current = await session.client.workflow
      .getHandle(workflowIdsOf(meta).dataset)
      .describe()
      .catch(() => undefined);
    if (current?.status.name === 'RUNNING') {
      throw new UserError(`run ${runId} is still running: wait for it to end, or \`evol cancel ${runId}\` first`);
    }
    const retry = { fromRound: options.fromRound, onlyFailed: options.onlyFailed ?? false };
    const handle = await startDatasetRun(session.client, session.taskQueue, meta, retry);
    stderr(
      `Retrying run ${runId}: ${options.onlyFailed ? 'failed instructions only' : 'every unfinished instruction'}, ` +
        `${options.fromRound ? `from round ${options.fromRound}` : 'from the last good round'}.`,
    );
    await followAndReport(session, handle, runId, options.detach);
  } finally {
    await session.close();
  }
}

export function summaryOf(progress: RunProgress, estimate?: RunEstimateSummary): string {
  const f = figuresOf(progress);
  const { counts } = progress;
  const rules = Object.entries(counts.eliminationsByRule)
    .map(([rule, n]) => `${rule} ${n}`)
    .join(', ');
  return [
    `Run ${progress.runId}: ${progress.status}${progress.pauseReason ? ` (${progress.pauseReason})` : ''}`,
    `  instructions: ${f.done}/${f.total} done (${counts.completed} completed, ${counts.failed} failed, ${counts.alreadyDone} done earlier), ${progress.inFlight} running`,
    ...progress.counts.passedByRound.map(
      (passed, i) => `  round ${i + 1}: ${passed} passed, ${counts.eliminatedByRound[i] ?? 0} eliminated`,
    ),
    `  eliminations: ${rules || 'none'}`,
    `  LLM calls: ${plural(counts.reasks, 'unusable answer')} asked again, ${counts.retries} retried after faults`,
    `  tokens: ${counts.usage.totalTokens} (prompt ${counts.usage.promptTokens}, completion ${counts.usage.completionTokens}), cost $${counts.costUsd.toFixed(4)} in finished instructions`,
    ...spentLines(progress),
    ...estimateBesideSpend(estimate, progress.spent),
    `  rate: ${f.rate.toFixed(2)} instructions/s over ${formatDuration(progress.activeMs / 1000)} active, ETA ${progress.status === 'completed' ? '-' : formatDuration(f.etaSeconds)}`,
    ...budgetLines(progress),
    `  continued as new: ${plural(progress.continuedAsNew, 'time')}`,
  ].join('\n');
}

/** Every LLM call's spend so far, counted as each call ended (running instructions included). */
function spentLines(progress: RunProgress): string[] {
  const { spent } = progress;
  if (!spent) return [];
  const cached = spent.usage.cachedPromptTokens
    ? `, ${plural(spent.usage.cachedPromptTokens, 'prompt token')} cached`
    : '';
  return [
    `  spent: ${plural(spent.usage.totalTokens, 'token')} in ${plural(spent.calls, 'LLM call')}${cached}, $${spent.costUsd.toFixed(4)} (all calls, as they ended)`,
  ];
}

/** The budget, and when it was reached: the spend then and the calls in flight that finish after it. */
function budgetLines(progress: RunProgress): string[] {
  const { budget, budgetReached } = progress;
  if (budget.maxTokens === undefined && budget.maxCost === undefined) return [];
  const lines = [
    `  budget: ${budget.maxTokens === undefined ? '- tokens' : plural(budget.maxTokens, 'token')}, $${budget.maxCost ?? '-'}`,
  ];
  if (budgetReached) {
    const at = budgetReached.spent;
    const over = progress.spent ? progress.spent.usage.totalTokens - (budget.maxTokens ?? 0) : undefined;
    lines.push(
      `  budget reached at ${plural(at.usage.totalTokens, 'token')}, $${at.costUsd.toFixed(4)}, with ${plural(budgetReached.inFlight, 'call')} in flight (in the worker that reached it); new calls held since` +
        (budget.maxTokens !== undefined && over !== undefined ? ` (${plural(over, 'token')} over the budget now)` : ''),
    );
  }
  return lines;
}

/** The run's meta when this machine's store has it (it tells the run's workflow ids). */
export async function metaIfStored(runId: string): Promise<RunMeta | undefined> {
  const store = openStore();
  return (await store.runExists(runId)) ? store.readMeta(runId) : undefined;
}

/** Calls `fn` with the run's dataset or learning workflow, from a session without a worker (signals need none). */
export async function withRunWorkflow<T>(
  runId: string,
  kind: 'dataset' | 'auto',
  fn: (handle: WorkflowHandle) => Promise<T>,
): Promise<T> {
  checkRunId(runId);
  const meta = await metaIfStored(runId);
  const session = await openSession({ worker: 'never' });
  try {
    return await fn(await requireRunWorkflow(session.client, runId, kind, meta));
  } finally {
    await session.close();
  }
}

/**
 * What `evol status` and `evol auto status` show: the progress of the run's dataset or learning workflow, asked of
 * it while it runs, its result once completed; undefined when this Temporal server has no such workflow.
 */
export async function statusOf<P>(
  runId: string,
  kind: 'dataset' | 'auto',
  query: QueryDefinition<P>,
  restart: string,
): Promise<P | undefined> {
  checkRunId(runId);
  const meta = await metaIfStored(runId);
  // Queries need a worker: on the embedded default this process runs one while it asks.
  const session = await openSession({ handleSignals: true });
  try {
    return await session.run(async () => {
      const handle = await findRunWorkflow(session.client, runId, kind, meta);
      if (!handle) return undefined;
      return queryRun(handle, query, {
        wait: session.workerWait,
        whenClosed: async (status) => {
          if (status === 'COMPLETED') return (await handle.result()) as P;
          throw new UserError(`run ${runId} is ${status.toLowerCase()}: ${restart}`);
        },
      });
    });
  } finally {
    await session.close();
  }
}

export async function runStatus(runId: string, options: { json?: boolean }): Promise<void> {
  const progress = await statusOf(
    runId,
    'dataset',
    progressQuery,
    `continue it with \`evol run --run-id ${runId} --resume\``,
  );
  if (!progress) throw new UserError(`no dataset run "${runId}" on this Temporal server: \`evol runs\` lists the runs`);
  const batches = progress.status === 'completed' ? undefined : await batchesOf(runId);
  const estimate = (await metaIfStored(runId))?.estimate;
  const builds = progress.status === 'completed' ? [] : await buildsOfRun(runId);
  if (options.json) {
    const json = {
      ...progress,
      figures: figuresOf(progress),
      ...(estimate ? { estimate } : {}),
      ...(batches ? { batches } : {}),
      builds,
    };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    process.stdout.write(`${summaryOf(progress, estimate)}\n`);
    const lines = formatRunBuilds(builds);
    if (lines.length) process.stdout.write(`${['  running on:', ...lines.map((l) => `  ${l}`)].join('\n')}\n`);
    if (batches) process.stdout.write(`${batchesSummary(batches)}\n`);
  }
}

/** The builds of the Worker Deployment a run's workflows run on now, and how many of each type. */
async function buildsOfRun(runId: string): Promise<BuildSummary[]> {
  const session = await openSession({ worker: 'never' });
  try {
    return (await buildsOf(session.client, deploymentNameOf(), runId)).filter((b) => Object.keys(b.running).length);
  } finally {
    await session.close();
  }
}

/** A Batch API run's open batches, when its batcher is running; undefined for other runs. */
async function batchesOf(runId: string): Promise<BatcherStatus | undefined> {
  const meta = await metaIfStored(runId);
  if (!meta || meta.config.kind !== 'dataset' || !usesBatch(meta.config.llm)) return undefined;
  const session = await openSession({ handleSignals: true });
  try {
    return await session.run(async () => {
      return (await openBatches(session.client, meta)) ?? { queued: 0, paused: false, open: [], submitted: 0 };
    });
  } finally {
    await session.close();
  }
}

export function batchesSummary(status: BatcherStatus): string {
  const lines = status.open.map((b) => {
    const counts = b.counts ? `, ${b.counts.completed}/${b.counts.total} done, ${b.counts.failed} failed` : '';
    return `    ${b.batchId ?? '(being sent)'}  ${b.roles.join('+')}  ${b.status}  ${plural(b.requests, 'call')}${counts}  age ${formatDuration(b.ageMs / 1000)}`;
  });
  return [
    `  batches: ${status.open.length} open, ${plural(status.queued, 'call')} queued${status.paused ? ' (held: paused)' : ''}, ${status.submitted} sent by the batcher since it started`,
    ...lines,
  ].join('\n');
}

export async function runPause(runId: string): Promise<void> {
  await withRunWorkflow(runId, 'dataset', (handle) => pauseRun(handle));
  stderr(`Pausing run ${runId}: running steps finish, nothing new starts. \`evol resume ${runId}\` continues it.`);
}

export async function runResume(runId: string, options: { maxTokens?: number; maxCost?: number }): Promise<void> {
  const budget = budgetOf(options);
  await withRunWorkflow(runId, 'dataset', (handle) =>
    resumeRun(handle, Object.keys(budget).length ? budget : undefined),
  );
  stderr(`Resumed run ${runId}.`);
}

export async function runCancel(runId: string): Promise<void> {
  await withRunWorkflow(runId, 'dataset', (handle) => cancelRun(handle));
  stderr(`Cancelled run ${runId}: its running instructions are cancelled; finished records stay in the store.`);
}

/** An export written locally, then put in the bucket whole: `result.path` is the object's URL. */
async function exportToBucket(
  store: RunStore,
  runId: string,
  options: Parameters<typeof exportRun>[2] & { out: string },
) {
  let result: Awaited<ReturnType<typeof exportRun>> | undefined;
  const url = await writeOutput(
    options.out,
    async (file) => {
      result = await exportRun(store, runId, { ...options, out: file });
    },
    options.parquet ? PARQUET_CONTENT_TYPE : undefined,
  );
  return { ...result!, path: url };
}

/** What `evol export --format` takes: a row shape, or `parquet` (a Parquet file with the alpaca shape's columns). */
export type ExportFormatChoice = ExportFormat | 'parquet';

/**
 * `evol export`: the shuffle seed defaults to the run's own seed, and is printed, so the order can be had again.
 * Parquet is written for `--format parquet`, an `--out` ending in `.parquet`, and `--dataset DIR`.
 */
export async function runExport(
  runId: string,
  options: Omit<ExportOptions, 'seed' | 'decontaminate' | 'format'> & {
    format: ExportFormatChoice;
    seed?: number;
    out?: string;
    /** A dataset folder (Parquet shards and a dataset card) instead of one file, and its shard size. */
    dataset?: string;
    shardRows?: number;
    /** Benchmark files to decontaminate against, and the field of their prompts. */
    benchmarks?: string[];
    benchmarkField?: string;
  },
): Promise<void> {
  if (options.dataset !== undefined && options.out !== undefined)
    throw new UserError('give --out FILE or --dataset DIR, not both');
  const store = openStore();
  checkRunId(runId);
  const decontaminate = options.benchmarks?.length
    ? await loadBenchmarks(options.benchmarks, { field: options.benchmarkField, log: stderr })
    : undefined;
  let seed = options.seed;
  if (seed === undefined) {
    const meta = await store.readMeta(runId).catch(() => undefined);
    seed = Math.max(0, meta?.config.seed ?? 0);
  }
  const format: ExportFormat = options.format === 'parquet' ? 'alpaca' : options.format;
  const parquet = options.format === 'parquet' || /\.parquet$/i.test(options.out ?? '');
  const exportOptions = { ...options, format, parquet, seed, ...(decontaminate ? { decontaminate } : {}) };
  const result =
    options.dataset !== undefined
      ? await exportDataset(store, runId, { ...exportOptions, dataset: options.dataset })
      : options.out && isS3Url(options.out)
        ? await exportToBucket(store, runId, { ...exportOptions, out: options.out })
        : await exportRun(store, runId, exportOptions);
  for (const note of result.notes) stderr(note);
  const s = result.stats;
  if (s.contaminatedDropped !== undefined) {
    stderr(`${plural(s.contaminatedDropped, 'row')} dropped: sharing a run of 13 words with a benchmark prompt.`);
  }
  if (s.nearDuplicatesDropped !== undefined) {
    stderr(
      `${plural(s.nearDuplicatesDropped, 'near-duplicate row')} dropped (${plural(s.nearDuplicateClusters ?? 0, 'cluster')}, one row kept of each).`,
    );
  }
  stderr(
    `${plural(s.rows, 'row')} from ${plural(s.records, 'record')}${result.path ? ` written to ${result.path}` : ''}` +
      (options.includeSeeds
        ? ` (the seeds and ${options.rounds === 'all' ? 'every passed round' : 'the final round'})`
        : '') +
      (options.shuffle ? `, shuffled with seed ${seed} (\`--seed ${seed}\` gives this order again)` : '') +
      (s.skippedIncomplete ? `; ${plural(s.skippedIncomplete, 'failed or unfinished record')} left out` : '') +
      (s.seedsWithoutOutput
        ? `; ${plural(s.seedsWithoutOutput, 'seed')} left out: no answer in the seed file and no usable one from the run`
        : ''),
  );
  if (result.shards) {
    const shards = result.shards.length === 1 ? 'one Parquet shard' : `${result.shards.length} Parquet shards`;
    stderr(
      `It holds ${shards} in data/ and a dataset card, README.md: \`datasets.load_dataset("${result.path}")\` loads it. Add a license to the card before you share it.`,
    );
  }
}

export async function runList(): Promise<void> {
  const store = openStore();
  const { runs, unreadable } = await store.listRuns();
  if (!runs.length && !unreadable.length) {
    stderr(`No runs in ${store.location}.`);
    return;
  }
  for (const run of runs)
    process.stdout.write(`${run.runId}\t${run.createdAt}\t${plural(run.seedCount, 'seed')}\t${run.inputFile}\n`);
  for (const { runId, reason } of unreadable) stderr(`${runId}: not listed, its settings can't be read: ${reason}`);
}

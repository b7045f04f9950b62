/**
 * `evol auto`: learns an evolving method with Auto Evol-Instruct and follows it; `status`, `show`,
 * `export-method`, `pause` and `resume` work on a learning run; `--then-run` evolves the whole input
 * with the learned method afterwards (a dataset run with that method as its only operation).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import {
  methodFile,
  resolveAutoEvolLlm,
  type AutoProgress,
  type MethodVersion,
  type StepSummary,
} from '../core/auto-evol';
import type { LlmMode } from '../core/config';
import { autoProgressQuery } from '../core/messages';
import { autoSettingsOf, type RunMeta } from '../core/run';
import { UserError } from '../core/validation';
import { checkRunId } from '../store/object-run-store';
import { defaultDataDir, openRunStore } from '../store/location';
import type { RunStore } from '../store/types';
import { createAutoRun, newRunId, pauseRun, queryRun, resumeRun, startAutoRun, type WorkerWait } from './api';
import { loadConfigFile } from './config-file';
import { openSession, uiLink, untilCtrlC } from './embedded';
import { formatDuration } from './follow';
import { printInputReport, stderr } from './format';
import { readSeedFile } from './input-file';
import { isS3Url } from './locations';
import { EXIT } from './errors';
import { fieldChoice, howToComeBack, howToGoOn, runDataset, statusOf, withRunWorkflow } from './run';
import { plural } from '../core/plural';

export interface AutoOptions {
  input?: string;
  dev?: string;
  devSize?: number;
  steps?: number;
  candidates?: number;
  batchSize?: number;
  evolutions?: number;
  patience?: number;
  seed?: number;
  concurrency?: number;
  runId?: string;
  resume?: boolean;
  thenRun?: boolean;
  /** Rounds of the dataset run that --then-run starts (the paper evolves once with the learned method). */
  rounds?: number;
  detach?: boolean;
  strict?: boolean;
  config?: string;
  unusableRetries?: number;
  verbose?: boolean;
  /** `paper`: F(r) alone decides a failed dev-set evolution; `paper-and-rules` (default): with rules 4, 2, 3. */
  detector?: 'paper' | 'paper-and-rules';
  instructionField?: string;
  inputField?: string;
  idField?: string;
  llm: LlmMode;
  taskQueue: string;
}

function openStore(): RunStore {
  return openRunStore();
}

async function createFromFiles(store: RunStore, runId: string, options: AutoOptions): Promise<RunMeta> {
  if (!options.input) throw new UserError('--input FILE is needed to start a new learning run');
  const fields = fieldChoice(options);
  const input = await readSeedFile(options.input, { strict: options.strict, fields });
  printInputReport(options.input, input, 'instruction');
  const dev = options.dev ? await readSeedFile(options.dev, { strict: options.strict, fields }) : undefined;
  if (dev && options.dev) printInputReport(options.dev, dev, 'instruction');
  const { file } = loadConfigFile(options.config);
  const resolved = resolveAutoEvolLlm({ env: process.env, file, mode: options.llm });
  stderr(resolved.description);
  const meta = await createAutoRun(store, {
    runId,
    inputFile: isS3Url(options.input) ? options.input : path.resolve(options.input),
    seeds: input.seeds,
    devSeeds: dev?.seeds,
    devFile: options.dev ? path.resolve(options.dev) : undefined,
    settings: {
      steps: options.steps,
      candidates: options.candidates,
      batchSize: options.batchSize,
      devSize: options.devSize,
      evolutionsPerInstruction: options.evolutions,
      patience: options.patience,
      seed: options.seed,
      concurrency: options.concurrency,
      unusableRetries: options.unusableRetries ?? file?.unusableRetries,
      ...(options.detector ? { detector: options.detector } : {}),
    },
    llm: resolved.llm,
    invalidRows: input.invalid.length,
    duplicateRows: input.duplicates.length,
  });
  const c = autoSettingsOf(meta);
  stderr(
    `Learning for at most ${plural(c.steps, 'step')}: mini-batches of ${c.batchSize} evolved ${plural(c.evolutionsPerInstruction, 'time')}, ` +
      `${plural(c.candidates, 'candidate')} per step, a dev set of ${c.devFileCount || c.devSize} ${c.devFileCount ? `from ${options.dev}` : `drawn from the input (seed ${c.seed})`}.`,
  );
  return meta;
}

// ---------------------------------------------------------------------------------------------
// Formatting

export function formatRate(rate: number, failures: number, devSize: number): string {
  return `${rate.toFixed(2)} (${failures}/${devSize})`;
}

function candidateText(c: StepSummary['candidates'][number]): string {
  return c.failureRate !== undefined
    ? `${c.sample}: ${c.failureRate.toFixed(2)}`
    : `${c.sample}: failed (${c.failure})`;
}

export function formatStep(step: StepSummary): string {
  const rated = step.candidates.filter((c) => c.failureRate !== undefined);
  const best = step.candidates.find((c) => c.sample === step.best);
  const outcome = step.adopted
    ? `adopted candidate ${step.best} (${step.rateBefore.toFixed(2)} → ${step.rateAfter.toFixed(2)})`
    : rated.length
      ? `kept the current method (best ${best?.failureRate?.toFixed(2)} > ${step.rateBefore.toFixed(2)})`
      : 'kept the current method (no usable candidate)';
  return `step ${step.step}: candidates ${step.candidates.map(candidateText).join(', ')} → ${outcome}`;
}

function excerpt(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function formatAutoProgress(p: AutoProgress): string {
  const state = p.status === 'paused' ? `paused (${p.pauseReason})` : p.status;
  const working =
    p.status === 'completed' ? '' : `, ${p.phase}${p.work.total ? ` ${p.work.done}/${p.work.total}` : ''}`;
  const lines = [
    `Auto run ${p.runId}: ${state} (step ${p.stepsDone} of at most ${p.stepBudget} done${working})`,
    p.baseline
      ? `  initial method: failure rate ${formatRate(p.baseline.failureRate, p.baseline.failures, p.devSize)}`
      : '  initial method: being evaluated on the dev set',
    ...p.steps.map((s) => `  ${formatStep(s)}`),
  ];
  if (p.current) {
    lines.push(
      `  current method: from ${p.methodStep === 0 ? 'the start' : `step ${p.methodStep}`}, failure rate ${formatRate(p.current.failureRate, p.current.failures, p.devSize)}, ${plural(p.method.length, 'char')}`,
      `    ${excerpt(p.method, 300)}`,
    );
  }
  if (p.stopReason) lines.push(`  stopped: ${p.stopReason}`);
  lines.push(
    `  LLM calls: ${p.llmCalls}, tokens: ${p.usage.totalTokens}, continued as new: ${plural(p.continuedAsNew, 'time')}`,
  );
  return lines.join('\n');
}

const BAR_WIDTH = 30;

export function rateBar(rate: number): string {
  const filled = Math.round(Math.max(0, Math.min(1, rate)) * BAR_WIDTH);
  return `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
}

/** The failure rate after each step as text bars (no charting library is installed, plain text serves). */
export function failureRateChart(versions: readonly MethodVersion[]): string {
  return versions
    .map((v) => {
      const best = v.candidates?.filter((c) => c.failureRate !== undefined).map((c) => c.failureRate!) ?? [];
      const note =
        v.origin === 'kept'
          ? best.length
            ? `  (best candidate ${Math.min(...best).toFixed(2)})`
            : '  (no usable candidate)'
          : '';
      return `  step ${String(v.step).padStart(2)}  ${v.origin.padEnd(7)}  ${rateBar(v.failureRate)} ${formatRate(v.failureRate, v.failures, v.devSize)}${note}`;
    })
    .join('\n');
}

/** The versions of the most recent learning of the run (a learning started over replaces the earlier one). */
export function latestLearning(versions: readonly MethodVersion[]): MethodVersion[] {
  const last = versions[versions.length - 1];
  if (!last) return [];
  return versions.filter((v) => v.learningId === last.learningId).sort((a, b) => a.step - b.step);
}

async function learnedVersions(runId: string): Promise<MethodVersion[]> {
  const store = openStore();
  autoSettingsOf(await store.readMeta(checkRunId(runId)));
  const versions = latestLearning(await store.methodVersions(runId));
  if (!versions.length) {
    throw new UserError(`run ${runId} has no method yet: its initial method is still being evaluated`);
  }
  return versions;
}

// ---------------------------------------------------------------------------------------------
// Following a learning run

const PHASE_TEXT: Record<AutoProgress['phase'], string> = {
  baseline: 'evaluating the initial method on the dev set',
  trajectory: 'evolving the mini-batch (the trajectory)',
  optimization: 'the optimizer analyzes the trajectory and writes candidates',
  evaluation: 'evaluating the candidates on the dev set',
  finished: 'finished',
};

/**
 * Polls the learning's progress, printing each finished step; returns it when it completes or pauses, undefined when
 * following is stopped.
 */
export async function followAuto(
  handle: WorkflowHandle,
  options: { stop: Promise<void>; pollMs?: number; out?: (line: string) => void; wait?: WorkerWait },
): Promise<AutoProgress | undefined> {
  const out = options.out ?? stderr;
  let stopped = false;
  void options.stop.then(() => (stopped = true));
  let shownSteps = 0;
  let shownBaseline = false;
  let lastActivity = '';
  for (;;) {
    const progress = await queryRun(handle, autoProgressQuery, {
      wait: options.wait,
      whenClosed: async () => (await handle.result()) as AutoProgress,
    });
    if (progress.baseline && !shownBaseline) {
      out(
        `initial method: failure rate ${formatRate(progress.baseline.failureRate, progress.baseline.failures, progress.devSize)}`,
      );
      shownBaseline = true;
    }
    for (; shownSteps < progress.steps.length; shownSteps++) out(formatStep(progress.steps[shownSteps]));
    const activity =
      progress.status === 'completed'
        ? ''
        : progress.phase === 'baseline'
          ? 'initial method: evaluating it on the dev set'
          : `step ${progress.stepsDone + 1}: ${PHASE_TEXT[progress.phase]}`;
    if (activity && activity !== lastActivity) out(`${activity}...`);
    lastActivity = activity;
    if (progress.status === 'completed' || progress.status === 'paused') return progress;
    await Promise.race([new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000)), options.stop]);
    if (stopped) return undefined;
  }
}

/** `evol auto`: starts (or resumes) a learning run and follows it; with --then-run, evolves the input with the result. */
export async function runAuto(options: AutoOptions): Promise<{ runId: string; finished?: AutoProgress }> {
  if (options.dev && options.devSize !== undefined)
    throw new UserError('give either --dev FILE or --dev-size N, not both');
  const store = openStore();
  const runId = checkRunId(options.runId ?? newRunId('auto'));
  process.stdout.write(`Auto run ${runId}\n`);
  const exists = await store.runExists(runId);
  if (exists && !options.resume) {
    throw new UserError(
      `run "${runId}" already exists: see it with \`evol auto status ${runId}\`, or continue it with \`evol auto --run-id ${runId} --resume\``,
    );
  }
  if (!exists && options.resume) throw new UserError(`there is no run "${runId}" to resume in ${store.location}`);
  const meta = exists ? await store.readMeta(runId) : await createFromFiles(store, runId, options);
  autoSettingsOf(meta);

  let finished: AutoProgress | undefined;
  const session = await openSession({ taskQueue: options.taskQueue, handleSignals: false, verbose: options.verbose });
  try {
    const handle = await startAutoRun(session.client, session.taskQueue, meta);
    const link = uiLink(session, `EvolRunId="${runId}"`);
    if (options.detach) {
      stderr(`Started; not following (--detach). evol auto status ${runId} shows progress.${link ? ` ${link}` : ''}`);
      if (session.worker) stderr('No worker keeps running after this command: start `evol worker` for it to progress.');
      return { runId };
    }
    const started = Date.now();
    const wait = { ...session.workerWait, again: `evol auto --run-id ${runId} --resume` };
    finished = await untilCtrlC((stop) => session.run(() => followAuto(handle, { stop, wait })));
    if (!finished) {
      stderr(
        howToComeBack(session, runId, {
          what: 'learning run',
          status: `evol auto status ${runId}`,
          follow: `evol auto --run-id ${runId} --resume`,
        }),
      );
      process.exitCode = EXIT.detached;
      return { runId };
    }
    if (finished.status === 'paused') {
      stderr(formatAutoProgress(finished));
      stderr(
        howToGoOn(session, runId, finished.pauseReason, {
          what: 'Learning run',
          resume: `evol auto resume ${runId}`,
          follow: `evol auto --run-id ${runId} --resume`,
        }),
      );
      process.exitCode = EXIT.paused;
      return { runId };
    }
    stderr(
      `Stopped after ${plural(finished.stepsDone, 'step')} in ${formatDuration((Date.now() - started) / 1000)}: ${finished.stopReason}.`,
    );
    stderr(formatAutoProgress(finished));
    stderr(`See the method: evol auto show ${runId}; save it: evol auto export-method ${runId} --out method.json`);
  } finally {
    await session.close();
  }
  if (options.thenRun) await evolveWithLearnedMethod(runId, meta, options);
  return { runId, finished };
}

/** The dataset run over the whole input with the learned method as its only operation. */
async function evolveWithLearnedMethod(runId: string, meta: RunMeta, options: AutoOptions): Promise<void> {
  const learned = (await learnedVersions(runId)).at(-1)!;
  const file = path.join(defaultDataDir(), 'methods', `${runId}-step-${learned.step}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(methodFile(runId, learned, autoSettingsOf(meta).llm.evol), null, 2)}\n`);
  const datasetRunId = `${runId}-evolved`;
  const resume = await openStore().runExists(datasetRunId);
  stderr(`Evolving ${meta.inputFile} with the learned method (${file}) as dataset run ${datasetRunId}...`);
  await runDataset({
    input: meta.inputFile,
    runId: datasetRunId,
    resume,
    rounds: options.rounds ?? 1,
    seed: options.seed ?? 0,
    concurrency: options.concurrency ?? 16,
    method: file,
    strict: options.strict,
    config: options.config,
    llm: options.llm,
    taskQueue: options.taskQueue,
  });
}

// ---------------------------------------------------------------------------------------------
// status, show, export-method, pause, resume

export async function runAutoStatus(runId: string, options: { json?: boolean }): Promise<void> {
  const progress = await statusOf(
    runId,
    'auto',
    autoProgressQuery,
    `start the learning again with \`evol auto --run-id ${runId} --resume\``,
  );
  if (progress) {
    process.stdout.write(options.json ? `${JSON.stringify(progress, null, 2)}\n` : `${formatAutoProgress(progress)}\n`);
    return;
  }
  const versions = await learnedVersions(runId);
  if (options.json) process.stdout.write(`${JSON.stringify(versions, null, 2)}\n`);
  else
    process.stdout.write(
      `No workflow of run ${runId} on this Temporal server; from the run store:\n${failureRateChart(versions)}\n`,
    );
}

export async function runAutoShow(runId: string): Promise<void> {
  const versions = await learnedVersions(runId);
  const learned = versions[versions.length - 1];
  const adoptedIn = versions.filter((v) => v.origin !== 'kept').at(-1)?.step ?? 0;
  const origin = adoptedIn === 0 ? 'the initial method' : `adopted in step ${adoptedIn}`;
  process.stdout.write(
    [
      `Method of run ${runId} after step ${learned.step} (${origin}), failure rate ${formatRate(learned.failureRate, learned.failures, learned.devSize)}:`,
      '',
      learned.method,
      '',
      `Failure rate on the dev set of ${learned.devSize}, step by step:`,
      failureRateChart(versions),
      '',
    ].join('\n'),
  );
}

export async function runAutoExportMethod(runId: string, options: { out: string }): Promise<void> {
  const learned = (await learnedVersions(runId)).at(-1)!;
  const meta = await openStore().readMeta(checkRunId(runId));
  const out = path.resolve(options.out);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(methodFile(runId, learned, autoSettingsOf(meta).llm.evol), null, 2)}\n`);
  stderr(
    `Wrote the method after step ${learned.step} (failure rate ${formatRate(learned.failureRate, learned.failures, learned.devSize)}) to ${out}. ` +
      `Evolve with it: evol run --method ${options.out} --input FILE`,
  );
}

export async function runAutoPause(runId: string): Promise<void> {
  await withRunWorkflow(runId, 'auto', (handle) => pauseRun(handle, 'paused by request (evol auto pause)'));
  stderr(
    `Pausing learning run ${runId}: LLM calls in flight finish, no new one starts. \`evol auto resume ${runId}\` continues it.`,
  );
}

export async function runAutoResume(runId: string): Promise<void> {
  await withRunWorkflow(runId, 'auto', (handle) => resumeRun(handle));
  stderr(`Resumed learning run ${runId}.`);
}

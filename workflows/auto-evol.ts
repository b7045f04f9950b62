/**
 * Auto Evol-Instruct (arXiv 2406.00770 §3): learns an evolving method instead of using hand-written
 * operations. Each step evolves a mini-batch l times with the current method (the trajectory); the
 * optimizer LLM analyzes the trajectory and writes a better method, m times over; each candidate
 * evolves the dev set, the answers show which evolutions failed, and the candidate with the lowest
 * failure rate becomes the method if it is at least as good as the current one. Learning stops when
 * the failure rate stops falling or at the step budget. Dev set and mini-batches come from the seed.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
  setWorkflowOptions,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { Unusable } from '../activities/unusable';
import type {
  AutoEvolInput,
  AutoEvolRunConfig,
  AutoEvolState,
  AutoPhase,
  AutoProgress,
  CandidateOutcome,
  Evaluation,
  MethodVersion,
  StepDetail,
  StepSummary,
  TrajectoryCase,
} from '../core/auto-evol';
import { prngFor } from '../core/prng';
import type { UnusableAnswer } from '../core/reask';
import { DEFAULT_UNUSABLE_RETRIES } from '../core/quality';
import { EvolStatus } from '../core/search-attributes';
import { addUsage, ZERO_USAGE, type Usage } from '../core/usage';
import { LLM_RETRY_POLICY, LLM_TIMEOUT_MARGIN_MS, storeActivities } from './activity-options';
import { autoProgressQuery, pauseSignal, resumeSignal } from '../core/messages';
import { askUntilUsable } from './reask';
import { plural } from '../core/plural';

interface Instruction {
  id: string;
  text: string;
}

interface DevEvaluation extends Evaluation {
  failedCases: Array<{ id: string; rule: string }>;
}

export async function autoEvol(input: AutoEvolInput): Promise<AutoProgress> {
  const { config } = input;
  const state = input.state ?? initialState(config);
  const run = new LearningRun(input, state);
  setHandler(autoProgressQuery, () => run.progress());
  setHandler(pauseSignal, ({ reason }) => run.pause(reason ?? 'paused by request'));
  setHandler(resumeSignal, () => run.resume());

  const dev = await run.read(devPositions(input));
  if (!state.current) {
    run.enter('baseline', dev.length * 2);
    const { failureRate, failures } = await run.failureRate(state.method, dev);
    state.baseline = state.current = { failureRate, failures };
    await run.saveVersion(0, 'initial', dev.length);
  }
  for (;;) {
    state.stopReason ??= stopReasonOf(state, config);
    if (state.stopReason) break;
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof autoEvol>({
        ...input,
        state: { ...state, continuedAsNew: state.continuedAsNew + 1 },
      });
    }
    const step = state.stepsDone + 1;
    const detail = run.startStep(step, await run.read(miniBatchPositions(input, step)));
    await run.evolutionTrajectory(detail, state.method);
    await run.analyzeAndOptimize(detail);
    await run.rateCandidates(detail, dev);
    const adopted = run.chooseMethod(detail);
    await run.saveVersion(step, adopted ? 'adopted' : 'kept', dev.length, adopted?.sample);
  }
  return run.finish();
}
// A learning run lasts hours: it moves to the current build at its next workflow task, so a change to this file ships
// behind patched() (docs/versioning.md).
setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, autoEvol);

function initialState(config: AutoEvolRunConfig): AutoEvolState {
  return {
    method: config.initialMethod,
    methodStep: 0,
    stepsDone: 0,
    stalled: 0,
    steps: [],
    paused: false,
    usage: ZERO_USAGE,
    llmCalls: 0,
    continuedAsNew: 0,
  };
}

/** Why learning stops now, if it does: at the step budget, as the authors' code does, or early with a patience. */
function stopReasonOf(state: AutoEvolState, config: AutoEvolRunConfig): string | undefined {
  if (config.patience !== undefined && state.stalled >= config.patience) {
    return `the failure rate did not fall in the last ${config.patience === 1 ? 'step' : plural(config.patience, 'step')}`;
  }
  if (state.stepsDone >= config.steps) return `the step budget of ${plural(config.steps, 'step')} is used up`;
  return undefined;
}

/** The input's positions in the run store, without the dev set's when it is drawn from the input. */
function trainingPool(input: AutoEvolInput): number[] {
  const all = Array.from({ length: input.inputCount }, (_, i) => i);
  if (input.devFileCount > 0) return all;
  const dev = new Set(devPositions(input));
  return all.filter((p) => !dev.has(p));
}

export function devPositions(input: AutoEvolInput): number[] {
  if (input.devFileCount > 0) return Array.from({ length: input.devFileCount }, (_, i) => input.inputCount + i);
  const pool = Array.from({ length: input.inputCount }, (_, i) => i);
  return drawPositions(pool, input.config.devSize, prngFor(input.config.seed, 'dev-set'));
}

export function miniBatchPositions(input: AutoEvolInput, step: number): number[] {
  return drawPositions(trainingPool(input), input.config.batchSize, prngFor(input.config.seed, 'mini-batch', step));
}

/** `count` distinct positions of the pool (a partial Fisher-Yates shuffle), in ascending order. */
export function drawPositions(pool: readonly number[], count: number, random: () => number): number[] {
  const copy = [...pool];
  const n = Math.min(count, copy.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, n).sort((a, b) => a - b);
}

function causeOf(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  const type = cause instanceof ApplicationFailure && cause.type ? `${cause.type}: ` : '';
  return `${type}${cause instanceof Error ? cause.message : String(cause)}`;
}

/** The mechanics of one learning run: bounded, pausable LLM calls, progress, and the steps' parts. */
class LearningRun {
  private phase: AutoPhase = 'baseline';
  private work = { done: 0, total: 0 };
  private detail?: StepDetail;
  private running = 0;
  private readonly store = storeActivities();

  constructor(
    private readonly input: AutoEvolInput,
    private readonly state: AutoEvolState,
  ) {}

  /** One call, asked again at once while its answer is unusable, at most `unusableRetries` times. */
  private async ask<T extends { ok?: boolean; usage: Usage }>(
    summary: string,
    fn: (activities: Activities, reask?: UnusableAnswer) => Promise<T | Unusable>,
  ): Promise<{ result: T | Unusable; asks: number }> {
    return askUntilUsable(this.config.unusableRetries ?? DEFAULT_UNUSABLE_RETRIES, (reask, asks) =>
      this.call(asks > 1 ? `${summary} · ask ${asks}` : summary, (a) => fn(a, reask)),
    );
  }

  private get config(): AutoEvolRunConfig {
    return this.input.config;
  }

  progress(): AutoProgress {
    const finished = this.phase === 'finished';
    return {
      ...this.state,
      runId: this.input.runId,
      status: finished ? 'completed' : this.state.paused ? 'paused' : 'running',
      phase: this.phase,
      stepBudget: this.config.steps,
      devSize: this.input.devFileCount || Math.min(this.config.devSize, this.input.inputCount),
      work: this.work,
      inProgress: this.detail,
    };
  }

  pause(reason: string): void {
    if (this.state.paused) return;
    this.state.paused = true;
    this.state.pauseReason = reason;
    upsertSearchAttributes([{ key: EvolStatus, value: 'paused' }]);
  }

  resume(): void {
    if (!this.state.paused) return;
    this.state.paused = false;
    this.state.pauseReason = undefined;
    upsertSearchAttributes([{ key: EvolStatus, value: 'running' }]);
  }

  enter(phase: AutoPhase, total: number): void {
    this.phase = phase;
    this.work = { done: 0, total };
  }

  finish(): AutoProgress {
    this.phase = 'finished';
    this.detail = undefined;
    upsertSearchAttributes([{ key: EvolStatus, value: 'completed' }]);
    return this.progress();
  }

  async read(positions: number[]): Promise<Instruction[]> {
    return (await this.store.readAutoInput({ runId: this.input.runId, positions })).instructions;
  }

  /**
   * One LLM activity: it starts only while the run is not paused and fewer than `concurrency` are in
   * flight. A call that fails for good (a bad key, an outage past every retry) pauses the run and is
   * made again on resume; an unusable output is the caller's to judge.
   */
  private async call<T extends { usage: Usage }>(
    summary: string,
    fn: (activities: Activities) => Promise<T>,
  ): Promise<T> {
    const { evol, optimizer, responder } = this.config.llm;
    const activities = proxyActivities<Activities>({
      startToCloseTimeout:
        Math.max(evol.requestTimeoutMs, optimizer.requestTimeoutMs, responder.requestTimeoutMs) + LLM_TIMEOUT_MARGIN_MS,
      heartbeatTimeout: '10s',
      retry: LLM_RETRY_POLICY,
      summary,
    });
    for (;;) {
      await condition(() => !this.state.paused && this.running < this.config.concurrency);
      this.running++;
      try {
        const result = await fn(activities);
        this.state.usage = addUsage(this.state.usage, result.usage);
        this.state.llmCalls++;
        return result;
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        this.pause(`an LLM call failed (${causeOf(err)}). Fix the cause, then: evol auto resume ${this.input.runId}`);
      } finally {
        this.running--;
      }
    }
  }

  private evolve(summary: string, method: string, instruction: string) {
    const evol = this.config.llm.evol;
    return this.call(summary, (a) => a.evolveWithMethod({ evol, method, instruction }));
  }

  startStep(step: number, batch: Instruction[]): StepDetail {
    this.detail = {
      step,
      batch: batch.map((b) => b.id),
      trajectory: batch.map((b): TrajectoryCase => ({ id: b.id, original: b.text, evolutions: [] })),
      candidates: Array.from({ length: this.config.candidates }, (_, i): CandidateOutcome => ({ sample: i + 1 })),
    };
    return this.detail;
  }

  /** Each mini-batch instruction evolved l times in a row; a failed evolution leaves the text as it was. */
  async evolutionTrajectory(detail: StepDetail, method: string): Promise<void> {
    const l = this.config.evolutionsPerInstruction;
    this.enter('trajectory', detail.trajectory.length * l);
    await Promise.all(
      detail.trajectory.map(async (c) => {
        let text = c.original;
        for (let round = 1; round <= l; round++) {
          const evolved = await this.evolve(`step ${detail.step} · trajectory ${c.id} · ${round}`, method, text);
          this.work.done++;
          c.evolutions.push(evolved.ok ? { instruction: evolved.instruction } : { failure: evolved.reason });
          if (evolved.ok) text = evolved.instruction;
        }
      }),
    );
  }

  /** Trajectory analysis then method optimization, sampled m times in parallel: m candidate methods. */
  async analyzeAndOptimize(detail: StepDetail): Promise<void> {
    const { optimizer } = this.config.llm;
    const method = this.state.method;
    this.enter('optimization', detail.candidates.length * 2);
    await Promise.all(
      detail.candidates.map(async (candidate) => {
        const sample = { step: detail.step, sample: candidate.sample, of: detail.candidates.length };
        const label = `step ${detail.step} · candidate ${candidate.sample}`;
        await this.analyzeAndOptimizeOnce(label, candidate, {
          optimizer,
          method,
          trajectory: detail.trajectory,
          sample,
        });
      }),
    );
  }

  /** One candidate: analysis, then optimization, each asked again at once while its answer is unusable. */
  private async analyzeAndOptimizeOnce(
    label: string,
    candidate: CandidateOutcome,
    request: {
      optimizer: AutoEvolRunConfig['llm']['optimizer'];
      method: string;
      trajectory: TrajectoryCase[];
      sample: { step: number; sample: number; of: number };
    },
  ): Promise<void> {
    const analysis = await this.ask(`${label} · analyze`, (a, reask) =>
      a.analyzeTrajectory({ ...request, ...(reask ? { reask } : {}) }),
    );
    this.work.done++;
    if (analysis.result.ok === false) {
      this.work.done++;
      candidate.failure = `the optimizer gave no usable feedback in ${plural(analysis.asks, 'ask')}: ${analysis.result.unusable.reason}`;
      return;
    }
    const feedback = analysis.result.feedback;
    candidate.feedback = feedback;
    candidate.casesNamed = analysis.result.casesNamed;
    const optimized = await this.ask(`${label} · optimize`, (a, reask) =>
      a.optimizeMethod({
        optimizer: request.optimizer,
        method: request.method,
        feedback,
        sample: request.sample,
        maxMethodChars: this.config.maxMethodChars,
        ...(reask ? { reask } : {}),
      }),
    );
    this.work.done++;
    if (optimized.result.ok === false) {
      candidate.failure = `the optimizer gave no usable method in ${plural(optimized.asks, 'ask')}: ${optimized.result.unusable.reason}`;
    } else if (optimized.result.candidate.ok) {
      candidate.method = optimized.result.candidate.method;
    } else {
      candidate.failure = optimized.result.candidate.reason;
    }
  }

  /**
   * The failure rate of every usable candidate on the dev set; a method already rated in this step is not rated
   * again. From step 2 the current method is rated again alongside them, as the authors' code does: its rate was
   * measured in an earlier step, where it may have won by luck, and a candidate must beat it on today's evaluation.
   */
  async rateCandidates(detail: StepDetail, dev: Instruction[]): Promise<void> {
    const current = this.state.current!;
    const rescore = detail.step > 1;
    const rated = new Map<string, Promise<DevEvaluation>>([
      [
        this.state.method,
        rescore
          ? this.failureRate(this.state.method, dev, `step ${detail.step} · current method`)
          : Promise.resolve({ ...current, failedCases: [] }),
      ],
    ]);
    const usable = detail.candidates.filter((c) => c.method !== undefined);
    const fresh = new Set(usable.map((c) => c.method).filter((m) => !rated.has(m!))).size + (rescore ? 1 : 0);
    this.enter('evaluation', fresh * dev.length * 2);
    const currentRate = rated.get(this.state.method)!.then(({ failureRate, failures }) => {
      this.state.current = { failureRate, failures };
    });
    await Promise.all([
      currentRate,
      ...usable.map(async (candidate) => {
        const method = candidate.method!;
        if (!rated.has(method)) {
          rated.set(method, this.failureRate(method, dev, `step ${detail.step} · candidate ${candidate.sample}`));
        }
        const evaluation = await rated.get(method)!;
        candidate.failureRate = evaluation.failureRate;
        candidate.failures = evaluation.failures;
        candidate.failedCases = evaluation.failedCases;
      }),
    ]);
  }

  /** The evolution failure rate of a method: each dev instruction is evolved and answered; failures / |dev|. */
  async failureRate(method: string, dev: Instruction[], label = 'initial method'): Promise<DevEvaluation> {
    const { responder } = this.config.llm;
    const outcomes = await Promise.all(
      dev.map(async (item): Promise<{ id: string; rule: string } | undefined> => {
        const evolved = await this.evolve(`${label} · evolve ${item.id}`, method, item.text);
        this.work.done++;
        if (!evolved.ok) {
          this.work.done++;
          return { id: item.id, rule: 'unusable-evolution' };
        }
        try {
          const request = {
            responder,
            instruction: evolved.instruction,
            failurePatterns: this.config.failurePatterns,
            ...(this.config.detector ? { detector: this.config.detector } : {}),
          };
          const { result: judged } = await this.ask(`${label} · answer ${item.id}`, (a, reask) =>
            a.answerAndDetect({ ...request, ...(reask ? { reask } : {}) }),
          );
          if (judged.ok === false) return { id: item.id, rule: 'unusable-response' };
          return judged.verdict.passed ? undefined : { id: item.id, rule: judged.verdict.rule };
        } finally {
          this.work.done++;
        }
      }),
    );
    const failedCases = outcomes.filter((o): o is { id: string; rule: string } => o !== undefined);
    return { failureRate: failedCases.length / dev.length, failures: failedCases.length, failedCases };
  }

  /** The lowest failure rate wins; it becomes the method only if it is at least as good as the current one. */
  chooseMethod(detail: StepDetail): CandidateOutcome | undefined {
    const before = this.state.current!;
    const best = detail.candidates
      .filter((c) => c.failureRate !== undefined)
      .reduce<CandidateOutcome | undefined>((a, c) => (a && a.failureRate! <= c.failureRate! ? a : c), undefined);
    const adopted = best && best.failureRate! <= before.failureRate ? best : undefined;
    if (adopted) {
      this.state.method = adopted.method!;
      this.state.methodStep = detail.step;
      this.state.current = { failureRate: adopted.failureRate!, failures: adopted.failures! };
    }
    this.state.stalled = adopted && adopted.failureRate! < before.failureRate ? 0 : this.state.stalled + 1;
    this.state.stepsDone = detail.step;
    this.state.steps.push(summarize(detail, before, this.state.current!, best, Boolean(adopted)));
    return adopted;
  }

  async saveVersion(step: number, origin: MethodVersion['origin'], devSize: number, sample?: number): Promise<void> {
    const current = this.state.current!;
    await this.store.saveMethodVersion({
      runId: this.input.runId,
      learningId: workflowInfo().firstExecutionRunId,
      step,
      method: this.state.method,
      failureRate: current.failureRate,
      failures: current.failures,
      devSize,
      origin,
      ...(sample !== undefined ? { sample } : {}),
      ...(step > 0 ? { candidates: this.state.steps[this.state.steps.length - 1].candidates } : {}),
    });
  }
}

const EXCERPT_CHARS = 160;

function summarize(
  detail: StepDetail,
  before: Evaluation,
  after: Evaluation,
  best: CandidateOutcome | undefined,
  adopted: boolean,
): StepSummary {
  return {
    step: detail.step,
    batch: detail.batch,
    rateBefore: before.failureRate,
    candidates: detail.candidates.map((c) => ({
      sample: c.sample,
      ...(c.failureRate !== undefined ? { failureRate: c.failureRate, failures: c.failures } : {}),
      ...(c.failure !== undefined ? { failure: c.failure } : {}),
      ...(c.method !== undefined ? { excerpt: c.method.replace(/\s+/g, ' ').slice(0, EXCERPT_CHARS) } : {}),
    })),
    ...(best ? { best: best.sample } : {}),
    adopted,
    rateAfter: after.failureRate,
  };
}

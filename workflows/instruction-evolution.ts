/**
 * One instruction's Evol-Instruct, round by round (WizardLM §3): mutate, respond, eliminate.
 * A failed evolution keeps its parent, which the next round evolves again.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  patched,
  setHandler,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { instructionStartReadOf, type InstructionReport, type SpendTag } from '../core/dataset';
import { budgetHoldOf, rateLimitWaitOf, UNUSABLE_OUTPUT_FAILURES } from '../core/llm-failures';
import { GENERAL_OPERATIONS } from '../core/operations';
import { planOperations } from '../core/plan';
import { costOf, type CallMode } from '../core/pricing';
import type { Operation } from '../core/operations';
import type { UnusableAnswer } from '../core/reask';
import { DEFAULT_QUALITY } from '../core/quality';
import type { InstructionEvolutionInput, InstructionStart, RunEvolutionSettings } from '../core/instruction-input';
import type { Lineage, LineageStep, RoleSpend, SeedCalls, StepVerdict, UnusableRule } from '../core/lineage';
import type { LlmConfig, LlmEndpoint, LlmRole } from '../core/endpoints';
import type { QualitySettings } from '../core/settings-schemas';
import { EvolEliminations, EvolRoundsDone, EvolStatus } from '../core/search-attributes';
import { stepSummary } from '../core/summaries';
import { addUsage, ZERO_USAGE, type Usage } from '../core/usage';
import type { Unusable } from '../activities/evolution';
import { llmActivities, localStoreActivities, storeActivities } from './activity-options';
import { instructionFinishedSignal, lineageQuery, pauseSignal, resumeSignal } from '../core/messages';
import { askUntilUsable } from './reask';
import { batchResultSignal } from '../core/batch-messages';
import { BatchOutcomes, batchCalls, type BatchCallContext, type RoundLlmCalls } from './batch-calls';

/**
 * Returns the whole lineage when started on its own; in a dataset run (`saveToStore`), where the lineage goes to the
 * run store, only the report it sends the dataset workflow.
 *
 * Its steps: begin, the rounds, then one of three endings:
 * - recorded: a dataset run's instruction (lean) is recorded in the run store and reported to its dataset workflow by
 *   one local activity, and returns the report;
 * - completed: on its own (or a dataset run's from before lean), its lineage is saved to the run store when asked,
 *   its dataset workflow (if any) is told by signal, and it returns the lineage;
 * - failed: on any error (a cancellation too, and a failure to record or save), what it did is kept for `evol retry`
 *   when in a run, its dataset workflow (if any) is told, and the error is thrown again.
 */
export async function instructionEvolution(input: InstructionEvolutionInput): Promise<Lineage | InstructionReport> {
  const run = new InstructionRun(input);
  setHandler(pauseSignal, () => run.pause());
  setHandler(resumeSignal, (signal) => run.resume(signal?.resumes));
  setHandler(lineageQuery, () => run.lineage);
  // Batch API mode: the run's batcher says when a call's answer is in (workflows/batch-calls.ts).
  setHandler(batchResultSignal, (word) => run.batchOutcomes.hear(word));
  // The rounds are awaited, and a failure is handled, here in the workflow function itself, not in helpers a call
  // deeper: the seed's answer (and, when a round fails, the other of its two calls) may still be running, and any
  // await added between a failed round and the failed ending could reorder their commands within a workflow task.
  try {
    const { llm, plan } = await run.begin();
    for (const step of run.rounds(llm, plan)) run.keepRound(await step);
    await run.addSeedAnswer();
    if (run.lean) return await run.finishRecorded();
    await run.saveCompleted();
  } catch (error) {
    run.markFailed();
    if (input.saveToStore) await keepFailedAttempt(run.lineage);
    await reportToParent(input, run.lineage, error);
    throw error;
  }
  return run.finishCompleted();
}

/** One instruction's evolution: its lineage so far, the settings it runs with, and whether it is paused. */
class InstructionRun {
  readonly lineage: Lineage;
  private paused = false;
  /** The input's; replaced by the run store's copy in a dataset run (see begin). */
  private settings: Partial<RunEvolutionSettings>;
  private beganLean = false;
  /** The seed file gave this seed an answer of its own (dataset runs). */
  private seedHasOutput = false;
  /** The seed's own answer, asked alongside the rounds when the run wants one (see rounds). */
  private seedAnswer?: Promise<{ response?: string; calls: SeedCalls }>;
  private readonly store = storeActivities();
  private readonly localStore = localStoreActivities();
  /**
   * Every LLM call waits here while the instruction is paused. No condition when it is not: each promise made in a
   * workflow costs the worker a stack trace (the SDK keeps one per promise), and a condition makes several.
   */
  private readonly whenRunning = async () => {
    if (this.paused) await condition(() => !this.paused);
  };
  private readonly cost = (endpoint: LlmEndpoint, usage: Usage, mode?: CallMode) =>
    costOf(usage, this.settings.prices?.[endpoint.model], mode);
  /** What the run's batcher said of this instruction's batch rows (Batch API mode). */
  readonly batchOutcomes = new BatchOutcomes();

  constructor(private readonly input: InstructionEvolutionInput) {
    this.settings = {
      llm: input.llm,
      operations: input.operations,
      prices: input.prices,
      quality: input.quality,
    };
    this.lineage = {
      runId: input.runId,
      instructionId: input.instructionId,
      seed: input.instruction ?? '',
      status: 'running',
      rounds: input.rounds,
      steps: [],
      final: input.instruction ?? '',
      usage: ZERO_USAGE,
      costUsd: 0,
    };
  }

  /** Begun, and to be finished, with one local activity each (a dataset run's instruction, see begin). */
  get lean(): boolean {
    return this.beganLean;
  }

  /** The dataset run's resume count at the last resume signal (-1: none yet). */
  private resumesSeen = -1;

  pause(): void {
    this.paused = true;
  }

  resume(resumes?: number): void {
    this.paused = false;
    if (resumes !== undefined) this.resumesSeen = Math.max(this.resumesSeen, resumes);
  }

  /**
   * A call was held by the run's budget, reached after the run's `resumes`-th resume: wait for a later resume,
   * unless one has already come (then the call is asked again at once).
   */
  readonly holdForBudget = (resumes: number): void => {
    if (this.resumesSeen <= resumes) this.paused = true;
  };

  /** A dataset run's call is counted against the run's budget as it ends, in its dataset workflow. */
  private readonly spendOf = (endpoint: LlmEndpoint): SpendTag | undefined =>
    this.input.parentWorkflowId && this.beganLean
      ? { runWorkflowId: this.input.parentWorkflowId, price: this.settings.prices?.[endpoint.model] }
      : undefined;

  /**
   * Step 1: round 0 becomes searchable; the seed, the run's settings and an earlier attempt's rounds are read; the
   * endpoints are checked and the rounds planned.
   */
  async begin(): Promise<{ llm: LlmConfig; plan: Operation[] }> {
    // Added after the first release: round 0 is searchable (EvolRoundsDone = 0) before round 1 ends.
    // Histories recorded before it have no such upsert, so it is patched in (test/replay.test.ts replays one).
    if (patched('initial-round-attributes')) {
      upsertSearchAttributes([
        { key: EvolRoundsDone, value: 0 },
        { key: EvolEliminations, value: 0 },
      ]);
    }
    // Added after the first release: a dataset run's instruction workflow reads its seed, the run's settings and any
    // earlier attempt in one local activity, and finishes (record + report) in another, so it needs three workflow
    // tasks fewer and its dataset workflow's history no longer carries the settings once per seed. Histories
    // recorded before it (one activity per read, the report sent as a signal) replay on the old path.
    this.beganLean = this.input.saveToStore === true && patched('lean-dataset-child');
    // Started by a dataset run's activity that already read them (its input says so, so replay takes the same path).
    if (this.beganLean && this.input.begun) this.take(this.input.begun);
    else if (this.beganLean) await this.readInOneLocalActivity();
    else await this.readWithActivities();
    const llm = this.settings.llm;
    if (!llm) {
      throw ApplicationFailure.nonRetryable(
        'instructionEvolution was started without `llm` outside a dataset run: pass the LLM endpoints in its input',
        'InvalidInput',
      );
    }
    return { llm, plan: planOrFail(this.settings.operations ?? GENERAL_OPERATIONS, this.input) };
  }

  private async readInOneLocalActivity(): Promise<void> {
    this.take(await this.localStore.beginInstruction(instructionStartReadOf(this.input)));
  }

  /** What a dataset run's instruction read from the run store: its seed, the run's settings, an earlier attempt. */
  private take(start: InstructionStart): void {
    const { input, lineage } = this;
    lineage.seed = lineage.final = input.instruction ?? start.text;
    this.seedHasOutput = start.hasOutput === true;
    if (start.run) this.settings = start.run;
    start.earlierSteps?.forEach((step) => this.keep(step));
  }

  private async readWithActivities(): Promise<void> {
    const { input, lineage } = this;
    if (input.instruction === undefined) {
      lineage.seed = lineage.final = (
        await this.store.loadSeed({ runId: input.runId, instructionId: input.instructionId })
      ).text;
    }
    if (input.resumeFrom) {
      const earlier = await this.store.loadFailedAttempt({
        ...input.resumeFrom,
        runId: input.runId,
        instructionId: input.instructionId,
      });
      earlier.steps.forEach((step) => this.keep(step));
    }
  }

  /**
   * Step 2: the rounds still to run, each given as the promise of its step, made once the step before is kept (a
   * round evolves the last instruction that passed). The seed's answer, when the run wants one, is asked alongside.
   */
  *rounds(llm: LlmConfig, plan: Operation[]): Generator<Promise<LineageStep>, void, undefined> {
    const { input, lineage, settings } = this;
    // Added after the first release: an unusable answer is asked again at once, a bounded number of times, and a
    // rewrite is gated before anything is spent on it; the response and the judge's verdict are asked at the same
    // time; a dataset run's seed without an answer of its own is answered, for the paper's final mix. Histories
    // recorded before it (three calls in a row, unusable answers retried with backoff) replay on the first path.
    const v2 = patched('evolution-v2');
    const calls = {
      llm,
      retry: input.llmRetry,
      whenRunning: this.whenRunning,
      cost: this.cost,
      quality: settings.quality ?? DEFAULT_QUALITY,
      spendOf: this.spendOf,
      holdForBudget: this.holdForBudget,
      // Batch API mode is for a dataset run's instructions: their calls' rows and answers go to its run store.
      ...(input.saveToStore
        ? { batch: { runId: input.runId, instructionId: input.instructionId, outcomes: this.batchOutcomes } }
        : {}),
    };
    if (v2 && input.saveToStore && settings.answerSeeds === true && !this.seedHasOutput) {
      this.seedAnswer = answerSeed(calls, lineage.seed);
      // Awaited after the rounds; a failure of it must not go unhandled while they run.
      this.seedAnswer.catch(() => undefined);
    }
    for (let round = lineage.steps.length + 1; round <= input.rounds; round++) {
      const context = { ...calls, round, operation: plan[round - 1], parent: lineage.final };
      yield v2 ? evolveRound(context) : evolveRoundV1(context);
    }
  }

  /** A round's step joins the lineage; the rounds done and the eliminations so far become searchable. */
  keepRound(step: LineageStep): void {
    this.keep(step);
    upsertSearchAttributes([
      { key: EvolRoundsDone, value: step.round },
      { key: EvolEliminations, value: this.lineage.steps.filter((s) => !s.verdict.passed).length },
    ]);
  }

  private keep(step: LineageStep): void {
    const { lineage } = this;
    lineage.steps.push(step);
    lineage.usage = addUsage(lineage.usage, step.usage);
    lineage.costUsd += step.costUsd;
    if (step.verdict.passed) lineage.final = step.instruction;
  }

  /** After the rounds: the seed's answer (if asked), its tokens and cost join the lineage. */
  async addSeedAnswer(): Promise<void> {
    if (!this.seedAnswer) return;
    const { lineage } = this;
    const answered = await this.seedAnswer;
    if (answered.response !== undefined) lineage.seedResponse = answered.response;
    lineage.seedCalls = answered.calls;
    lineage.usage = addUsage(lineage.usage, answered.calls.usage);
    lineage.costUsd += answered.calls.costUsd;
  }

  /** Ending 1, recorded (see instructionEvolution): one local activity records the lineage and sends the report. */
  async finishRecorded(): Promise<InstructionReport> {
    const { input, lineage } = this;
    lineage.status = 'completed';
    upsertSearchAttributes([{ key: EvolStatus, value: 'completed' }]);
    const report = reportOf(input, lineage);
    await this.localStore.finishInstruction({
      lineage,
      ...(input.parentWorkflowId ? { parentWorkflowId: input.parentWorkflowId, report } : {}),
    });
    return report;
  }

  /** Ending 2, completed, its first part: the lineage saved to the run store when asked (a failure here fails it). */
  async saveCompleted(): Promise<void> {
    this.lineage.status = 'completed';
    if (this.input.saveToStore) await this.store.saveLineage(this.lineage);
  }

  /** Ending 2, completed, once saved: searchable as completed, its dataset workflow (if any) told. */
  async finishCompleted(): Promise<Lineage> {
    upsertSearchAttributes([{ key: EvolStatus, value: 'completed' }]);
    await reportToParent(this.input, this.lineage);
    return this.lineage;
  }

  /** Ending 3, failed, its first part: marked and searchable as failed (the workflow function does the rest). */
  markFailed(): void {
    this.lineage.status = 'failed';
    upsertSearchAttributes([{ key: EvolStatus, value: 'failed' }]);
  }
}

/** What every call of an instruction needs: endpoints, retries, the pause, the price table. */
interface CallContext {
  llm: LlmConfig;
  retry: InstructionEvolutionInput['llmRetry'];
  whenRunning: () => Promise<void>;
  cost: (endpoint: LlmEndpoint, usage: Usage, mode?: CallMode) => number;
  /** Where a role whose endpoint has `batch: true` sends its calls as batch rows (dataset runs). */
  batch?: BatchCallContext;
  /** Whose budget a call counts against (dataset runs), and what to do when it is reached. */
  spendOf?: (endpoint: LlmEndpoint) => SpendTag | undefined;
  holdForBudget?: (resumes: number) => void;
}

/** The same calls, each tagged with whose budget it counts against. */
function withSpend(calls: RoundLlmCalls, spend: SpendTag | undefined): RoundLlmCalls {
  if (!spend) return calls;
  return {
    mutate: (input) => calls.mutate({ ...input, spend }),
    respond: (input) => calls.respond({ ...input, spend }),
    judgeEquality: (input) => calls.judgeEquality({ ...input, spend }),
  };
}

interface RoundContext extends CallContext {
  round: number;
  operation: Operation;
  /** The instruction this round evolves: the last one that passed. */
  parent: string;
}

/** The calls of one round: their tokens and cost, answers asked again, and attempts after transport faults. */
class RoundCalls {
  usage: Usage = ZERO_USAGE;
  costUsd = 0;
  reasks = 0;
  retries = 0;
  /** Tokens and cost by role, for the report. */
  byRole: Partial<Record<LlmRole, RoleSpend>> = {};

  constructor(
    private readonly context: CallContext & { quality: QualitySettings },
    /** What the activities of these calls are labelled with in Temporal UI, e.g. `round 2 · add-constraints`. */
    private readonly summaryPrefix: string,
    /** Names these calls among the instruction's, e.g. `r2` (a batch row's custom_id starts with it). */
    private readonly callKey: string,
  ) {}

  /** One call, asked again at once while its answer is unusable, at most `unusableRetries` times. */
  async ask<T extends { ok?: boolean; usage: Usage; attempt?: number }>(
    role: LlmRole,
    label: string,
    call: (activities: RoundLlmCalls, reask?: UnusableAnswer) => Promise<T | Unusable>,
  ): Promise<{ result: T | Unusable; asks: number }> {
    const { llm, retry, whenRunning, cost, quality, batch, spendOf, holdForBudget } = this.context;
    return askUntilUsable(quality.unusableRetries, async (reask, asks) => {
      if (asks > 1) this.reasks++;
      const summary = `${this.summaryPrefix} · ${label}${asks > 1 ? ` · ask ${asks}` : ''}`;
      const spend = spendOf?.(llm[role]);
      const online = withSpend(llmActivities(llm, { summary, retry }), spend);
      const activities =
        batch && llm[role].batch
          ? withSpend(batchCalls(batch, `${this.callKey}.${label}.${asks}`, online, summary), spend)
          : online;
      let result: T | Unusable;
      for (;;) {
        await whenRunning();
        try {
          result = await call(activities, reask);
          break;
        } catch (err) {
          const rateLimited = rateLimitWaitOf(err);
          if (rateLimited) {
            // The endpoint's rate limit has no room for a while: wait here, durably, then ask again.
            await sleep(rateLimited.waitMs);
            continue;
          }
          const budget = budgetHoldOf(err);
          if (!budget || !holdForBudget) throw err;
          // Held by the run's budget: wait (paused) for a resume that raises it, then ask again.
          holdForBudget(budget.resumes);
        }
      }
      // A batch row is priced at the provider's batch rates.
      const spent = cost(llm[role], result.usage, (result as { mode?: CallMode }).mode);
      this.usage = addUsage(this.usage, result.usage);
      this.costUsd += spent;
      const before = this.byRole[role] ?? { usage: ZERO_USAGE, costUsd: 0 };
      this.byRole[role] = { usage: addUsage(before.usage, result.usage), costUsd: before.costUsd + spent };
      this.retries += Math.max(0, (result.attempt ?? 1) - 1);
      return result;
    });
  }
}

function unusableVerdict(rule: UnusableRule, who: string, asks: number, unusable: UnusableAnswer): StepVerdict {
  const answer = unusable.answer.replace(/\s+/g, ' ').trim();
  const shown = answer ? `; the last answer began "${answer.slice(0, 120)}${answer.length > 120 ? '…' : ''}"` : '';
  return {
    passed: false,
    rule,
    evidence: `${who} gave no usable answer in ${asks} ask${asks > 1 ? 's' : ''}: ${unusable.reason}${shown}`,
  };
}

/**
 * One round (WizardLM §3): the evolver rewrites the parent, the gates check the rewrite, then the responder answers
 * it while the judge compares it with its parent; rules 2 and 3 on the answer, rule 1 on the verdict.
 */
async function evolveRound(context: RoundContext & { quality: QualitySettings }): Promise<LineageStep> {
  const { round, operation, parent, llm, quality } = context;
  const calls = new RoundCalls(context, stepSummary(round, operation.id), `r${round}`);
  const finish = (instruction: string, response: string, verdict: StepVerdict): LineageStep => ({
    round,
    operation: operation.id,
    parent,
    instruction,
    response,
    verdict,
    usage: calls.usage,
    costUsd: calls.costUsd,
    reasks: calls.reasks,
    retries: calls.retries,
    byRole: calls.byRole,
  });

  const evolved = await calls.ask('evolver', 'mutate', (a, reask) =>
    a.mutate({
      evolver: llm.evolver,
      operation,
      instruction: parent,
      onUnusable: 'return',
      gates: quality.gates,
      ...(quality.templateWordsOnRawAnswer ? { templateWordsOnRawAnswer: true } : {}),
      ...(reask ? { reask } : {}),
    }),
  );
  const rewrite = evolved.result;
  if (rewrite.ok === false) {
    return finish('', '', unusableVerdict('rewrite-unusable', 'the evolver', evolved.asks, rewrite.unusable));
  }
  if (rewrite.gate && !rewrite.gate.passed) return finish(rewrite.instruction, '', rewrite.gate);

  const [answered, judged] = await Promise.all([
    calls.ask('responder', 'respond', (a, reask) =>
      a.respond({
        responder: llm.responder,
        instruction: rewrite.instruction,
        onUnusable: 'return',
        ...(reask ? { reask } : {}),
      }),
    ),
    calls.ask('judge', 'judge', (a, reask) =>
      a.judgeEquality({ judge: llm.judge, parent, instruction: rewrite.instruction, ...(reask ? { reask } : {}) }),
    ),
  ]);
  const response = answered.result;
  const verdict = judged.result;
  if (response.ok === false) {
    return finish(
      rewrite.instruction,
      '',
      unusableVerdict('response-unusable', 'the responder', answered.asks, response.unusable),
    );
  }
  if (response.rules && !response.rules.passed) return finish(rewrite.instruction, response.response, response.rules);
  if (verdict.ok === false) {
    return finish(
      rewrite.instruction,
      response.response,
      unusableVerdict('judge-unusable', 'the judge', judged.asks, verdict.unusable),
    );
  }
  return finish(rewrite.instruction, response.response, verdict.verdict);
}

/**
 * The seed's own answer, for the paper's final mix (seeds and every round, answered by the same LLM): asked once,
 * durably, when the seed file gave none. Undefined when the responder kept giving nothing usable.
 */
async function answerSeed(
  context: CallContext & { quality: QualitySettings },
  seed: string,
): Promise<{ response?: string; calls: SeedCalls }> {
  const calls = new RoundCalls(context, 'seed', 'seed');
  const { result } = await calls.ask('responder', 'respond', (a, reask) =>
    a.respond({
      responder: context.llm.responder,
      instruction: seed,
      onUnusable: 'return',
      ...(reask ? { reask } : {}),
    }),
  );
  return {
    ...(result.ok !== false && (!result.rules || result.rules.passed) ? { response: result.response } : {}),
    calls: { usage: calls.usage, costUsd: calls.costUsd, reasks: calls.reasks, retries: calls.retries },
  };
}

/** A round as the first release ran it (mutate, respond, eliminate in a row; unusable answers retried with backoff). */
async function evolveRoundV1({ round, operation, parent, llm, retry, whenRunning, cost }: RoundContext) {
  const { mutate, respond, eliminate } = llmActivities(llm, { summary: stepSummary(round, operation.id), retry });
  try {
    await whenRunning();
    const evolved = await mutate({ evolver: llm.evolver, operation, instruction: parent });
    if (evolved.ok === false) throw new Error('unreachable: mutate returns unusable answers only when asked to');
    await whenRunning();
    const answered = await respond({ responder: llm.responder, instruction: evolved.instruction });
    if (answered.ok === false) throw new Error('unreachable: respond returns unusable answers only when asked to');
    await whenRunning();
    const judged = await eliminate({
      judge: llm.judge,
      parent,
      instruction: evolved.instruction,
      response: answered.response,
    });
    return {
      round,
      operation: operation.id,
      parent,
      instruction: evolved.instruction,
      response: answered.response,
      verdict: judged.verdict,
      usage: addUsage(addUsage(evolved.usage, answered.usage), judged.usage),
      costUsd: cost(llm.evolver, evolved.usage) + cost(llm.responder, answered.usage) + cost(llm.judge, judged.usage),
    };
  } catch (err) {
    if (!isUnusableOutput(err)) throw err;
    return unusableStep(round, operation.id, parent, err);
  }
}

/** The round plan; a method that leaves a round without operations fails the workflow, not its task, forever. */
function planOrFail(operations: readonly Operation[], input: InstructionEvolutionInput): Operation[] {
  try {
    return planOperations(operations, input.seed, input.instructionId, input.rounds);
  } catch (err) {
    throw ApplicationFailure.nonRetryable((err as Error).message, 'InvalidMethod');
  }
}

/** Keeps what a failed evolution did, even when it failed by cancellation, so `evol retry` can go on from it. */
async function keepFailedAttempt(lineage: Lineage): Promise<void> {
  try {
    await CancellationScope.nonCancellable(() => storeActivities().saveFailedAttempt(lineage));
  } catch {
    // Losing the attempt only means a retry starts from round 1.
  }
}

function isUnusableOutput(err: unknown): err is ActivityFailure {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof ApplicationFailure &&
    UNUSABLE_OUTPUT_FAILURES.includes(err.cause.type ?? '')
  );
}

/** An evolver or judge that kept answering with nothing usable: the evolution failed, the parent stays. */
function unusableStep(round: number, operation: string, parent: string, err: ActivityFailure): LineageStep {
  return {
    round,
    operation,
    parent,
    instruction: '',
    response: '',
    verdict: {
      passed: false,
      rule: 'unparseable-rewrite',
      evidence: `no usable answer after every retry: ${err.cause?.message ?? err.message}`,
    },
    usage: ZERO_USAGE,
    costUsd: 0,
  };
}

/** Tells the dataset workflow (if any) how this instruction ended; it may have closed, which is fine. */
async function reportToParent(input: InstructionEvolutionInput, lineage: Lineage, err?: unknown): Promise<void> {
  if (!input.parentWorkflowId) return;
  try {
    await getExternalWorkflowHandle(input.parentWorkflowId).signal(
      instructionFinishedSignal,
      reportOf(input, lineage, err),
    );
  } catch {
    // The dataset workflow is gone (cancelled or terminated): nobody is waiting for this report.
  }
}

/** What the dataset workflow needs to know of a finished instruction: counts, never text. */
function reportOf(input: InstructionEvolutionInput, lineage: Lineage, err?: unknown): InstructionReport {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return {
    instructionId: input.instructionId,
    status: err ? 'failed' : 'completed',
    rounds: lineage.steps.map((s) => ({
      round: s.round,
      passed: s.verdict.passed,
      rule: s.verdict.passed ? undefined : s.verdict.rule,
    })),
    usage: lineage.usage,
    costUsd: lineage.costUsd,
    ...callCounts(lineage),
    errorType: cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined,
    error: err ? (cause instanceof Error ? cause.message : String(cause)) : undefined,
  };
}

/** Re-asks and retries of a lineage's rounds, when there were any (reports from before carry neither). */
function callCounts(lineage: Lineage): { reasks?: number; retries?: number } {
  const reasks = lineage.steps.reduce((n, s) => n + (s.reasks ?? 0), lineage.seedCalls?.reasks ?? 0);
  const retries = lineage.steps.reduce((n, s) => n + (s.retries ?? 0), lineage.seedCalls?.retries ?? 0);
  return { ...(reasks ? { reasks } : {}), ...(retries ? { retries } : {}) };
}

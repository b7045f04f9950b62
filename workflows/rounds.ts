/**
 * One instruction's Evol-Instruct, round by round (WizardLM §3): mutate, respond, eliminate. A failed evolution
 * keeps its parent, which the next round evolves again. Shared by the two workflows that evolve an instruction: a
 * dataset run's (instruction-evolution.ts) and `evol evolve`'s (single-instruction.ts).
 */
import { ApplicationFailure, condition, sleep, upsertSearchAttributes } from '@temporalio/workflow';
import type { SpendTag } from '../core/dataset';
import type { LlmConfig, LlmEndpoint, LlmRetry, LlmRole } from '../core/endpoints';
import type { InstructionInput, RunEvolutionSettings } from '../core/instruction-input';
import type { Lineage, LineageStep, RoleSpend, SeedCalls, StepVerdict, UnusableRule } from '../core/lineage';
import { budgetHoldOf, rateLimitWaitOf, slotWaitOf } from '../core/llm-failures';
import type { Operation } from '../core/operations';
import { planOperations } from '../core/plan';
import { costOf, type CallMode } from '../core/pricing';
import type { UnusableAnswer } from '../core/reask';
import { EvolEliminations, EvolRoundsDone } from '../core/search-attributes';
import type { QualitySettings } from '../core/settings-schemas';
import { stepSummary } from '../core/summaries';
import { addUsage, ZERO_USAGE, type Usage } from '../core/usage';
import type { Unusable } from '../activities/evolution';
import { llmActivities } from './activity-options';
import { BatchOutcomes, batchCalls, type BatchCallContext, type RoundLlmCalls } from './batch-calls';
import { askUntilUsable } from './reask';
import { plural } from '../core/plural';

/** One instruction's evolution: its lineage so far, the settings it runs with, and whether it is paused. */
export class Evolution {
  readonly lineage: Lineage;
  private paused = false;
  /** The dataset run's resume count at the last resume signal (-1: none yet). */
  private resumesSeen = -1;
  /** The seed's own answer, asked alongside the rounds when the run wants one (see rounds). */
  private seedAnswer?: Promise<{ response?: string; calls: SeedCalls }>;
  /** What the run's batcher said of this instruction's batch rows (Batch API mode). */
  readonly batchOutcomes = new BatchOutcomes();
  /**
   * Every LLM call waits here while the instruction is paused. No condition when it is not: each promise made in a
   * workflow costs the worker a stack trace (the SDK keeps one per promise), and a condition makes several.
   */
  private readonly whenRunning = async () => {
    if (this.paused) await condition(() => !this.paused);
  };

  constructor(
    private readonly input: InstructionInput,
    seedText: string,
    private readonly settings: Omit<RunEvolutionSettings, 'answerSeeds'>,
  ) {
    this.lineage = {
      runId: input.runId,
      instructionId: input.instructionId,
      seed: seedText,
      status: 'running',
      rounds: input.rounds,
      steps: [],
      final: seedText,
      usage: ZERO_USAGE,
      costUsd: 0,
    };
    // Round 0 is searchable before round 1 ends.
    upsertSearchAttributes([
      { key: EvolRoundsDone, value: 0 },
      { key: EvolEliminations, value: 0 },
    ]);
  }

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
  private readonly holdForBudget = (resumes: number): void => {
    if (this.resumesSeen <= resumes) this.paused = true;
  };

  /** The round plan; a method that leaves a round without operations fails the workflow, not its task, forever. */
  private plan(): Operation[] {
    try {
      return planOperations(this.settings.operations, this.input.seed, this.input.instructionId, this.input.rounds);
    } catch (err) {
      throw ApplicationFailure.nonRetryable((err as Error).message, 'InvalidMethod');
    }
  }

  /** What every call of this instruction needs: endpoints, retries, the pause, prices, and, in a dataset run, more. */
  private calls(): CallContext {
    const { input, settings } = this;
    const dataset = input.kind === 'dataset' ? input : undefined;
    return {
      llm: settings.llm,
      retry: dataset?.llmRetry,
      whenRunning: this.whenRunning,
      cost: (endpoint, usage, mode) => costOf(usage, settings.prices[endpoint.model], mode),
      quality: settings.quality,
      ...(dataset
        ? {
            // A dataset run's call counts against the run's budget as it ends, in its dataset workflow.
            spendOf: (endpoint: LlmEndpoint) => ({
              runWorkflowId: dataset.parentWorkflowId,
              price: settings.prices[endpoint.model],
            }),
            holdForBudget: this.holdForBudget,
            // Batch API mode is for a dataset run's instructions: their rows and answers go to its run store.
            batch: { runId: dataset.runId, instructionId: dataset.instructionId, outcomes: this.batchOutcomes },
          }
        : {}),
    };
  }

  /** The steps of an earlier, failed attempt (`evol retry`): the rounds go on after them. */
  goOnFrom(steps: readonly LineageStep[]): void {
    steps.forEach((step) => this.keep(step));
  }

  /**
   * The seed's own answer, for the paper's final mix: asked alongside the rounds (and awaited after them by
   * addSeedAnswer).
   */
  answerSeedAlongside(): void {
    this.seedAnswer = answerSeed(this.calls(), this.lineage.seed);
    // Awaited after the rounds; a failure of it must not go unhandled while they run.
    this.seedAnswer.catch(() => undefined);
  }

  /**
   * The rounds still to run, each given as the promise of its step, made once the step before is kept (a round
   * evolves the last instruction that passed).
   */
  *rounds(): Generator<Promise<LineageStep>, void, undefined> {
    const plan = this.plan();
    const calls = this.calls();
    for (let round = this.lineage.steps.length + 1; round <= this.input.rounds; round++) {
      yield evolveRound({ ...calls, round, operation: plan[round - 1], parent: this.lineage.final });
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
}

/** What every call of an instruction needs: endpoints, retries, the pause, the price table, the quality settings. */
interface CallContext {
  llm: LlmConfig;
  retry: LlmRetry | undefined;
  whenRunning: () => Promise<void>;
  cost: (endpoint: LlmEndpoint, usage: Usage, mode?: CallMode) => number;
  quality: QualitySettings;
  /** Where a role whose endpoint has `batch: true` sends its calls as batch rows (dataset runs). */
  batch?: BatchCallContext;
  /** Whose budget a call counts against (dataset runs), and what to do when it is reached. */
  spendOf?: (endpoint: LlmEndpoint) => SpendTag;
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
  /** Calls answered, whose tokens are in `usage`. */
  answered = 0;
  /** Tokens and cost by role, for the report. */
  byRole: Partial<Record<LlmRole, RoleSpend>> = {};

  constructor(
    private readonly context: CallContext,
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
          const held = rateLimitWaitOf(err) ?? slotWaitOf(err);
          if (held) {
            // The endpoint's rate limit, or the calls before this one, leave it no room for a while: wait here,
            // durably, then ask again.
            await sleep(held.waitMs);
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
      this.answered++;
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
    evidence: `${who} gave no usable answer in ${plural(asks, 'ask')}: ${unusable.reason}${shown}`,
  };
}

/**
 * One round (WizardLM §3): the evolver rewrites the parent, the gates check the rewrite, then the responder answers
 * it while the judge compares it with its parent; rules 2 and 3 on the answer, rule 1 and the judge's task rules on
 * the verdict.
 */
async function evolveRound(context: RoundContext): Promise<LineageStep> {
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
    calls: calls.answered,
    byRole: calls.byRole,
  });

  const evolved = await calls.ask('evolver', 'mutate', (a, reask) =>
    a.mutate({
      evolver: llm.evolver,
      operation,
      instruction: parent,
      gates: quality.gates,
      ...(quality.templateWordsOnRawAnswer ? { templateWordsOnRawAnswer: true } : {}),
      ...(reask ? { reask } : {}),
    }),
  );
  const rewrite = evolved.result;
  if (rewrite.ok === false) {
    return finish('', '', unusableVerdict('rewrite-unusable', 'the evolver', evolved.asks, rewrite.unusable));
  }
  if (!rewrite.gate.passed) return finish(rewrite.instruction, '', rewrite.gate);

  const [answered, judged] = await Promise.all([
    calls.ask('responder', 'respond', (a, reask) =>
      a.respond({ responder: llm.responder, instruction: rewrite.instruction, ...(reask ? { reask } : {}) }),
    ),
    calls.ask('judge', 'judge', (a, reask) =>
      a.judgeEquality({
        judge: llm.judge,
        parent,
        instruction: rewrite.instruction,
        operationKind: operation.kind,
        gates: quality.gates,
        ...(reask ? { reask } : {}),
      }),
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
  if (!response.rules.passed) return finish(rewrite.instruction, response.response, response.rules);
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
async function answerSeed(context: CallContext, seed: string): Promise<{ response?: string; calls: SeedCalls }> {
  const calls = new RoundCalls(context, 'seed', 'seed');
  const { result } = await calls.ask('responder', 'respond', (a, reask) =>
    a.respond({ responder: context.llm.responder, instruction: seed, ...(reask ? { reask } : {}) }),
  );
  return {
    ...(result.ok !== false && result.rules.passed ? { response: result.response } : {}),
    calls: {
      usage: calls.usage,
      costUsd: calls.costUsd,
      reasks: calls.reasks,
      retries: calls.retries,
      calls: calls.answered,
    },
  };
}

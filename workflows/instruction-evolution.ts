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
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { InstructionReport } from '../core/dataset';
import { UNUSABLE_OUTPUT_FAILURES } from '../core/llm-failures';
import { GENERAL_OPERATIONS } from '../core/operations';
import { planOperations } from '../core/plan';
import { costOf } from '../core/pricing';
import type {
  InstructionEvolutionInput,
  Lineage,
  LineageStep,
  LlmEndpoint,
  RunEvolutionSettings,
} from '../core/schemas';
import { EvolEliminations, EvolRoundsDone, EvolStatus } from '../core/search-attributes';
import { stepSummary } from '../core/summaries';
import { addUsage, ZERO_USAGE, type Usage } from '../core/usage';
import { llmActivities, localStoreActivities, storeActivities } from './activity-options';
import { instructionFinishedSignal, lineageQuery, pauseSignal, resumeSignal } from './messages';

/**
 * Returns the whole lineage when started on its own; in a dataset run (`saveToStore`), where the lineage goes to the
 * run store, only the report it sends the dataset workflow.
 */
export async function instructionEvolution(input: InstructionEvolutionInput): Promise<Lineage | InstructionReport> {
  const store = storeActivities();
  const localStore = localStoreActivities();
  let paused = false;
  setHandler(pauseSignal, () => void (paused = true));
  setHandler(resumeSignal, () => void (paused = false));
  const whenRunning = () => condition(() => !paused);
  // Replaced by the run store's copy in a dataset run (see below).
  let settings: Partial<RunEvolutionSettings> = { llm: input.llm, operations: input.operations, prices: input.prices };
  const cost = (endpoint: LlmEndpoint, usage: Usage) => costOf(usage, settings.prices?.[endpoint.model]);

  const lineage: Lineage = {
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
  setHandler(lineageQuery, () => lineage);
  const keep = (step: LineageStep) => {
    lineage.steps.push(step);
    lineage.usage = addUsage(lineage.usage, step.usage);
    lineage.costUsd += step.costUsd;
    if (step.verdict.passed) lineage.final = step.instruction;
  };
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
  // tasks fewer and its dataset workflow's history no longer carries the settings once per seed. Histories recorded
  // before it (one activity per read, the report sent as a signal) replay on the old path.
  const lean = input.saveToStore === true && patched('lean-dataset-child');

  try {
    if (lean) {
      const start = await localStore.beginInstruction({
        runId: input.runId,
        instructionId: input.instructionId,
        withRunSettings: input.llm === undefined,
        ...(input.resumeFrom ? { resumeFrom: input.resumeFrom } : {}),
      });
      lineage.seed = lineage.final = input.instruction ?? start.text;
      if (start.run) settings = start.run;
      start.earlierSteps?.forEach(keep);
    } else {
      if (input.instruction === undefined) {
        lineage.seed = lineage.final = (
          await store.loadSeed({ runId: input.runId, instructionId: input.instructionId })
        ).text;
      }
      if (input.resumeFrom) {
        const earlier = await store.loadFailedAttempt({
          ...input.resumeFrom,
          runId: input.runId,
          instructionId: input.instructionId,
        });
        earlier.steps.forEach(keep);
      }
    }
    const llm = settings.llm;
    if (!llm) {
      throw ApplicationFailure.nonRetryable(
        'instructionEvolution was started without `llm` outside a dataset run: pass the LLM endpoints in its input',
        'InvalidInput',
      );
    }
    const plan = planOperations(
      settings.operations ?? GENERAL_OPERATIONS,
      input.seed,
      input.instructionId,
      input.rounds,
    );

    for (let round = lineage.steps.length + 1; round <= input.rounds; round++) {
      const operation = plan[round - 1];
      const { mutate, respond, eliminate } = llmActivities(llm, {
        summary: stepSummary(round, operation.id),
        retry: input.llmRetry,
      });
      const parent = lineage.final;
      let step: LineageStep;
      try {
        await whenRunning();
        const evolved = await mutate({ evolver: llm.evolver, operation, instruction: parent });
        await whenRunning();
        const answered = await respond({ responder: llm.responder, instruction: evolved.instruction });
        await whenRunning();
        const judged = await eliminate({
          judge: llm.judge,
          parent,
          instruction: evolved.instruction,
          response: answered.response,
        });
        step = {
          round,
          operation: operation.id,
          parent,
          instruction: evolved.instruction,
          response: answered.response,
          verdict: judged.verdict,
          usage: addUsage(addUsage(evolved.usage, answered.usage), judged.usage),
          costUsd:
            cost(llm.evolver, evolved.usage) + cost(llm.responder, answered.usage) + cost(llm.judge, judged.usage),
        };
      } catch (err) {
        if (!isUnusableOutput(err)) throw err;
        step = unusableStep(round, operation.id, parent, err);
      }
      keep(step);
      upsertSearchAttributes([
        { key: EvolRoundsDone, value: round },
        { key: EvolEliminations, value: lineage.steps.filter((s) => !s.verdict.passed).length },
      ]);
    }

    lineage.status = 'completed';
    if (lean) {
      upsertSearchAttributes([{ key: EvolStatus, value: 'completed' }]);
      const report = reportOf(input, lineage);
      await localStore.finishInstruction({
        lineage,
        ...(input.parentWorkflowId ? { parentWorkflowId: input.parentWorkflowId, report } : {}),
      });
      return report;
    }
    if (input.saveToStore) await store.saveLineage(lineage);
  } catch (err) {
    lineage.status = 'failed';
    upsertSearchAttributes([{ key: EvolStatus, value: 'failed' }]);
    if (input.saveToStore) await keepFailedAttempt(lineage);
    await reportToParent(input, lineage, err);
    throw err;
  }

  upsertSearchAttributes([{ key: EvolStatus, value: 'completed' }]);
  await reportToParent(input, lineage);
  return lineage;
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
    errorType: cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined,
    error: err ? (cause instanceof Error ? cause.message : String(cause)) : undefined,
  };
}

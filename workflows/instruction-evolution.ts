/**
 * An instruction of a dataset run: started by its dataset workflow (through the activity that reads its seed and the
 * run's settings into its input), it evolves round by round (workflows/rounds.ts), then records its lineage in the
 * run store and reports to its dataset workflow, both in one local activity. If anything fails, it keeps what it did
 * for `evol retry`, reports the failure, and fails.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  getExternalWorkflowHandle,
  setHandler,
  setWorkflowOptions,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { InstructionReport } from '../core/dataset';
import type { DatasetInstructionInput } from '../core/instruction-input';
import type { Lineage } from '../core/lineage';
import { batchResultSignal } from '../core/batch-messages';
import { instructionFinishedSignal, lineageQuery, pauseSignal, resumeSignal } from '../core/messages';
import { EvolStatus } from '../core/search-attributes';
import { localStoreActivities, storeActivities } from './activity-options';
import { Evolution } from './rounds';

export async function instructionEvolution(input: DatasetInstructionInput): Promise<InstructionReport> {
  const { begun } = input;
  const evolution = new Evolution(input, begun.text, begun.run);
  setHandler(pauseSignal, () => evolution.pause());
  setHandler(resumeSignal, (signal) => evolution.resume(signal?.resumes));
  setHandler(lineageQuery, () => evolution.lineage);
  // Batch API mode: the run's batcher says when a call's answer is in (workflows/batch-calls.ts).
  setHandler(batchResultSignal, (word) => evolution.batchOutcomes.hear(word));
  // The rounds are awaited, and a failure is handled, here in the workflow function itself, not in helpers a call
  // deeper: the seed's answer (and, when a round fails, the other of its two calls) may still be running, and any
  // await added between a failed round and the failed ending could reorder their commands within a workflow task.
  try {
    evolution.goOnFrom(begun.earlierSteps ?? []);
    if (begun.run.answerSeeds && !begun.hasOutput) evolution.answerSeedAlongside();
    for (const step of evolution.rounds()) evolution.keepRound(await step);
    await evolution.addSeedAnswer();
    return await record(input, evolution.lineage);
  } catch (error) {
    evolution.lineage.status = 'failed';
    upsertSearchAttributes([{ key: EvolStatus, value: 'failed' }]);
    await keepFailedAttempt(evolution.lineage);
    await reportFailure(input, evolution.lineage, error);
    throw error;
  }
}
// Short-lived and many: each stays on the build it started on (see docs/versioning.md).
setWorkflowOptions({ versioningBehavior: 'PINNED' }, instructionEvolution);

/** The lineage goes to the run store once, and the report to the dataset workflow, in one local activity. */
async function record(input: DatasetInstructionInput, lineage: Lineage): Promise<InstructionReport> {
  lineage.status = 'completed';
  upsertSearchAttributes([{ key: EvolStatus, value: 'completed' }]);
  const report = reportOf(input, lineage);
  await localStoreActivities().finishInstruction({ lineage, parentWorkflowId: input.parentWorkflowId, report });
  return report;
}

/** Keeps what a failed evolution did, even when it failed by cancellation, so `evol retry` can go on from it. */
async function keepFailedAttempt(lineage: Lineage): Promise<void> {
  try {
    await CancellationScope.nonCancellable(() => storeActivities().saveFailedAttempt(lineage));
  } catch {
    // Losing the attempt only means a retry starts from round 1.
  }
}

/** Tells the dataset workflow how this instruction failed; it may have closed, which is fine. */
async function reportFailure(input: DatasetInstructionInput, lineage: Lineage, err: unknown): Promise<void> {
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
function reportOf(input: DatasetInstructionInput, lineage: Lineage, err?: unknown): InstructionReport {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  const reasks = lineage.steps.reduce((n, s) => n + (s.reasks ?? 0), lineage.seedCalls?.reasks ?? 0);
  const retries = lineage.steps.reduce((n, s) => n + (s.retries ?? 0), lineage.seedCalls?.retries ?? 0);
  const calls = lineage.steps.reduce((n, s) => n + (s.calls ?? 0), lineage.seedCalls?.calls ?? 0);
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
    ...(reasks ? { reasks } : {}),
    ...(retries ? { retries } : {}),
    calls,
    errorType: cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined,
    error: err ? (cause instanceof Error ? cause.message : String(cause)) : undefined,
  };
}

/** Activities that read seeds from and write records to the run store. */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { InstructionReport } from '../core/dataset';
import { datasetSettingsOf } from '../core/run';
import type { InstructionStart } from '../core/instruction-input';
import type { Lineage } from '../core/lineage';
import type { RunStore } from '../store/types';
import { instructionFinishedSignal } from '../core/messages';

/**
 * Everything an instruction of a dataset run reads before its first round: the seed's text, the run's settings,
 * and with `resumeFrom` the steps of an earlier failed attempt (all of them, or those before `fromRound`).
 */
export async function readInstructionStart(
  store: RunStore,
  runId: string,
  instructionId: string,
  resumeFrom?: { fromRound?: number },
): Promise<InstructionStart> {
  const seed = await store.seed(runId, instructionId);
  const config = datasetSettingsOf(await store.readMeta(runId));
  return {
    text: seed.text,
    hasOutput: Boolean(seed.output?.trim()),
    run: {
      llm: config.llm,
      operations: config.operations,
      prices: config.prices,
      quality: config.quality,
      answerSeeds: config.answerSeeds,
    },
    ...(resumeFrom ? { earlierSteps: await earlierSteps(store, runId, instructionId, resumeFrom.fromRound) } : {}),
  };
}

/** The steps a failed attempt finished: all of them, or those before round `fromRound`. */
async function earlierSteps(store: RunStore, runId: string, instructionId: string, fromRound?: number) {
  const steps = (await store.failedAttempt(runId, instructionId))?.steps ?? [];
  return fromRound === undefined ? steps : steps.filter((s) => s.round < fromRound);
}

export function createRunStoreActivities(store: RunStore) {
  return {
    /**
     * A page of seed ids in input order, and which of them to skip: those already recorded (a resumed
     * run skips them) and, with `onlyFailed`, those without a failed attempt.
     */
    async readSeedPage({
      runId,
      offset,
      limit,
      onlyFailed,
    }: {
      runId: string;
      offset: number;
      limit: number;
      onlyFailed?: boolean;
    }) {
      const ids = await store.seedIds(runId, offset, limit);
      const skip = await Promise.all(
        ids.map(
          async (id) =>
            (await store.hasRecord(runId, id)) || (onlyFailed === true && !(await store.failedAttempt(runId, id))),
        ),
      );
      return { ids, done: ids.filter((_, i) => skip[i]) };
    },

    /** Whether an instruction already has its record. */
    async readSeedRecorded({ runId, instructionId }: { runId: string; instructionId: string }) {
      return { recorded: await store.hasRecord(runId, instructionId) };
    },

    /**
     * Writes the finished lineage once, then tells the dataset workflow: a local activity, so the instruction
     * workflow completes in the same workflow task. A retry finds the record written and sends the report again,
     * which the dataset workflow ignores; a dataset workflow that is gone needs no report.
     */
    async finishInstruction({
      lineage,
      parentWorkflowId,
      report,
    }: {
      lineage: Lineage;
      parentWorkflowId: string;
      report: InstructionReport;
    }): Promise<'written' | 'exists'> {
      const written = await store.saveRecord(lineage);
      try {
        await Context.current().client.workflow.getHandle(parentWorkflowId).signal(instructionFinishedSignal, report);
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
      return written;
    },

    /** Keeps a failed evolution's lineage so `evol retry` can go on from its last good round. */
    async saveFailedAttempt(lineage: Lineage): Promise<void> {
      await store.saveFailedAttempt(lineage);
    },
  };
}

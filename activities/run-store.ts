/** Activities that read seeds from and write records to the run store. */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { InstructionReport, InstructionStartRead } from '../core/dataset';
import { datasetSettingsOf } from '../core/run';
import type { InstructionStart } from '../core/instruction-input';
import type { Lineage } from '../core/lineage';
import type { RunStore } from '../store/types';
import { instructionFinishedSignal } from '../core/messages';

/**
 * Everything an instruction workflow of a dataset run reads before its first round: the seed's text, and when asked
 * the run's settings and the steps of an earlier failed attempt (all of them, or those before `fromRound`).
 */
export async function readInstructionStart(
  store: RunStore,
  { runId, instructionId, withRunSettings, resumeFrom }: InstructionStartRead,
): Promise<InstructionStart> {
  const seed = await store.seed(runId, instructionId);
  const start: InstructionStart = { text: seed.text, hasOutput: Boolean(seed.output?.trim()) };
  if (withRunSettings) {
    const config = datasetSettingsOf(await store.readMeta(runId));
    start.run = {
      llm: config.llm,
      operations: config.operations,
      prices: config.prices ?? {},
      ...(config.quality ? { quality: config.quality } : {}),
      ...(config.answerSeeds !== undefined ? { answerSeeds: config.answerSeeds } : {}),
    };
  }
  if (resumeFrom) start.earlierSteps = await earlierSteps(store, runId, instructionId, resumeFrom.fromRound);
  return start;
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
     * The text of one seed: workflows carry ids, the store holds the data. Instruction workflows started before
     * patched('lean-dataset-child') call it; newer ones read their seed in beginInstruction.
     */
    async loadSeed({ runId, instructionId }: { runId: string; instructionId: string }): Promise<{ text: string }> {
      return { text: (await store.seed(runId, instructionId)).text };
    },

    /**
     * Everything an instruction workflow of a dataset run reads before its first round, in one call (it runs as a
     * local activity, inside the workflow task that then schedules the first LLM call), when the activity that
     * started it did not read it already (see startInstruction).
     */
    async beginInstruction(read: InstructionStartRead): Promise<InstructionStart> {
      return readInstructionStart(store, read);
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
      parentWorkflowId?: string;
      report?: InstructionReport;
    }): Promise<'written' | 'exists'> {
      const written = await store.saveRecord(lineage);
      if (parentWorkflowId && report) {
        try {
          await Context.current().client.workflow.getHandle(parentWorkflowId).signal(instructionFinishedSignal, report);
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
      }
      return written;
    },

    /** Keeps a failed evolution's lineage so `evol retry` can go on from its last good round. */
    async saveFailedAttempt(lineage: Lineage): Promise<void> {
      await store.saveFailedAttempt(lineage);
    },

    /** The steps an earlier, failed attempt finished: all of them, or those before round `fromRound`. */
    async loadFailedAttempt({
      runId,
      instructionId,
      fromRound,
    }: {
      runId: string;
      instructionId: string;
      fromRound?: number;
    }) {
      return { steps: await earlierSteps(store, runId, instructionId, fromRound) };
    },

    /**
     * Writes the finished lineage once; a retry after a crash finds it written and changes nothing. Instruction
     * workflows started before patched('lean-dataset-child') call it; newer ones finish in finishInstruction.
     */
    async saveLineage(lineage: Lineage): Promise<'written' | 'exists'> {
      return store.saveRecord(lineage);
    },
  };
}

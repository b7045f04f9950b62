/** Activities that read seeds from and write records to the run store. */
import type { Lineage } from '../core/schemas';
import type { RunStore } from '../store/types';

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

    /** The text of one seed: workflows carry ids, the store holds the data. */
    async loadSeed({ runId, instructionId }: { runId: string; instructionId: string }): Promise<{ text: string }> {
      return { text: (await store.seed(runId, instructionId)).text };
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
      const attempt = await store.failedAttempt(runId, instructionId);
      const steps = attempt?.steps ?? [];
      return { steps: fromRound === undefined ? steps : steps.filter((s) => s.round < fromRound) };
    },

    /** Writes the finished lineage once; a retry after a crash finds it written and changes nothing. */
    async saveLineage(lineage: Lineage): Promise<'written' | 'exists'> {
      return store.saveRecord(lineage);
    },
  };
}

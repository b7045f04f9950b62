/** Activities that read seeds from and write records to the run store. */
import type { Lineage } from '../core/schemas';
import type { RunStore } from '../store/types';

export function createRunStoreActivities(store: RunStore) {
  return {
    /** A page of seed ids in input order, and which of them already have a record (a resumed run skips those). */
    async readSeedPage({ runId, offset, limit }: { runId: string; offset: number; limit: number }) {
      const ids = await store.seedIds(runId, offset, limit);
      const recorded = await Promise.all(ids.map((id) => store.hasRecord(runId, id)));
      return { ids, done: ids.filter((_, i) => recorded[i]) };
    },

    /** Whether an instruction already has its record. */
    async readSeedRecorded({ runId, instructionId }: { runId: string; instructionId: string }) {
      return { recorded: await store.hasRecord(runId, instructionId) };
    },

    /** The text of one seed: workflows carry ids, the store holds the data. */
    async loadSeed({ runId, instructionId }: { runId: string; instructionId: string }): Promise<{ text: string }> {
      return { text: (await store.seed(runId, instructionId)).text };
    },

    /** Writes the finished lineage once; a retry after a crash finds it written and changes nothing. */
    async saveLineage(lineage: Lineage): Promise<'written' | 'exists'> {
      return store.saveRecord(lineage);
    },
  };
}

/**
 * Every side effect EvolForge performs, built by one factory from injected dependencies so tests
 * hand in their own LLM endpoints and stores without module mocking.
 */
import type { RunStore } from '../store/types';
import { createAutoEvolActivities } from './auto-evol';
import { createBatchActivities } from './batch';
import { createEvolutionActivities } from './evolution';
import { createInstructionStartActivities } from './instruction-starts';
import { LlmGateway } from './llm';
import { createRunStoreActivities } from './run-store';
import { createScoringActivities } from './scoring';
import { guardStore } from './store-guard';

export interface ActivityDeps {
  llm: LlmGateway;
  store: RunStore;
}

export function createActivities(deps: ActivityDeps) {
  // A store whose settings are wrong pauses the run it serves, saying what to fix (store-guard.ts).
  const store = guardStore(deps.store);
  return {
    ...createEvolutionActivities(deps.llm),
    ...createRunStoreActivities(store),
    ...createInstructionStartActivities(store),
    ...createAutoEvolActivities(deps.llm, store),
    ...createScoringActivities(deps.llm, store),
    ...createBatchActivities(deps.llm, store),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export { LlmGateway } from './llm';

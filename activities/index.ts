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

export interface ActivityDeps {
  llm: LlmGateway;
  store: RunStore;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createEvolutionActivities(deps.llm),
    ...createRunStoreActivities(deps.store),
    ...createInstructionStartActivities(deps.store),
    ...createAutoEvolActivities(deps.llm, deps.store),
    ...createScoringActivities(deps.llm, deps.store),
    ...createBatchActivities(deps.llm, deps.store),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export { LlmGateway } from './llm';

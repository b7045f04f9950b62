/**
 * Every side effect EvolForge performs, built by one factory from injected dependencies so tests
 * hand in their own LLM endpoints and stores without module mocking.
 */
import { createEvolutionActivities } from './evolution';
import { LlmGateway } from './llm';

export interface ActivityDeps {
  llm: LlmGateway;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createEvolutionActivities(deps.llm),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export { LlmGateway } from './llm';

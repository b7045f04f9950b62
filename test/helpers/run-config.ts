/** Run settings for tests, with nothing of Temporal imported: the unit tier uses them too. */
import { resolveLlmConfig } from '../../core/config';
import type { DatasetRunConfig } from '../../core/dataset';
import { GENERAL_OPERATIONS } from '../../core/operations';
import type { LlmConfig } from '../../core/endpoints';

/** A dataset run's settings for tests: two rounds of the general method, eight at once. */
export function testRunConfig(
  llm: LlmConfig = resolveLlmConfig({ env: {}, mode: 'sim' }).llm,
  overrides: Partial<DatasetRunConfig> = {},
): DatasetRunConfig {
  return {
    rounds: 2,
    seed: 1,
    llm,
    method: 'general',
    operations: [...GENERAL_OPERATIONS],
    concurrency: 8,
    budget: {},
    prices: {},
    pageSize: 50,
    ...overrides,
  };
}

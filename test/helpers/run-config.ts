/** Run settings for tests, with nothing of Temporal imported: the unit tier uses them too. */
import { resolveLlmConfig } from '../../core/config';
import { GENERAL_OPERATIONS } from '../../core/operations';
import type { LlmConfig } from '../../core/endpoints';
import { DatasetRunConfigSchema, type DatasetRunConfig } from '../../core/settings-schemas';

/**
 * A dataset run's settings for tests: two rounds of the general method, eight at once, seed ids read 50 at a time,
 * and no answers asked for the seeds (tests that count calls count rounds), completed by the schema's defaults.
 */
export function testRunConfig(
  llm: LlmConfig = resolveLlmConfig({ env: {}, mode: 'sim' }).llm,
  overrides: Partial<DatasetRunConfig> = {},
): DatasetRunConfig {
  return DatasetRunConfigSchema.parse({
    rounds: 2,
    seed: 1,
    llm,
    method: 'general',
    operations: [...GENERAL_OPERATIONS],
    concurrency: 8,
    pageSize: 50,
    answerSeeds: false,
    ...overrides,
  });
}

/**
 * A dataset run's settings, resolved in one pure function from what `evol run` read (the LLM endpoints, the method,
 * the config file, the price table, the command's options): the settings to store, and the notices to print before
 * the run starts. What has a default gets it from core/settings-schemas.ts when the run is created.
 */
import { LLM_ROLES, type LlmConfig, type LlmEndpoint } from './endpoints';
import { resolveBatchSettings, SIMULATED_BATCH_SETTINGS, usesBatch } from './batch';
import { describeSampling, resolveQuality, type ConfigFile } from './config';
import type { Operation } from './operations';
import { unscheduledRound } from './plan';
import type { BatchSettings, DatasetRunConfigInput, PriceTable } from './settings-schemas';
import { formatDuration } from './summaries';
import { UserError } from './validation';
import { plural } from './plural';

/** The evolver sampling a method file (or a learned method) carries. */
export interface MethodSampling {
  temperature?: number;
  topP?: number;
  maxTokens?: number;
}

export interface DatasetRunRequest {
  /** The endpoints as resolved from the environment and the config file, and what to say of them. */
  llm: LlmConfig;
  simulated: boolean;
  llmDescription: string;
  method: { name: string; operations: Operation[]; sampling?: MethodSampling };
  file?: ConfigFile;
  prices: PriceTable;
  rounds?: number;
  seed?: number;
  concurrency?: number;
  maxTokens?: number;
  maxCost?: number;
  rpm?: number;
  tpm?: number;
  /** `--batch`: every role through the Batch API. */
  batch?: boolean;
  unusableRetries?: number;
  /** `--no-seed-answers` gives false. */
  seedAnswers?: boolean;
}

/** The method's evolver sampling, where the config file sets none of its own. */
export function withMethodSampling(
  llm: LlmConfig,
  sampling: MethodSampling | undefined,
  file: ConfigFile | undefined,
): { llm: LlmConfig; applied?: string } {
  if (!sampling) return { llm };
  const own = { ...file?.llm?.default, ...file?.llm?.evolver };
  const taken: Partial<LlmEndpoint> = {};
  if (sampling.temperature !== undefined && own.temperature === undefined) taken.temperature = sampling.temperature;
  if (sampling.topP !== undefined && own.topP === undefined) taken.topP = sampling.topP;
  if (sampling.maxTokens !== undefined && own.maxTokens === undefined) taken.maxTokens = sampling.maxTokens;
  const applied = Object.entries(taken)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return { llm: { ...llm, evolver: { ...llm.evolver, ...taken } }, ...(applied ? { applied } : {}) };
}

/** --rpm and --tpm on every role's endpoint (roles on one endpoint share one limit; see activities/call-gate). */
function withRateLimits(llm: LlmConfig, rpm: number | undefined, tpm: number | undefined): LlmConfig {
  if (!rpm && !tpm) return llm;
  const limits = { ...(rpm ? { rpm } : {}), ...(tpm ? { tpm } : {}) };
  return Object.fromEntries(Object.entries(llm).map(([role, e]) => [role, { ...e, ...limits }])) as LlmConfig;
}

/** One paragraph on what Batch API mode will do. */
function describeBatchMode(llm: LlmConfig, settings: BatchSettings): string {
  const s = resolveBatchSettings(settings);
  const roles = LLM_ROLES.filter((role) => llm[role].batch);
  return [
    `Batch API: the ${roles.join(', ')} calls go in batches of up to ${s.maxRequests} (sent when full or after ${formatDuration(s.maxWaitMs / 1000)}), billed at batch prices.`,
    `  A batch may take up to 24 hours, and each round waits for its batches: raise --concurrency so batches fill.`,
    `  Failed rows are asked again ${s.failedRows === 'online' ? 'online' : `in the next batch (up to ${plural(s.maxRowAttempts, 'batch', 'batches')}, then online)`}.`,
  ].join('\n');
}

/**
 * The settings a dataset run is created with, and the notices to print first: the endpoints and their sampling,
 * Batch API mode, the re-ask limit and gates, models without a price. A request that cannot run (a method with no
 * operation for a round, a cost budget without prices) is refused with a UserError saying what to change.
 */
export function resolveDatasetRunSettings(request: DatasetRunRequest): {
  config: DatasetRunConfigInput;
  notices: string[];
} {
  const { method, file } = request;
  const rounds = request.rounds ?? 4;
  const gap = unscheduledRound(method.operations, rounds);
  if (gap !== undefined) {
    throw new UserError(
      `method "${method.name}" schedules no operation for round ${gap}: give an operation "rounds" that covers it, or run fewer --rounds`,
    );
  }
  const notices = [request.llmDescription];
  let llm = request.llm;
  if (request.batch)
    llm = Object.fromEntries(LLM_ROLES.map((role) => [role, { ...llm[role], batch: true }])) as LlmConfig;
  const batch = usesBatch(llm) ? { ...(request.simulated ? SIMULATED_BATCH_SETTINGS : {}), ...file?.batch } : undefined;
  if (batch) notices.push(describeBatchMode(llm, batch));
  const sampled = withMethodSampling(llm, method.sampling, file);
  if (sampled.applied) notices.push(`The method carries the evolver sampling it was made for: ${sampled.applied}.`);
  llm = withRateLimits(sampled.llm, request.rpm, request.tpm);
  notices.push(...describeSampling(llm));
  const quality = resolveQuality(file, request.unusableRetries);
  const gatesOff = Object.entries(quality.gates)
    .filter(([, on]) => on === false)
    .map(([gate]) => gate);
  notices.push(
    `  unusable answers are asked again at most ${plural(quality.unusableRetries, 'time')}; gates off: ${gatesOff.join(', ') || 'none'}`,
  );
  const models = [...new Set(Object.values(llm).map((e) => e.model))];
  const unpriced = models.filter((m) => !request.prices[m]);
  if (unpriced.length && request.maxCost !== undefined) {
    throw new UserError(`--max-cost needs a price for ${unpriced.join(', ')}: add it with --prices FILE`);
  }
  if (unpriced.length)
    notices.push(`No price known for ${unpriced.join(', ')}: its cost counts as 0 (add --prices FILE).`);
  return {
    config: {
      rounds,
      ...(request.seed !== undefined ? { seed: request.seed } : {}),
      ...(request.concurrency !== undefined ? { concurrency: request.concurrency } : {}),
      llm,
      method: method.name,
      operations: method.operations,
      budget: {
        ...(request.maxTokens !== undefined ? { maxTokens: request.maxTokens } : {}),
        ...(request.maxCost !== undefined ? { maxCost: request.maxCost } : {}),
      },
      prices: Object.fromEntries(models.filter((m) => request.prices[m]).map((m) => [m, request.prices[m]])),
      quality,
      ...(request.seedAnswers === false ? { answerSeeds: false } : {}),
      ...(batch ? { batch } : {}),
    },
    notices,
  };
}

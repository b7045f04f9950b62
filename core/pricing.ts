/**
 * Cost of LLM usage, from a per-model price table in US dollars per million tokens. The defaults
 * are list prices at the time of writing; users override or extend them with `--prices FILE`.
 */
import type { ModelPrice, PriceTable } from './settings-schemas';
import type { Usage } from './usage';

export type { ModelPrice, PriceTable } from './settings-schemas';

export const DEFAULT_PRICES: PriceTable = {
  'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6, cachedInputPerMillion: 0.075 },
  'gpt-4o': { inputPerMillion: 2.5, outputPerMillion: 10, cachedInputPerMillion: 1.25 },
  'gpt-4.1': { inputPerMillion: 2, outputPerMillion: 8, cachedInputPerMillion: 0.5 },
  'gpt-4.1-mini': { inputPerMillion: 0.4, outputPerMillion: 1.6, cachedInputPerMillion: 0.1 },
  'gpt-4.1-nano': { inputPerMillion: 0.1, outputPerMillion: 0.4, cachedInputPerMillion: 0.025 },
  'gpt-3.5-turbo': { inputPerMillion: 0.5, outputPerMillion: 1.5 },
  'evolforge-sim': { inputPerMillion: 0, outputPerMillion: 0 },
};

/** How a call was made: one request, or a row of a Batch API batch. */
export type CallMode = 'online' | 'batch';

/**
 * Dollars for one call's usage; 0 for a model the table does not know (the caller reports it as unpriced). Cached
 * prompt tokens are charged at the cached rate; a batch row at the batch rates (default half), its cached prompt
 * tokens at half the cached rate.
 */
export function costOf(usage: Usage, price: ModelPrice | undefined, mode: CallMode = 'online'): number {
  if (!price) return 0;
  const batch = mode === 'batch';
  const input = batch ? (price.batchInputPerMillion ?? price.inputPerMillion / 2) : price.inputPerMillion;
  const output = batch ? (price.batchOutputPerMillion ?? price.outputPerMillion / 2) : price.outputPerMillion;
  const cachedOnline = price.cachedInputPerMillion ?? price.inputPerMillion;
  const cachedRate = batch ? cachedOnline * (input / (price.inputPerMillion || 1)) : cachedOnline;
  const cached = Math.min(usage.cachedPromptTokens ?? 0, usage.promptTokens);
  return ((usage.promptTokens - cached) * input + cached * cachedRate + usage.completionTokens * output) / 1_000_000;
}

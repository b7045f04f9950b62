/** The re-ask limit and gates a run uses when it sets none; free of dependencies so workflow code can use it. */
import type { GateSwitches } from './gates';

/** Asked again at once, at most this many times, when an answer is unusable; the paper has no such case. */
export const DEFAULT_UNUSABLE_RETRIES = 2;

export const DEFAULT_QUALITY: { unusableRetries: number; gates: GateSwitches } = {
  unusableRetries: DEFAULT_UNUSABLE_RETRIES,
  gates: {},
};

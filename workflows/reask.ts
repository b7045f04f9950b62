/** Asking again after an unusable answer, the one loop every workflow that calls an LLM uses. */
import type { Unusable } from '../activities/unusable';
import type { UnusableAnswer } from '../core/reask';

/**
 * One call, asked again at once while its answer is unusable, at most `limit` more times; each ask after the first
 * gets the previous unusable answer to show the model. Returns the last result and how many asks it took.
 */
export async function askUntilUsable<T extends { ok?: boolean }>(
  limit: number,
  ask: (reask: UnusableAnswer | undefined, asks: number) => Promise<T | Unusable>,
): Promise<{ result: T | Unusable; asks: number }> {
  let reask: UnusableAnswer | undefined;
  for (let asks = 1; ; asks++) {
    const result = await ask(reask, asks);
    if (result.ok !== false || asks > limit) return { result, asks };
    reask = (result as Unusable).unusable;
  }
}

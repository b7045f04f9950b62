/**
 * Which operation each round applies: drawn in advance from a generator seeded with the run seed
 * and the instruction id, so the same seed always gives the same plan.
 */
import type { Operation } from './operations';
import { pickWeighted, prngFor } from './prng';

export function planOperations(
  operations: readonly Operation[],
  seed: number,
  instructionId: string,
  rounds: number,
): Operation[] {
  if (operations.length === 0) throw new Error('the method set has no operations');
  const random = prngFor(seed, instructionId);
  const weights = operations.map((op) => op.weight);
  return Array.from({ length: rounds }, () => operations[pickWeighted(weights, random)]);
}

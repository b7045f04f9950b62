/**
 * Which operation each round applies: drawn in advance from a generator seeded with the run seed
 * and the instruction id, so the same seed always gives the same plan. A method that schedules its
 * operations by round (WizardMath: easier first) draws each round among those scheduled for it; one
 * draw per round either way, so plans of unscheduled methods are what they always were.
 */
import { inRounds, type Operation } from './operations';
import { pickWeighted, prngFor } from './prng';

export function planOperations(
  operations: readonly Operation[],
  seed: number,
  instructionId: string,
  rounds: number,
): Operation[] {
  if (operations.length === 0) throw new Error('the method set has no operations');
  const random = prngFor(seed, instructionId);
  return Array.from({ length: rounds }, (_, i) => {
    const round = i + 1;
    const scheduled = operations.filter((op) => inRounds(op.rounds, round));
    if (scheduled.length === 0) throw new Error(`the method set schedules no operation for round ${round}`);
    return scheduled[
      pickWeighted(
        scheduled.map((op) => op.weight),
        random,
      )
    ];
  });
}

/** The first round (up to `rounds`) that no operation of the method is scheduled for, if any. */
export function unscheduledRound(operations: readonly Operation[], rounds: number): number | undefined {
  for (let round = 1; round <= rounds; round++) {
    if (!operations.some((op) => inRounds(op.rounds, round))) return round;
  }
  return undefined;
}

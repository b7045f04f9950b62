/**
 * `evol evolve`: one instruction on its own. Everything it needs is in its input; it evolves round by round
 * (workflows/rounds.ts) and its lineage is its result. Nothing goes to a run store.
 */
import { setHandler, setWorkflowOptions, upsertSearchAttributes } from '@temporalio/workflow';
import type { SingleInstructionInput } from '../core/instruction-input';
import type { Lineage } from '../core/lineage';
import { lineageQuery, pauseSignal, resumeSignal } from '../core/messages';
import { EvolStatus } from '../core/search-attributes';
import { Evolution } from './rounds';

export async function singleInstructionEvolution(input: SingleInstructionInput): Promise<Lineage> {
  const evolution = new Evolution(input, input.instruction, input);
  setHandler(pauseSignal, () => evolution.pause());
  setHandler(resumeSignal, () => evolution.resume());
  setHandler(lineageQuery, () => evolution.lineage);
  try {
    for (const step of evolution.rounds()) evolution.keepRound(await step);
  } catch (error) {
    upsertSearchAttributes([{ key: EvolStatus, value: 'failed' }]);
    throw error;
  }
  evolution.lineage.status = 'completed';
  upsertSearchAttributes([{ key: EvolStatus, value: 'completed' }]);
  return evolution.lineage;
}
// Short-lived: it stays on the build it started on (see docs/versioning.md).
setWorkflowOptions({ versioningBehavior: 'PINNED' }, singleInstructionEvolution);

/**
 * Starts a dataset run's instruction workflows from the worker's own client (a local activity of the dataset
 * workflow), instead of as child workflows: see workflows/dataset-evolution.ts for why.
 */
import { Context } from '@temporalio/activity';
import { WorkflowIdReusePolicy } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { InstructionStartRequest } from '../core/instruction-input';
import { EvolEliminations, EvolRoundsDone, instructionStartAttributes } from '../core/search-attributes';
import type { RunStore } from '../store/types';
import { readInstructionStart } from './run-store';

export function createInstructionStartActivities(store: RunStore) {
  return {
    /**
     * Starts one instruction workflow on this worker's task queue. 'already-started' when its id is taken by a
     * running execution or a completed one (a failed one is replaced): a retry of this activity, an earlier run
     * of the same dataset, or a failed execution still closing.
     *
     * The instruction is given what it needs from the run store before its first round (`begun`): read here, it
     * spares the workflow a local activity and a workflow activation, about a twelfth of the worker's work per seed
     * (bench/README.md, issue 14).
     */
    async startInstruction({ input, resumeFrom, workflowId, staticSummary, staticDetails }: InstructionStartRequest) {
      const { client, info } = Context.current();
      const begun = await readInstructionStart(store, input.runId, input.instructionId, resumeFrom);
      try {
        await client.workflow.start('instructionEvolution', {
          taskQueue: info.taskQueue,
          workflowId,
          args: [{ ...input, begun }],
          staticSummary,
          staticDetails,
          requestEagerStart: true,
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
          typedSearchAttributes: [
            ...instructionStartAttributes(input.runId, input.instructionId),
            { key: EvolRoundsDone, value: 0 },
            { key: EvolEliminations, value: 0 },
          ],
        });
        return { outcome: 'started' as const };
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) return { outcome: 'already-started' as const };
        throw err;
      }
    },
  };
}

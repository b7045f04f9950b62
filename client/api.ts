/** A small typed API for programs: start and follow EvolForge workflows. */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { InstructionEvolutionInput, Lineage, LlmConfig } from '../core/schemas';
import { instructionStartAttributes } from '../core/search-attributes';
import { hash32 } from '../core/prng';
import { instructionDetails, instructionSummary } from '../core/summaries';
import { instructionWorkflowId } from '../core/ids';
import type { instructionEvolution } from '../workflows';

export { datasetWorkflowId, instructionWorkflowId } from '../core/ids';

/** A stable id for an instruction given as text alone. */
export function instructionIdFor(text: string): string {
  return `i${hash32(text.trim()).toString(16).padStart(8, '0')}`;
}

/** A readable, unique run id: `<prefix>-YYYYMMDD-HHMMSS-xxxx`. */
export function newRunId(prefix = 'run', now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${prefix}-${stamp}-${Math.random().toString(36).slice(2, 6)}`;
}

/**
 * instructionEvolution started on its own (not by a dataset run): it returns the whole lineage. (A dataset run's
 * instruction workflows return only their report: their lineage is in the run store.)
 */
export type StandaloneInstructionEvolution = (input: Parameters<typeof instructionEvolution>[0]) => Promise<Lineage>;

export async function startInstructionEvolution(
  client: Client,
  taskQueue: string,
  input: InstructionEvolutionInput & { llm: LlmConfig },
): Promise<WorkflowHandle<StandaloneInstructionEvolution>> {
  return client.workflow.start<StandaloneInstructionEvolution>('instructionEvolution', {
    taskQueue,
    workflowId: instructionWorkflowId(input.runId, input.instructionId),
    args: [input],
    staticSummary: instructionSummary(input.runId, input.instructionId, input.rounds),
    staticDetails: instructionDetails(input),
    typedSearchAttributes: instructionStartAttributes(input.runId, input.instructionId),
  });
}

export type { Lineage };

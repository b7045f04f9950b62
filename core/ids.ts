/**
 * Workflow ids: stable and readable, so a run's workflows can be found and never started twice. A kind and a colon
 * come before the run id, which a run id cannot contain (letters, digits, dots, dashes, underscores), so no two
 * workflows of any two runs share an id: `evol:run:<run>`, `evol:auto:<run>`, `evol:score:<run>`,
 * `evol:batch:<run>`, `evol:instruction:<run>:<instruction id>`.
 */
export interface RunWorkflowIds {
  dataset: string;
  auto: string;
  score: string;
  /** The batcher of a run whose calls go through the Batch API. */
  batch: string;
  instruction(instructionId: string): string;
}

/** The ids of one run's workflows. */
export function runWorkflowIds(runId: string): RunWorkflowIds {
  return {
    dataset: `evol:run:${runId}`,
    auto: `evol:auto:${runId}`,
    score: `evol:score:${runId}`,
    batch: `evol:batch:${runId}`,
    instruction: (instructionId) => `evol:instruction:${runId}:${instructionId}`,
  };
}

/**
 * The workflow that runs the run a workflow belongs to, which a pause goes to: a dataset run's own workflow for its
 * instructions and its batcher, a learning run's for itself; undefined for others (a scoring, `evol evolve`).
 */
export function runWorkflowOf(workflowId: string): string | undefined {
  const match = /^evol:(run|auto|batch|instruction):([^:]+)(?::.*)?$/.exec(workflowId);
  if (!match) return undefined;
  const [, kind, runId] = match;
  return kind === 'auto' ? workflowId : runWorkflowIds(runId).dataset;
}

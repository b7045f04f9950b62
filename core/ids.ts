/** Workflow ids: stable and readable, so a run's workflows can be found and never started twice. */
export function instructionWorkflowId(runId: string, instructionId: string): string {
  return `evol-${runId}-${instructionId}`;
}

export function datasetWorkflowId(runId: string): string {
  return `evol-run-${runId}`;
}

export function scoreWorkflowId(runId: string): string {
  return `evol-score-${runId}`;
}

/**
 * Workflow ids: stable and readable, so a run's workflows can be found and never started twice.
 *
 * Scheme 2 (runs created since it) puts a kind and a colon before the run id, which a run id cannot contain
 * (letters, digits, dots, dashes, underscores), so no two workflows of any two runs share an id:
 * `evol:run:<run>`, `evol:auto:<run>`, `evol:score:<run>`, `evol:batch:<run>`, `evol:instruction:<run>:<instruction id>`.
 *
 * Scheme 1 (runs created before) used `evol-run-<run>` (`evol-batch-<run>` for a batcher added since) and `evol-<run>-<instruction id>`, where run `run`'s seed
 * `line-1` and run `line-1` both had `evol-run-line-1`. It stays readable for those runs' workflows: a run keeps
 * the scheme it was created with (`idScheme` in its settings, absent: 1).
 */
export const ID_SCHEMES = ['1', '2'] as const;
export type IdScheme = (typeof ID_SCHEMES)[number];

/** The scheme new runs are created with. */
export const CURRENT_ID_SCHEME: IdScheme = '2';

export interface RunWorkflowIds {
  dataset: string;
  auto: string;
  score: string;
  /** The batcher of a run whose calls go through the Batch API. */
  batch: string;
  instruction(instructionId: string): string;
}

/** The ids of one run's workflows under its scheme. */
export function runWorkflowIds(runId: string, scheme: IdScheme | undefined): RunWorkflowIds {
  if ((scheme ?? '1') === '1') {
    return {
      dataset: `evol-run-${runId}`,
      auto: `evol-auto-${runId}`,
      score: `evol-score-${runId}`,
      batch: `evol-batch-${runId}`,
      instruction: (instructionId) => `evol-${runId}-${instructionId}`,
    };
  }
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
  const scheme2 = /^evol:(run|auto|batch|instruction):([^:]+)(?::.*)?$/.exec(workflowId);
  if (scheme2) {
    const [, kind, runId] = scheme2;
    return kind === 'auto' ? workflowId : runWorkflowIds(runId, '2').dataset;
  }
  const scheme1 = /^evol-(run|auto|batch)-(.+)$/.exec(workflowId);
  if (scheme1) return scheme1[1] === 'auto' ? workflowId : runWorkflowIds(scheme1[2], '1').dataset;
  return undefined;
}

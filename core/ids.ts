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

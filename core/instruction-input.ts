/** What an instruction workflow is started with: ids and settings, never a secret. */
import type { LlmConfig, LlmRetry } from './endpoints';
import type { LineageStep } from './lineage';
import type { Operation } from './operations';
import type { ModelPrice } from './pricing';
import type { QualitySettings } from './settings-schemas';

/** What a dataset run's instruction workflow reads from the run store before its first round. */
export interface InstructionStart {
  text: string;
  /** The seed file gave the seed an answer of its own. */
  hasOutput?: boolean;
  /** The run's settings, when asked for. */
  run?: RunEvolutionSettings;
  /** The steps of an earlier failed attempt to go on from, when asked for. */
  earlierSteps?: LineageStep[];
}

/** The part of a dataset run's configuration each instruction evolves with. */
export interface RunEvolutionSettings {
  llm: LlmConfig;
  operations: Operation[];
  prices: Record<string, ModelPrice>;
  /** Absent in runs created before it: the defaults. */
  quality?: QualitySettings;
  /** Answer seeds that have no answer of their own, for the final mix (absent in runs created before it: no). */
  answerSeeds?: boolean;
}

/** Input of the instructionEvolution workflow: small, no secrets. */
export interface InstructionEvolutionInput {
  runId: string;
  instructionId: string;
  /** The seed text; when absent the workflow loads it from the run store by id. */
  instruction?: string;
  rounds: number;
  seed: number;
  /**
   * The LLM endpoints. Absent in a dataset run's instruction workflows: they read the run's endpoints, method and
   * prices from the run store with their seed (`llm`, `operations` and `prices` are ignored then), so the dataset
   * workflow's history does not carry them once per seed.
   */
  llm?: LlmConfig;
  /** The method set to draw from; the general set when absent. */
  operations?: Operation[];
  /** Prices of the models used, for the cost of each step. */
  prices?: Record<string, ModelPrice>;
  /** Re-ask limit and gates; the defaults when absent (a dataset run reads its own from the run store). */
  quality?: QualitySettings;
  /**
   * What a dataset run's instruction reads from the run store before its first round (its seed, the run's settings,
   * an earlier attempt), read by the activity that starts it: the workflow then schedules its first call in its
   * first workflow task. Absent (instructions started before it, or not by that activity): the workflow reads them
   * in a local activity of its own.
   */
  begun?: InstructionStart;
  /** Write the finished lineage to the run store (dataset runs). */
  saveToStore?: boolean;
  /** The dataset workflow to report to when this one ends. */
  parentWorkflowId?: string;
  /** Go on from an earlier failed attempt kept in the run store: from its last good round, or from `fromRound`. */
  resumeFrom?: { fromRound?: number };
  /** Retry policy of the LLM calls, when not the default (10 attempts from 2 s). */
  llmRetry?: LlmRetry;
}

/**
 * Shapes of a dataset run: its configuration, the counts the datasetEvolution workflow keeps, and
 * what each instruction workflow reports back to it. Small by design: ids and numbers, no data.
 */
import type { Operation } from './operations';
import type { ModelPrice } from './pricing';
import type { LlmConfig } from './schemas';
import type { Usage } from './usage';

export interface Budget {
  /** Pause the run once this many tokens (all roles) are spent. */
  maxTokens?: number;
  /** Pause the run once this many US dollars are spent, by the run's price table. */
  maxCost?: number;
}

export interface DatasetRunConfig {
  rounds: number;
  seed: number;
  llm: LlmConfig;
  /** The method set's name (general, code, math, or a file) and its operations. */
  method: string;
  operations: Operation[];
  /** Instruction workflows running at once (the sliding window). */
  concurrency: number;
  budget: Budget;
  /** Prices of the models this run uses, US dollars per million tokens. */
  prices: Record<string, ModelPrice>;
  /** Seed ids fetched per page from the run store. */
  pageSize: number;
  /** Set by `evol retry`: go on from failed attempts (from their last good round, or from `fromRound`). */
  retry?: { fromRound?: number; onlyFailed?: boolean };
  /** Retry policy of the LLM calls, when not the default. */
  llmRetry?: import('./schemas').LlmRetry;
  /** Re-ask limit and gates (absent in runs created before them: the defaults). */
  quality?: import('./schemas').QualitySettings;
  /** Answer seeds that have none of their own, for the paper's final mix (absent in runs created before it: no). */
  answerSeeds?: boolean;
}

/** What an instruction workflow tells its dataset workflow when it ends. */
export interface InstructionReport {
  instructionId: string;
  status: 'completed' | 'failed';
  /** Per round: passed, or the elimination rule. */
  rounds: Array<{ round: number; passed: boolean; rule?: string }>;
  usage: Usage;
  costUsd: number;
  /** Unusable answers asked again, and LLM calls retried after transport faults (absent in older reports). */
  reasks?: number;
  retries?: number;
  /** For a failure: its type (e.g. LlmAuthenticationError) and message. */
  errorType?: string;
  error?: string;
}

export type RunStatus = 'running' | 'paused' | 'completed' | 'cancelled';

export interface RunCounts {
  /** Instructions that reported back (completed or failed), and those found already done in the store. */
  done: number;
  completed: number;
  failed: number;
  alreadyDone: number;
  /** Index r-1: how many round-r evolutions passed / were eliminated. */
  passedByRound: number[];
  eliminatedByRound: number[];
  eliminationsByRule: Record<string, number>;
  usage: Usage;
  costUsd: number;
  /** Unusable answers asked again, and LLM calls retried after transport faults (absent in runs from before). */
  reasks?: number;
  retries?: number;
}

/** Carried across continue-as-new. */
export interface DatasetState {
  /** Index of the next seed id to read from the store. */
  nextOffset: number;
  /** Ids read but not started yet. */
  pending: string[];
  /** Ids whose instruction workflow was started and has not reported yet. */
  inFlight: string[];
  /** Ids that failed on an LLM configuration error: started again on resume. */
  retryOnResume: string[];
  /** Ids in flight when the run was last resumed: a configuration error they report is stale, so retry, don't pause. */
  inFlightAtResume?: string[];
  /** Ids whose failed execution is being restarted (it may still be closing when we start it again). */
  restarting?: string[];
  counts: RunCounts;
  paused: boolean;
  pauseReason?: string;
  /** Workflow time (ms) when the run first started, and the paused time since, for rates. */
  startedAtMs: number;
  pausedMs: number;
  pausedSinceMs?: number;
  continuedAsNew: number;
  budget: Budget;
}

export interface DatasetEvolutionInput {
  runId: string;
  totalSeeds: number;
  config: DatasetRunConfig;
  /** Absent on the first run; the state so far after continue-as-new. */
  state?: DatasetState;
}

export interface RunProgress {
  runId: string;
  status: RunStatus;
  pauseReason?: string;
  totalSeeds: number;
  started: number;
  inFlight: number;
  counts: RunCounts;
  concurrency: number;
  budget: Budget;
  startedAtMs: number;
  /** Running time so far, paused time excluded. */
  activeMs: number;
  continuedAsNew: number;
  /** Every running instruction has been told of the current pause (or resume). */
  pausePropagated: boolean;
}

export function emptyCounts(rounds: number): RunCounts {
  return {
    done: 0,
    completed: 0,
    failed: 0,
    alreadyDone: 0,
    passedByRound: Array.from({ length: rounds }, () => 0),
    eliminatedByRound: Array.from({ length: rounds }, () => 0),
    eliminationsByRule: {},
    usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
    costUsd: 0,
    reasks: 0,
    retries: 0,
  };
}

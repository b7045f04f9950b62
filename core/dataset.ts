/**
 * Shapes of a dataset run: its configuration, the counts the datasetEvolution workflow keeps, and
 * what each instruction workflow reports back to it. Small by design: ids and numbers, no data.
 */
import type { ModelPrice } from './pricing';
import type { Budget, DatasetRunConfig } from './settings-schemas';
import type { Usage } from './usage';

export type { Budget, DatasetRunConfig, DatasetRunSettings } from './settings-schemas';

/** What an instruction workflow tells its dataset workflow when it ends. */
export interface InstructionReport {
  instructionId: string;
  status: 'completed' | 'failed';
  /** Per round: passed, or the elimination rule. */
  rounds: Array<{ round: number; passed: boolean; rule?: string }>;
  usage: Usage;
  costUsd: number;
  /** Unusable answers asked again, and LLM calls retried after transport faults (left out when none). */
  reasks?: number;
  retries?: number;
  /** The LLM calls answered whose tokens are in `usage` (re-asks included). */
  calls?: number;
  /** For a failure: its type (e.g. LlmAuthenticationError) and message. */
  errorType?: string;
  error?: string;
}

/** LLM calls of a run and what they spent, counted by the workers as each call ends (not when its instruction does). */
export interface Spend {
  calls: number;
  usage: Usage;
  costUsd: number;
}

export const ZERO_SPEND: Spend = {
  calls: 0,
  usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
  costUsd: 0,
};

/** Given with each LLM call of a dataset run: whose spend it is, and the price of the endpoint's model. */
export interface SpendTag {
  runWorkflowId: string;
  price?: ModelPrice;
}

/** What a worker reports to a dataset workflow: its calls' spend since its last report. */
export interface SpendReport extends Spend {
  /** The worker's calls of this run in flight now (kept with the moment the budget is reached). */
  inFlight: number;
}

/** What the worker learns back: the run's spend so far, its budget, and whether new calls must wait. */
export interface SpendView {
  spent: Spend;
  budget: Budget;
  /** The budget is reached: no new call until a resume raises it. */
  stopped: boolean;
  /** How many times the run was resumed: an instruction held by the budget waits for a resume after this one. */
  resumes: number;
}

/** The budget is reached by this spend: its tokens or its cost at or past the limit set. */
export function budgetReachedBy(budget: Budget, spend: Pick<Spend, 'usage' | 'costUsd'>): boolean {
  const { maxTokens, maxCost } = budget;
  return (
    (maxTokens !== undefined && spend.usage.totalTokens >= maxTokens) ||
    (maxCost !== undefined && spend.costUsd >= maxCost)
  );
}

/** The moment the budget was reached: what was spent then and the calls still in flight (they finish). */
export interface BudgetReached {
  spent: Spend;
  inFlight: number;
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
  /** Unusable answers asked again, and LLM calls retried after transport faults. */
  reasks: number;
  retries: number;
  /** The LLM calls whose tokens are in `usage` (absent in a state carried over from a build that did not count them). */
  calls?: number;
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
  /** Spend reported by the workers call by call. */
  spent: Spend;
  /** Resumes so far. */
  resumes: number;
  /** Set when the budget was last reached, cleared by a resume. */
  budgetReached?: BudgetReached;
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
  /** What the run's LLM calls spent so far, as they ended. */
  spent: Spend;
  budgetReached?: BudgetReached;
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
    calls: 0,
  };
}

/**
 * What a run has spent: the workers' call-by-call reports, or the finished instructions' own reports where those are
 * ahead (a killed worker's last report is lost, and the reports of the calls that end in the run's last second
 * arrive after it has completed). Its calls and its tokens always come from the same side, so they match.
 */
export function runSpend(spent: Spend, counts: RunCounts): Spend {
  const finishedAhead = counts.usage.totalTokens > spent.usage.totalTokens;
  return {
    calls: finishedAhead ? (counts.calls ?? spent.calls) : spent.calls,
    usage: finishedAhead ? counts.usage : spent.usage,
    costUsd: Math.max(counts.costUsd, spent.costUsd),
  };
}

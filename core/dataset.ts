/**
 * Shapes of a dataset run: its configuration, the counts the datasetEvolution workflow keeps, and
 * what each instruction workflow reports back to it. Small by design: ids and numbers, no data.
 */
import { z } from 'zod';
import { BatchSettingsSchema } from './batch';
import { ID_SCHEMES } from './ids';
import { OperationSchema } from './operations';
import { ModelPriceSchema, type ModelPrice } from './pricing';
import { LlmConfigSchema, LlmRetrySchema, QualitySettingsSchema } from './schemas';
import type { Usage } from './usage';

export const BudgetSchema = z
  .object({
    /** Pause the run once this many tokens (all roles) are spent. */
    maxTokens: z.number().int().nonnegative().optional(),
    /** Pause the run once this many US dollars are spent, by the run's price table. */
    maxCost: z.number().nonnegative().optional(),
  })
  .strict();
export type Budget = z.infer<typeof BudgetSchema>;

/** What `evol run` resolved for a dataset run (no secrets), as its dataset workflow is started with it. */
export const DatasetRunConfigSchema = z
  .object({
    rounds: z.number().int().positive(),
    seed: z.number().int(),
    llm: LlmConfigSchema,
    /** The method set's name (general, code, math, or a file) and its operations. */
    method: z.string().min(1),
    operations: z.array(OperationSchema).min(1),
    /** Instruction workflows running at once (the sliding window). */
    concurrency: z.number().int().positive(),
    budget: BudgetSchema,
    /** Prices of the models this run uses, US dollars per million tokens. */
    prices: z.record(z.string(), ModelPriceSchema),
    /** Seed ids fetched per page from the run store. */
    pageSize: z.number().int().positive(),
    /** Set by `evol retry`: go on from failed attempts (from their last good round, or from `fromRound`). */
    retry: z
      .object({ fromRound: z.number().int().positive().optional(), onlyFailed: z.boolean().optional() })
      .strict()
      .optional(),
    /** Retry policy of the LLM calls, when not the default. */
    llmRetry: LlmRetrySchema.optional(),
    /** Re-ask limit and gates (absent in runs created before them: the defaults). */
    quality: QualitySettingsSchema.optional(),
    /** Answer seeds that have none of their own, for the paper's final mix (absent in runs created before it: no). */
    answerSeeds: z.boolean().optional(),
    /** How the run's workflow ids are made (absent in runs created before the scheme had a number: the first). */
    idScheme: z.enum(ID_SCHEMES).optional(),
    /** Batch API mode's settings, for roles with `batch: true` (absent: the defaults, core/batch.ts). */
    batch: BatchSettingsSchema.optional(),
  })
  .strict();
export type DatasetRunConfig = z.infer<typeof DatasetRunConfigSchema>;

/** A dataset run's settings as the run store keeps them. */
export const DatasetRunSettingsSchema = DatasetRunConfigSchema.extend({ kind: z.literal('dataset') });
export type DatasetRunSettings = z.infer<typeof DatasetRunSettingsSchema>;

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
  /** Spend reported by the workers call by call (absent in runs from before: counts.usage only). */
  spent?: Spend;
  /** Resumes so far (absent in runs from before: 0). */
  resumes?: number;
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
  /** What the run's LLM calls spent so far, as they ended (absent from older workflows). */
  spent?: Spend;
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
  };
}

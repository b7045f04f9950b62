/**
 * The zod schemas of a run's stored settings (prices, Batch API settings, operations, budget, a dataset run's whole
 * configuration) and the types inferred from them. They live apart from the pure modules they describe
 * (core/pricing.ts, core/batch.ts, core/operations.ts, core/dataset.ts) because those are in the workflow bundle, and
 * a worker evaluates its bundle's modules again for every workflow it creates: building zod and these schemas there
 * cost about a fifth of the workflow thread's time (bench/README.md, issue 14). Workflow code imports from here
 * only with `import type`; the bundler is told to leave zod out (worker/workflow-source.ts), so with a value import
 * every workflow task fails at once (zod is an empty module there) instead of every workflow running slowly.
 */
import { z } from 'zod';
import { OPERATION_KINDS, type Operation } from './operations';
import { LlmConfigSchema, LlmRetrySchema } from './endpoints';
import { DEFAULT_UNUSABLE_RETRIES } from './quality';

/** How a run treats what real models answer: the re-ask limit and the gates on each rewrite. */
export const QualitySettingsSchema = z
  .object({
    /** Unusable answers (no rewrite, no verdict, empty response, no method) are asked again this many times. */
    unusableRetries: z.number().int().min(0).max(10).default(DEFAULT_UNUSABLE_RETRIES),
    /** Gates and the judge's task rules switched off (`copies-prompt: false`); every one is on by default. */
    gates: z
      .object({
        'evolver-refused': z.boolean(),
        'answered-not-rewritten': z.boolean(),
        'copies-prompt': z.boolean(),
        'lost-task': z.boolean(),
        'judge-not-a-task': z.boolean(),
        'judge-lost-task': z.boolean(),
      })
      .partial()
      .strict()
      .default({}),
    /**
     * Rule 4 on the evolver's whole answer, as the paper does, rather than on the rewrite once a leading label
     * ("#Rewritten Prompt#:") is stripped: the paper drops those rows, we keep them cleaned by default.
     */
    templateWordsOnRawAnswer: z.boolean().optional(),
  })
  .strict();
export type QualitySettings = z.infer<typeof QualitySettingsSchema>;

export const ModelPriceSchema = z
  .object({
    inputPerMillion: z.number().nonnegative(),
    outputPerMillion: z.number().nonnegative(),
    /** Prompt tokens served from the provider's prompt cache. Default: the input price. */
    cachedInputPerMillion: z.number().nonnegative().optional(),
    /** Through the Batch API. Default: half the online price, as OpenAI charges. */
    batchInputPerMillion: z.number().nonnegative().optional(),
    batchOutputPerMillion: z.number().nonnegative().optional(),
  })
  .strict();
export type ModelPrice = z.infer<typeof ModelPriceSchema>;

export const PriceTableSchema = z.record(z.string().min(1), ModelPriceSchema);
export type PriceTable = z.infer<typeof PriceTableSchema>;

/** OpenAI's limits for one batch: requests per input file and the file's size. */
export const PROVIDER_BATCH_LIMITS = { requests: 50_000, bytes: 200 * 1024 * 1024 } as const;

export const BatchSettingsSchema = z
  .object({
    /** Calls per batch at most (the provider's limit is 50,000). */
    maxRequests: z.number().int().positive().max(PROVIDER_BATCH_LIMITS.requests).optional(),
    /** Bytes of one batch's input file at most (the provider's limit is 200 MB). */
    maxBytes: z.number().int().positive().max(PROVIDER_BATCH_LIMITS.bytes).optional(),
    /** A queued call waits at most this long for its batch to fill before the batch is sent as it is. */
    maxWaitMs: z.number().int().nonnegative().optional(),
    /** First wait before asking the provider how a batch is doing; it grows by half each poll, up to pollMaxMs. */
    pollInitialMs: z.number().int().positive().optional(),
    pollMaxMs: z.number().int().positive().optional(),
    /** A row that failed inside a finished batch: asked again in the next batch, or online at once. */
    failedRows: z.enum(['next-batch', 'online']).optional(),
    /** Batches a row is sent in at most before it is asked online (expired or cancelled batches do not count). */
    maxRowAttempts: z.number().int().positive().optional(),
    /** The batcher workflow ends after this long with nothing queued and no batch open (the next call starts it). */
    idleExitMs: z.number().int().positive().optional(),
  })
  .strict();
export type BatchSettings = z.infer<typeof BatchSettingsSchema>;

/** An operation as a run keeps it in its settings (method files have their own, friendlier schema). */
export const OperationSchema: z.ZodType<Operation> = z
  .object({
    id: z.string().min(1),
    kind: z.enum(OPERATION_KINDS),
    weight: z.number().nonnegative(),
    system: z.string(),
    template: z.string().min(1),
    rounds: z
      .object({ from: z.number().int().positive(), to: z.number().int().positive().optional() })
      .strict()
      .optional(),
  })
  .strict();

export const BudgetSchema = z
  .object({
    /** Pause the run once this many tokens (all roles) are spent. */
    maxTokens: z.number().int().nonnegative().optional(),
    /** Pause the run once this many US dollars are spent, by the run's price table. */
    maxCost: z.number().nonnegative().optional(),
  })
  .strict();
export type Budget = z.infer<typeof BudgetSchema>;

/**
 * What `evol run` resolved for a dataset run (no secrets), as its dataset workflow is started with it. The defaults
 * are here, once: `z.input` of this schema is what a caller gives (core/run-settings.ts resolves it), `z.infer` what
 * the workflow gets.
 */
export const DatasetRunConfigSchema = z
  .object({
    rounds: z.number().int().positive().default(4),
    /** Seeds the round plans (with each instruction's id) and the export's shuffle. */
    seed: z.number().int().default(0),
    llm: LlmConfigSchema,
    /** The method set's name (general, code, math, or a file) and its operations. */
    method: z.string().min(1),
    operations: z.array(OperationSchema).min(1),
    /** Instruction workflows running at once (the sliding window). */
    concurrency: z.number().int().positive().default(16),
    budget: BudgetSchema.default({}),
    /** Prices of the models this run uses, US dollars per million tokens. */
    prices: z.record(z.string(), ModelPriceSchema).default({}),
    /** Seed ids fetched per page from the run store. */
    pageSize: z.number().int().positive().default(200),
    /** Set by `evol retry`: go on from failed attempts (from their last good round, or from `fromRound`). */
    retry: z
      .object({ fromRound: z.number().int().positive().optional(), onlyFailed: z.boolean().optional() })
      .strict()
      .optional(),
    /** Retry policy of the LLM calls, when not the default. */
    llmRetry: LlmRetrySchema.optional(),
    /** Re-ask limit and gates. */
    quality: QualitySettingsSchema.default({ unusableRetries: DEFAULT_UNUSABLE_RETRIES, gates: {} }),
    /** Answer seeds that have none of their own, for the paper's final mix. */
    answerSeeds: z.boolean().default(true),
    /** Batch API mode's settings, for roles with `batch: true` (absent: the defaults, core/batch.ts). */
    batch: BatchSettingsSchema.optional(),
  })
  .strict();
export type DatasetRunConfig = z.infer<typeof DatasetRunConfigSchema>;
/** What a caller gives: every field with a default may be left out. */
export type DatasetRunConfigInput = z.input<typeof DatasetRunConfigSchema>;

/** A dataset run's settings as the run store keeps them. */
export const DatasetRunSettingsSchema = DatasetRunConfigSchema.extend({ kind: z.literal('dataset') });
export type DatasetRunSettings = z.infer<typeof DatasetRunSettingsSchema>;

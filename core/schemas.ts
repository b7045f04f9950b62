/**
 * Shapes of what travels between the CLI, workflows and activities. Types come from the zod
 * schemas so validation and types never drift apart. Nothing here ever holds a secret: an LLM
 * role names the environment variable its key is read from, on the worker.
 */
import { z } from 'zod';
import type { Usage } from './usage';

export const LLM_ROLES = ['evolver', 'responder', 'judge'] as const;
export type LlmRole = (typeof LLM_ROLES)[number];

/** The base URL that stands for the worker's built-in simulated LLM. */
export const SIM_BASE_URL = 'sim://local';

export const LlmEndpointSchema = z
  .object({
    /** OpenAI-compatible base URL (`https://api.openai.com/v1`, `http://localhost:11434/v1`), or `sim://local`. */
    baseURL: z.string().min(1),
    model: z.string().min(1),
    temperature: z.number().min(0).max(2),
    maxTokens: z.number().int().positive(),
    /** Name of the worker's environment variable that holds the API key (never the key itself). */
    apiKeyEnv: z.string().min(1),
    /** Per-request timeout of the HTTP call, below the activity's start-to-close timeout. */
    requestTimeoutMs: z.number().int().positive(),
    /** Nucleus sampling (`top_p`); the server's default when absent. */
    topP: z.number().gt(0).max(1).optional(),
    /**
     * Ask for a JSON-schema answer where one is wanted (the judge's verdict). Default true: an endpoint that refuses
     * `response_format` is asked again in plain text, and then always in plain text by that worker.
     */
    structuredOutput: z.boolean().optional(),
    /**
     * The provider's limits for this endpoint: requests and tokens per minute. Every worker of the run shares them
     * (activities/rate-limits.ts). Absent: learned from the provider's x-ratelimit-* headers, if it sends them.
     */
    rpm: z.number().int().positive().optional(),
    tpm: z.number().int().positive().optional(),
    /** Send this role's calls through the provider's Batch API (half price, answers within 24 hours). */
    batch: z.boolean().optional(),
  })
  .strict();
export type LlmEndpoint = z.infer<typeof LlmEndpointSchema>;

/** One endpoint for each of the roles named. */
export function endpointsFor<Role extends string>(roles: readonly Role[]) {
  const shape = Object.fromEntries(roles.map((role) => [role, LlmEndpointSchema])) as Record<
    Role,
    typeof LlmEndpointSchema
  >;
  return z.object(shape).strict();
}

export const LlmConfigSchema = endpointsFor(LLM_ROLES);
export type LlmConfig = z.infer<typeof LlmConfigSchema>;

export { ZERO_USAGE, type Usage } from './usage';

export const LlmRetrySchema = z
  .object({
    maximumAttempts: z.number().int().positive().optional(),
    initialIntervalMs: z.number().int().positive().optional(),
  })
  .strict();

/** A role that gave no usable answer after every re-ask: the round fails with the role's own rule. */
export const UNUSABLE_RULES = ['rewrite-unusable', 'response-unusable', 'judge-unusable'] as const;
export type UnusableRule = (typeof UNUSABLE_RULES)[number];

/**
 * Why a round failed: one of the paper's four rules, one of our gates on the rewrite, a role that kept giving
 * unusable answers, or (in histories from before the re-ask limit) `unparseable-rewrite`.
 */
export type RoundRule =
  import('./elimination').EliminationRule | import('./gates').GateRule | UnusableRule | 'unparseable-rewrite';

export type StepVerdict = { passed: true } | { passed: false; rule: RoundRule; evidence: string };

import { DEFAULT_UNUSABLE_RETRIES } from './quality';

export { DEFAULT_QUALITY } from './quality';

/** How a run treats what real models answer: the re-ask limit and the gates on each rewrite. */
export const QualitySettingsSchema = z
  .object({
    /** Unusable answers (no rewrite, no verdict, empty response, no method) are asked again this many times. */
    unusableRetries: z.number().int().min(0).max(10).default(DEFAULT_UNUSABLE_RETRIES),
    /** Gates switched off (`copies-prompt: false`); every gate is on by default. */
    gates: z
      .object({
        'evolver-refused': z.boolean(),
        'answered-not-rewritten': z.boolean(),
        'copies-prompt': z.boolean(),
        'lost-task': z.boolean(),
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

/** Tokens and cost of one role's calls. */
export interface RoleSpend {
  usage: Usage;
  costUsd: number;
}

/** The calls made to answer a seed (round 0 of the final mix). */
export interface SeedCalls extends RoleSpend {
  reasks: number;
  retries: number;
}

/** One round of one instruction's evolution. */
export interface LineageStep {
  round: number;
  operation: string;
  /** The instruction this round evolved (the last one that passed). */
  parent: string;
  instruction: string;
  response: string;
  verdict: StepVerdict;
  usage: Usage;
  /** LLM answers that were unusable and asked again, and calls retried after a transport fault (absent before). */
  reasks?: number;
  retries?: number;
  /** US dollars by the run's price table (0 when the model has no price). */
  costUsd: number;
  /** Tokens and cost by role (absent before). */
  byRole?: Partial<Record<LlmRole, RoleSpend>>;
}

export type EvolutionStatus = 'running' | 'completed' | 'failed';

/** Everything one instruction went through: the seed and each round. */
export interface Lineage {
  runId: string;
  instructionId: string;
  seed: string;
  status: EvolutionStatus;
  rounds: number;
  steps: LineageStep[];
  /** The newest instruction that passed elimination (the seed if none did). */
  final: string;
  /** The responder's answer to the seed, asked in dataset runs whose seed file gave none (the paper's final mix). */
  seedResponse?: string;
  /** What asking for that answer took. */
  seedCalls?: SeedCalls;
  usage: Usage;
  costUsd: number;
}

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
  operations: import('./operations').Operation[];
  prices: Record<string, import('./pricing').ModelPrice>;
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
  operations?: import('./operations').Operation[];
  /** Prices of the models used, for the cost of each step. */
  prices?: Record<string, import('./pricing').ModelPrice>;
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

export type LlmRetry = z.infer<typeof LlmRetrySchema>;

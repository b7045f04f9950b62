/**
 * Shapes of what travels between the CLI, workflows and activities. Types come from the zod
 * schemas so validation and types never drift apart. Nothing here ever holds a secret: an LLM
 * role names the environment variable its key is read from, on the worker.
 */
import { z } from 'zod';

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
  })
  .strict();
export type LlmEndpoint = z.infer<typeof LlmEndpointSchema>;

export const LlmConfigSchema = z
  .object({ evolver: LlmEndpointSchema, responder: LlmEndpointSchema, judge: LlmEndpointSchema })
  .strict();
export type LlmConfig = z.infer<typeof LlmConfigSchema>;

export const UsageSchema = z.object({
  promptTokens: z.number().int().nonnegative(),
  completionTokens: z.number().int().nonnegative(),
  totalTokens: z.number().int().nonnegative(),
});
export type Usage = z.infer<typeof UsageSchema>;

export { ZERO_USAGE, addUsage } from './usage';

export const OperationSchema = z
  .object({
    id: z.string().min(1),
    kind: z.enum(['in-depth', 'in-breadth', 'downward', 'custom']),
    weight: z.number().positive(),
    system: z.string(),
    template: z.string().min(1),
  })
  .strict();

export const VerdictSchema = z.union([
  z.object({ passed: z.literal(true) }),
  z.object({
    passed: z.literal(false),
    rule: z.enum([
      'no-information-gain',
      'sorry-short',
      'punctuation-stopwords',
      'template-words',
      'unparseable-rewrite',
    ]),
    evidence: z.string(),
  }),
]);

/** One round of one instruction's evolution. */
export interface LineageStep {
  round: number;
  operation: string;
  /** The instruction this round evolved (the last one that passed). */
  parent: string;
  instruction: string;
  response: string;
  verdict: import('./elimination').Verdict | { passed: false; rule: 'unparseable-rewrite'; evidence: string };
  usage: Usage;
  /** US dollars by the run's price table (0 when the model has no price). */
  costUsd: number;
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
  usage: Usage;
  costUsd: number;
}

/** What a dataset run's instruction workflow reads from the run store before its first round. */
export interface InstructionStart {
  text: string;
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
  /** Write the finished lineage to the run store (dataset runs). */
  saveToStore?: boolean;
  /** The dataset workflow to report to when this one ends. */
  parentWorkflowId?: string;
  /** Go on from an earlier failed attempt kept in the run store: from its last good round, or from `fromRound`. */
  resumeFrom?: { fromRound?: number };
  /** Retry policy of the LLM calls, when not the default (10 attempts from 2 s). */
  llmRetry?: LlmRetry;
}

export interface LlmRetry {
  maximumAttempts?: number;
  initialIntervalMs?: number;
}

/**
 * The LLM endpoints a run calls, one per role. Nothing here ever holds a secret: an endpoint names the environment
 * variable its key is read from, on the worker. Types come from the zod schemas (workflow code imports them with
 * `import type` only: see core/settings-schemas.ts for why).
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

export const LlmRetrySchema = z
  .object({
    maximumAttempts: z.number().int().positive().optional(),
    initialIntervalMs: z.number().int().positive().optional(),
  })
  .strict();
export type LlmRetry = z.infer<typeof LlmRetrySchema>;

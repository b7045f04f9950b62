/**
 * Resolves which LLM each role talks to, from a config file and the environment. The result is
 * what workflows carry: endpoints, models and the *names* of key variables, never a key.
 */
import { z } from 'zod';
import { BatchSettingsSchema } from './settings-schemas';
import { DEFAULT_QUALITY } from './quality';
import {
  LLM_ROLES,
  LlmEndpointSchema,
  SIM_BASE_URL,
  type LlmConfig,
  type LlmEndpoint,
  type LlmRole,
} from './endpoints';
import { QualitySettingsSchema, type QualitySettings } from './settings-schemas';
import { plural } from './plural';

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';
export const DEFAULT_MODEL = 'gpt-4o-mini';
export const SIM_MODEL = 'evolforge-sim';

/** Sampling per role, as WizardLM's released scripts call the model, unless the config says otherwise. */
export const ROLE_DEFAULTS: Record<LlmRole, Pick<LlmEndpoint, 'temperature' | 'maxTokens' | 'topP'>> = {
  // The evolver as the paper's script calls it: temperature 1, top_p 0.95, up to 2,048 tokens.
  evolver: { temperature: 1, topP: 0.95, maxTokens: 2048 },
  // Answers are the training targets: room for long ones, a little randomness.
  responder: { temperature: 0.7, maxTokens: 2048 },
  // The judge gives a verdict and two one-word answers (a three-field JSON object): deterministic and short.
  judge: { temperature: 0, maxTokens: 64 },
};

const EndpointOverrideSchema = LlmEndpointSchema.partial().strict();
export type EndpointOverride = z.infer<typeof EndpointOverrideSchema>;

export const ConfigFileSchema = z
  .object({
    llm: z
      .object({
        default: EndpointOverrideSchema.optional(),
        evolver: EndpointOverrideSchema.optional(),
        responder: EndpointOverrideSchema.optional(),
        judge: EndpointOverrideSchema.optional(),
        /** Auto Evol-Instruct's optimizer LLM (starts from the evolver's settings). */
        optimizer: EndpointOverrideSchema.optional(),
        /** `evol score`'s difficulty rater (starts from the judge's settings). */
        scorer: EndpointOverrideSchema.optional(),
      })
      .strict()
      .optional(),
    /** Unusable answers are asked again at once this many times (default 2), then the round fails. */
    unusableRetries: QualitySettingsSchema.shape.unusableRetries.optional(),
    /** Gates and the judge's task rules switched off by name (`copies-prompt: false`); all are on by default. */
    gates: QualitySettingsSchema.shape.gates.optional(),
    /** Rule 4 on the evolver's whole answer, label included, as the paper does (default false). */
    templateWordsOnRawAnswer: z.boolean().optional(),
    /** Batch API mode's settings (batch size, waits, failed rows), for roles with `batch: true` or `--batch`. */
    batch: BatchSettingsSchema.optional(),
  })
  .strict();
export type ConfigFile = z.infer<typeof ConfigFileSchema>;

/** auto: the simulated LLM unless an LLM is configured; sim: always simulated; real: never. */
export type LlmMode = 'auto' | 'sim' | 'real';

export interface ResolvedLlm {
  llm: LlmConfig;
  simulated: boolean;
  /** One line saying which LLM is used and why. */
  description: string;
}

type Env = Record<string, string | undefined>;

function envOverride(env: Env, role: LlmRole | 'default'): EndpointOverride {
  const prefix = role === 'default' ? 'EVOL_' : `EVOL_${role.toUpperCase()}_`;
  const out: EndpointOverride = {};
  if (env[`${prefix}BASE_URL`]) out.baseURL = env[`${prefix}BASE_URL`];
  if (env[`${prefix}MODEL`]) out.model = env[`${prefix}MODEL`];
  if (env[`${prefix}API_KEY_ENV`]) out.apiKeyEnv = env[`${prefix}API_KEY_ENV`];
  return out;
}

function isConfigured(env: Env, file: ConfigFile | undefined): boolean {
  if (env.OPENAI_API_KEY || env.OPENAI_BASE_URL || env.EVOL_BASE_URL) return true;
  if (LLM_ROLES.some((role) => env[`EVOL_${role.toUpperCase()}_BASE_URL`])) return true;
  return Boolean(file?.llm && Object.keys(file.llm).length > 0);
}

export function resolveLlmConfig(options: { env: Env; file?: ConfigFile; mode?: LlmMode }): ResolvedLlm {
  const { env, file } = options;
  const mode = options.mode ?? 'auto';
  const simulated = mode === 'sim' || (mode === 'auto' && !isConfigured(env, file));
  const llm = {} as LlmConfig;
  for (const role of LLM_ROLES) {
    const base: LlmEndpoint = {
      baseURL: env.OPENAI_BASE_URL || OPENAI_DEFAULT_BASE_URL,
      model: DEFAULT_MODEL,
      apiKeyEnv: 'OPENAI_API_KEY',
      requestTimeoutMs: 180_000,
      ...ROLE_DEFAULTS[role],
    };
    const merged = simulated
      ? {
          ...base,
          ...file?.llm?.default,
          ...file?.llm?.[role],
          baseURL: SIM_BASE_URL,
          model: SIM_MODEL,
          requestTimeoutMs: 30_000,
        }
      : {
          ...base,
          ...file?.llm?.default,
          ...envOverride(env, 'default'),
          ...file?.llm?.[role],
          ...envOverride(env, role),
        };
    llm[role] = LlmEndpointSchema.parse(merged);
  }
  const description = simulated
    ? mode === 'sim'
      ? 'Using the built-in deterministic simulated LLM (--llm sim).'
      : 'No LLM configured (OPENAI_API_KEY, OPENAI_BASE_URL and a config file are all absent): using the built-in deterministic simulated LLM. Its output shows the pipeline working, it is not real data.'
    : `Using ${describeEndpoints(llm)}.`;
  return { llm, simulated, description };
}

function describeEndpoints(llm: LlmConfig): string {
  const parts = LLM_ROLES.map((role) => `${role}: ${llm[role].model} at ${llm[role].baseURL}`);
  return parts.join('; ');
}

/** An endpoint's rate limits and batch mode, as `evol run` prints them. */
function limitsOf(e: LlmEndpoint): string {
  const parts = [
    ...(e.rpm ? [`${plural(e.rpm, 'request')}/min`] : []),
    ...(e.tpm ? [`${plural(e.tpm, 'token')}/min`] : []),
    ...(e.batch ? ['through the Batch API'] : []),
  ];
  return parts.length ? `; ${parts.join(', ')}` : '';
}

/** One line per role: model and sampling, as `evol run` prints them before it starts. */
export function describeSampling(llm: Partial<Record<string, LlmEndpoint>>): string[] {
  return Object.entries(llm).flatMap(([role, e]) =>
    e
      ? [
          `  ${role}: ${e.model}, temperature ${e.temperature}${e.topP !== undefined ? `, top_p ${e.topP}` : ''}, up to ${plural(e.maxTokens, 'token')}${limitsOf(e)}`,
        ]
      : [],
  );
}

/**
 * The scorer of `evol score`: the judge's endpoint at temperature 0 with room for a small JSON object, then
 * `llm.scorer` in the config file and EVOL_SCORER_BASE_URL / _MODEL / _API_KEY_ENV.
 */
export function resolveScorer(options: { env: Env; file?: ConfigFile; mode?: LlmMode }): LlmEndpoint {
  const base = resolveLlmConfig(options);
  return LlmEndpointSchema.parse({
    ...base.llm.judge,
    temperature: 0,
    maxTokens: 64,
    ...(base.simulated ? {} : extraRoleOverride(options.env, options.file, 'scorer')),
  });
}

/**
 * A role beyond the three of Evol-Instruct (Auto Evol-Instruct's optimizer, the scorer): `llm.<role>` in the config
 * file, then EVOL_<ROLE>_BASE_URL, _MODEL and _API_KEY_ENV.
 */
export function extraRoleOverride(
  env: Env,
  file: ConfigFile | undefined,
  role: 'optimizer' | 'scorer',
): EndpointOverride {
  const prefix = `EVOL_${role.toUpperCase()}_`;
  return {
    ...file?.llm?.[role],
    ...(env[`${prefix}BASE_URL`] ? { baseURL: env[`${prefix}BASE_URL`] } : {}),
    ...(env[`${prefix}MODEL`] ? { model: env[`${prefix}MODEL`] } : {}),
    ...(env[`${prefix}API_KEY_ENV`] ? { apiKeyEnv: env[`${prefix}API_KEY_ENV`] } : {}),
  };
}

/** The run's re-ask limit and gates: the config file's, over the defaults; a flag's limit over both. */
export function resolveQuality(file: ConfigFile | undefined, unusableRetries?: number): QualitySettings {
  return {
    unusableRetries: unusableRetries ?? file?.unusableRetries ?? DEFAULT_QUALITY.unusableRetries,
    gates: { ...file?.gates },
    ...(file?.templateWordsOnRawAnswer ? { templateWordsOnRawAnswer: true } : {}),
  };
}

import { resolveAutoEvolLlm } from '../../core/auto-evol';
import {
  ConfigFileSchema,
  describeSampling,
  resolveLlmConfig,
  resolveQuality,
  resolveScorer,
  SIM_MODEL,
} from '../../core/config';
import { SIM_BASE_URL } from '../../core/endpoints';

describe('resolving which LLM each role uses', () => {
  test('nothing configured means the simulated LLM, and it says so', () => {
    const resolved = resolveLlmConfig({ env: {} });
    expect(resolved.simulated).toBe(true);
    expect(resolved.llm.evolver.baseURL).toBe(SIM_BASE_URL);
    expect(resolved.llm.judge.model).toBe(SIM_MODEL);
    expect(resolved.description).toMatch(/simulated LLM/);
  });

  test('an API key selects the real OpenAI endpoint with role defaults', () => {
    const resolved = resolveLlmConfig({ env: { OPENAI_API_KEY: 'sk-x' } });
    expect(resolved.simulated).toBe(false);
    expect(resolved.llm.responder.baseURL).toBe('https://api.openai.com/v1');
    expect(resolved.llm.judge.temperature).toBe(0);
    expect(JSON.stringify(resolved)).not.toContain('sk-x');
  });

  test('OPENAI_BASE_URL alone selects a local server', () => {
    const resolved = resolveLlmConfig({ env: { OPENAI_BASE_URL: 'http://localhost:11434/v1', EVOL_MODEL: 'llama3' } });
    expect(resolved.simulated).toBe(false);
    expect(resolved.llm.evolver).toMatchObject({ baseURL: 'http://localhost:11434/v1', model: 'llama3' });
  });

  test('per-role settings beat general ones, the environment beats the file at the same level', () => {
    const resolved = resolveLlmConfig({
      env: { OPENAI_API_KEY: 'k', EVOL_JUDGE_MODEL: 'judge-env' },
      file: { llm: { default: { model: 'file-default' }, judge: { model: 'judge-file', apiKeyEnv: 'JUDGE_KEY' } } },
    });
    expect(resolved.llm.evolver.model).toBe('file-default');
    expect(resolved.llm.judge).toMatchObject({ model: 'judge-env', apiKeyEnv: 'JUDGE_KEY' });
  });

  test('--llm sim wins over a configured key; --llm real refuses the simulator', () => {
    expect(resolveLlmConfig({ env: { OPENAI_API_KEY: 'k' }, mode: 'sim' }).simulated).toBe(true);
    expect(resolveLlmConfig({ env: {}, mode: 'real' }).simulated).toBe(false);
  });
});

describe('sampling per role, as the papers used it', () => {
  test('the evolver samples at temperature 1 and top_p 0.95 with room for 2,048 tokens; the judge is deterministic and short', () => {
    const { llm } = resolveLlmConfig({ env: { OPENAI_API_KEY: 'k' } });
    expect(llm.evolver).toMatchObject({ temperature: 1, topP: 0.95, maxTokens: 2048 });
    expect(llm.judge).toMatchObject({ temperature: 0, maxTokens: 64 });
    expect(llm.judge.topP).toBeUndefined();
    expect(llm.responder).toMatchObject({ temperature: 0.7, maxTokens: 2048 });
  });

  test('each role can be set in the config file, top_p included', () => {
    const { llm } = resolveLlmConfig({
      env: { OPENAI_API_KEY: 'k' },
      file: { llm: { evolver: { temperature: 0.7, topP: 0.9 }, judge: { structuredOutput: false } } },
    });
    expect(llm.evolver).toMatchObject({ temperature: 0.7, topP: 0.9 });
    expect(llm.judge.structuredOutput).toBe(false);
  });

  test('the first lines of a run say what each role uses', () => {
    const { llm } = resolveLlmConfig({ env: { OPENAI_API_KEY: 'k' } });
    expect(describeSampling(llm)).toEqual([
      '  evolver: gpt-4o-mini, temperature 1, top_p 0.95, up to 2048 tokens',
      '  responder: gpt-4o-mini, temperature 0.7, up to 2048 tokens',
      '  judge: gpt-4o-mini, temperature 0, up to 64 tokens',
    ]);
  });

  test('Auto Evol-Instruct answers its dev set with the evol LLM at temperature 0, as the paper does', () => {
    const { llm } = resolveAutoEvolLlm({ env: { OPENAI_API_KEY: 'k' } });
    expect(llm.evol.temperature).toBe(0);
    expect(llm.responder).toEqual(llm.evol);
    expect(llm.optimizer.temperature).toBe(0.6);
  });
});

describe('the re-ask limit and the gates of a run', () => {
  test('defaults: two re-asks, every gate on', () => {
    expect(resolveQuality(undefined)).toEqual({ unusableRetries: 2, gates: {} });
  });

  test('the config file sets them; a flag beats the file', () => {
    const file = ConfigFileSchema.parse({ unusableRetries: 4, gates: { 'copies-prompt': false } });
    expect(resolveQuality(file)).toEqual({ unusableRetries: 4, gates: { 'copies-prompt': false } });
    expect(resolveQuality(file, 0).unusableRetries).toBe(0);
  });

  test('an unknown gate or a negative limit is refused by the config schema', () => {
    expect(ConfigFileSchema.safeParse({ gates: { 'no-such-gate': false } }).success).toBe(false);
    expect(ConfigFileSchema.safeParse({ unusableRetries: -1 }).success).toBe(false);
  });
});

describe('the roles beyond the three', () => {
  test('the scorer starts from the judge at temperature 0, and takes llm.scorer and EVOL_SCORER_* over it', () => {
    const env = { OPENAI_API_KEY: 'k', EVOL_JUDGE_MODEL: 'judge-m', EVOL_SCORER_API_KEY_ENV: 'SCORER_KEY' };
    expect(resolveScorer({ env })).toMatchObject({
      model: 'judge-m',
      temperature: 0,
      maxTokens: 64,
      apiKeyEnv: 'SCORER_KEY',
    });
    expect(
      resolveScorer({ env: { ...env, EVOL_SCORER_MODEL: 'rater' }, file: { llm: { scorer: { model: 'file-rater' } } } })
        .model,
    ).toBe('rater');
    expect(resolveScorer({ env, file: { llm: { scorer: { model: 'file-rater' } } } }).model).toBe('file-rater');
  });

  test('the optimizer takes EVOL_OPTIMIZER_* the same way', () => {
    const { llm } = resolveAutoEvolLlm({ env: { OPENAI_API_KEY: 'k', EVOL_OPTIMIZER_MODEL: 'big' } });
    expect(llm.optimizer.model).toBe('big');
    expect(llm.evol.model).toBe('gpt-4o-mini');
  });
});

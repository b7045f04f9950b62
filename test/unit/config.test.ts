import { resolveLlmConfig, SIM_MODEL } from '../../core/config';
import { SIM_BASE_URL } from '../../core/schemas';

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

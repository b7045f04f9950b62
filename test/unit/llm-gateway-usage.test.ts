/**
 * What the gateway reads from a completion besides its text: prompt tokens served from the provider's cache, over
 * HTTP through the real openai client to the simulated LLM with its prompt cache on.
 */
import { LlmGateway } from '../../activities/llm';
import type { LlmEndpoint } from '../../core/endpoints';
import { startSimLlm, type SimLlm } from '../../sim/llm-server';

let sim: SimLlm;
let endpoint: LlmEndpoint;

beforeAll(async () => {
  sim = await startSimLlm({ promptCache: { minTokens: 1 } });
  endpoint = {
    baseURL: sim.url,
    model: 'sim-1',
    temperature: 0,
    maxTokens: 64,
    apiKeyEnv: 'EVOL_UNIT_NO_KEY',
    requestTimeoutMs: 5000,
  };
});

afterAll(() => sim?.close());

test('cached prompt tokens are read from usage.prompt_tokens_details, and absent when none were cached', async () => {
  const gateway = new LlmGateway({ env: () => ({}) });
  const system = { role: 'system' as const, content: 'You answer questions about the sea, briefly and plainly.' };
  const first = await gateway.complete('responder', endpoint, [system, { role: 'user', content: 'What is a tide?' }]);
  expect(first.usage.cachedPromptTokens).toBeUndefined();
  const second = await gateway.complete('responder', endpoint, [system, { role: 'user', content: 'What is a wave?' }]);
  expect(second.usage.cachedPromptTokens).toBeGreaterThan(0);
  expect(second.usage.cachedPromptTokens).toBeLessThan(second.usage.promptTokens);
});

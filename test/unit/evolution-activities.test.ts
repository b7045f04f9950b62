/**
 * The LLM activities of an evolution round in Temporal's MockActivityEnvironment: the real LlmGateway and openai
 * client over HTTP to the simulated LLM in this process, scripted per test. What they return (a usable result, an
 * unusable one for the workflow to ask again, or a thrown fault for Temporal's retries) is the contract the
 * workflows rely on.
 */
import { ApplicationFailure } from '@temporalio/common';
import { createEvolutionActivities, type JudgeEqualityInput } from '../../activities/evolution';
import { LlmGateway } from '../../activities/llm';
import { LlmFailure } from '../../core/llm-failures';
import { GENERAL_OPERATIONS } from '../../core/operations';
import type { LlmEndpoint } from '../../core/endpoints';
import { startSimLlm, type SimLlm } from '../../sim/llm-server';
import { ActivityEnv } from '../helpers/activity-env';

const REFUSAL = "I'm sorry, but I can't help with that request.";
const PARENT = 'Explain how tides work to a beginner.';
const addConstraints = GENERAL_OPERATIONS.find((op) => op.id === 'add-constraints')!;

let sim: SimLlm;
let endpoint: LlmEndpoint;
const activities = createEvolutionActivities(new LlmGateway({ env: () => ({}) }));

beforeAll(async () => {
  sim = await startSimLlm({ keepMessages: true });
  endpoint = {
    baseURL: sim.url,
    model: 'sim-1',
    temperature: 0,
    maxTokens: 256,
    apiKeyEnv: 'EVOL_UNIT_NO_KEY',
    requestTimeoutMs: 5000,
  };
});

afterAll(() => sim?.close());

afterEach(() => {
  sim.clearRules();
  sim.resetRequests();
});

const mutateInput = { operation: addConstraints, instruction: PARENT };

describe('mutate', () => {
  test('a good rewrite passes the gates, and the result carries the attempt Temporal is on', async () => {
    const result = await new ActivityEnv({ attempt: 3 }).call(activities.mutate, { ...mutateInput, evolver: endpoint });
    expect(result).toMatchObject({ ok: true, gate: { passed: true }, attempt: 3 });
    expect(result.ok && result.instruction).not.toBe(PARENT);
    expect(sim.requests().map((r) => r.kind)).toEqual(['mutate']);
  });

  test('a refused rewrite is a result whose gate verdict names the gate that caught it, not a fault', async () => {
    sim.addRule({ match: { kind: 'mutate' }, content: REFUSAL });
    const result = await new ActivityEnv().call(activities.mutate, { ...mutateInput, evolver: endpoint });
    expect(result).toMatchObject({
      ok: true,
      instruction: REFUSAL,
      gate: { passed: false, rule: 'evolver-refused', evidence: expect.stringContaining("I'm sorry") },
      attempt: 1,
    });
  });

  test('a switched-off gate lets the same refusal through', async () => {
    sim.addRule({ match: { kind: 'mutate' }, content: REFUSAL });
    const result = await new ActivityEnv().call(activities.mutate, {
      ...mutateInput,
      evolver: endpoint,
      gates: { 'evolver-refused': false },
    });
    expect(result).toMatchObject({ ok: true, instruction: REFUSAL });
    expect(result.ok && result.gate).not.toMatchObject({ rule: 'evolver-refused' });
  });

  test('an answer with no task in it is unusable, with the answer kept to show the model when asking again', async () => {
    sim.addRule({ match: { kind: 'mutate' }, content: '***', times: 1 });
    const env = new ActivityEnv({ attempt: 2 });
    const first = await env.call(activities.mutate, { ...mutateInput, evolver: endpoint });
    expect(first).toEqual({
      ok: false,
      unusable: { reason: expect.stringMatching(/holds no rewritten task/), answer: '***' },
      usage: expect.objectContaining({ totalTokens: expect.any(Number) }),
      attempt: 2,
    });

    // Asked again with that answer: the model is shown why it was unusable, and this time answers with a task.
    if (first.ok !== false) throw new Error('expected an unusable answer');
    const second = await env.call(activities.mutate, { ...mutateInput, evolver: endpoint, reask: first.unusable });
    expect(second).toMatchObject({ ok: true, gate: { passed: true } });
    const [asked, askedAgain] = sim.requests().map((r) => r.messages!.map((m) => m.content).join('\n'));
    expect(asked).not.toContain(first.unusable.reason);
    expect(askedAgain).toContain(first.unusable.reason);
  });

  test('an empty answer is unusable too', async () => {
    sim.addRule({ match: { kind: 'mutate' }, fault: 'empty-content' });
    await expect(
      new ActivityEnv().call(activities.mutate, { ...mutateInput, evolver: endpoint }),
    ).resolves.toMatchObject({
      ok: false,
      unusable: { reason: 'the answer was empty', answer: '' },
    });
  });

  test('a transport fault is thrown, retryable: only Temporal may ask again after it', async () => {
    sim.addRule({ match: { kind: 'mutate' }, status: 503 });
    const error = await new ActivityEnv()
      .call(activities.mutate, { ...mutateInput, evolver: endpoint })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: LlmFailure.ServerError, nonRetryable: false });
  });
});

describe('respond', () => {
  test('a short "sorry" answer is returned with rule 2 failed', async () => {
    sim.addRule({ match: { kind: 'respond' }, content: 'Sorry, I cannot do that.' });
    const result = await new ActivityEnv().call(activities.respond, {
      responder: endpoint,
      instruction: PARENT,
    });
    expect(result).toMatchObject({
      ok: true,
      response: 'Sorry, I cannot do that.',
      rules: { passed: false, rule: 'sorry-short' },
    });
  });

  test('a real answer passes rules 2 and 3', async () => {
    const result = await new ActivityEnv().call(activities.respond, {
      responder: endpoint,
      instruction: PARENT,
    });
    expect(result).toMatchObject({ ok: true, rules: { passed: true } });
  });
});

describe('judgeEquality', () => {
  const judge = (content?: string, more: Partial<JudgeEqualityInput> = {}) => {
    if (content !== undefined) sim.addRule({ match: { kind: 'judge' }, content });
    return new ActivityEnv().call(activities.judgeEquality, {
      judge: endpoint,
      parent: PARENT,
      instruction: `${PARENT} Use one diagram.`,
      ...more,
    });
  };
  const says = (kind: string, keeps: string) =>
    JSON.stringify({ second_is: kind, keeps_task: keeps, verdict: 'NOT EQUAL' });

  test('the usual answer: the JSON object asked for, every field given, the rewrite passes', async () => {
    const result = await judge(undefined, { operationKind: 'in-depth' });
    expect(result).toMatchObject({ ok: true, said: { kind: 'task', keepsTask: true } });
  });

  test('an answer or a statement instead of a task fails judge-not-a-task', async () => {
    await expect(judge(says('ANSWER', 'YES'))).resolves.toMatchObject({
      ok: true,
      verdict: { passed: false, rule: 'judge-not-a-task', evidence: expect.stringContaining('an answer') },
      said: { kind: 'answer', keepsTask: true },
    });
    sim.clearRules();
    await expect(judge(says('STATEMENT', 'YES'))).resolves.toMatchObject({
      verdict: { passed: false, rule: 'judge-not-a-task', evidence: expect.stringContaining('asks for nothing') },
    });
  });

  test("a rewrite that no longer asks for its parent's task fails judge-lost-task, unless its operation writes a new task", async () => {
    await expect(judge(says('TASK', 'NO'), { operationKind: 'in-depth' })).resolves.toMatchObject({
      verdict: { passed: false, rule: 'judge-lost-task' },
    });
    for (const operationKind of ['in-breadth', 'downward'] as const) {
      await expect(judge(undefined, { operationKind })).resolves.toMatchObject({ verdict: { passed: true } });
    }
  });

  test('each rule can be switched off in the gates settings', async () => {
    await expect(judge(says('ANSWER', 'NO'), { gates: { 'judge-not-a-task': false } })).resolves.toMatchObject({
      verdict: { passed: false, rule: 'judge-lost-task' },
    });
    sim.clearRules();
    await expect(
      judge(says('ANSWER', 'NO'), { gates: { 'judge-not-a-task': false, 'judge-lost-task': false } }),
    ).resolves.toMatchObject({ verdict: { passed: true }, said: { kind: 'answer', keepsTask: false } });
  });

  test('the verdict alone: the other two are unknown, and the rewrite is judged by rule 1 only', async () => {
    await expect(judge('NOT EQUAL')).resolves.toMatchObject({
      ok: true,
      verdict: { passed: true },
      said: { kind: 'unknown', keepsTask: 'unknown' },
    });
  });

  test('EQUAL fails rule 1, NOT EQUAL passes', async () => {
    await expect(judge('EQUAL')).resolves.toMatchObject({
      ok: true,
      verdict: { passed: false, rule: 'no-information-gain' },
    });
    sim.clearRules();
    await expect(judge('{"verdict": "NOT EQUAL"}')).resolves.toMatchObject({ ok: true, verdict: { passed: true } });
  });

  test('an answer that is neither is unusable, with the answer kept', async () => {
    await expect(judge('Hard to say, both are fine.')).resolves.toEqual({
      ok: false,
      unusable: { reason: 'it gives neither EQUAL nor NOT EQUAL', answer: 'Hard to say, both are fine.' },
      usage: expect.any(Object),
      attempt: 1,
    });
  });
});

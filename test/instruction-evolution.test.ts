import type { Client, Connection } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { startInstructionEvolution } from '../client/api';
import { GENERAL_OPERATIONS } from '../core/operations';
import { planOperations } from '../core/plan';
import type { Lineage } from '../core/schemas';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { lineageQuery } from '../workflows';
import { connectClient, eventually, llmAt, startWorker, uniqueTaskQueue, type TestWorker } from './helpers/temporal';

const LONG_ANSWER =
  'Tides rise and fall because the Moon and, to a lesser degree, the Sun pull on the oceans, and the Earth turns beneath the resulting bulges of water twice a day.';

describe('instructionEvolution on a real dev server and worker, LLM over HTTP', () => {
  let sim: SimLlm;
  let client: Client;
  let connection: Connection;
  let worker: TestWorker;
  let taskQueue: string;
  let counter = 0;

  beforeAll(async () => {
    sim = await startSimLlm({ keepMessages: true });
    ({ client, connection } = await connectClient());
    taskQueue = uniqueTaskQueue('instr');
    worker = await startWorker({ taskQueue, env: () => ({ EVOL_TEST_API_KEY: 'test-key' }) });
  });

  afterAll(async () => {
    await worker?.close();
    await connection?.close();
    await sim?.close();
  });

  afterEach(() => sim.clearRules());

  function start(instruction: string, options: { rounds?: number; seed?: number; instructionId?: string } = {}) {
    counter++;
    return startInstructionEvolution(client, taskQueue, {
      runId: `t${Date.now().toString(36)}${counter}`,
      instructionId: options.instructionId ?? `i${counter}`,
      instruction,
      rounds: options.rounds ?? 4,
      seed: options.seed ?? 1,
      llm: llmAt(sim.url),
    });
  }

  test('four rounds give a lineage of the seed and four steps, each with operation, response, verdict and usage', async () => {
    const seed = 'Explain how a rainbow forms.';
    const lineage = await (await start(seed)).result();
    expect(lineage.status).toBe('completed');
    expect(lineage.seed).toBe(seed);
    expect(lineage.steps.map((s) => s.round)).toEqual([1, 2, 3, 4]);
    for (const step of lineage.steps) {
      expect(GENERAL_OPERATIONS.map((o) => o.id)).toContain(step.operation);
      expect(step.instruction.length).toBeGreaterThan(0);
      expect(step.response.length).toBeGreaterThan(0);
      expect(step.usage.totalTokens).toBeGreaterThan(0);
    }
    const passed = lineage.steps.filter((s) => s.verdict.passed);
    expect(lineage.final).toBe(passed.length ? passed[passed.length - 1].instruction : seed);
    expect(lineage.usage.totalTokens).toBe(lineage.steps.reduce((sum, s) => sum + s.usage.totalTokens, 0));
  });

  test('a judge answering "equal" eliminates the round and the next round evolves the parent again', async () => {
    const seed = 'Describe the water cycle UNIQUE-EQ.';
    sim.addRule({ match: { kind: 'respond', contains: 'UNIQUE-EQ' }, content: LONG_ANSWER });
    sim.addRule({ match: { kind: 'judge', contains: 'UNIQUE-EQ' }, content: 'EQUAL', times: 1 });
    const handle = await start(seed, { rounds: 2 });
    const lineage = await handle.result();
    expect(lineage.steps[0].verdict).toEqual({
      passed: false,
      rule: 'no-information-gain',
      evidence: expect.any(String),
    });
    expect(lineage.steps[1].parent).toBe(seed);
    expect(lineage.steps[1].verdict.passed).toBe(true);
    expect(lineage.final).toBe(lineage.steps[1].instruction);

    // The verdict is in the history, as the eliminate activity's result.
    const history = await handle.fetchHistory();
    const results = (history.events ?? [])
      .map((e) => e.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data)
      .filter((d): d is Uint8Array => Boolean(d))
      .map((d) => Buffer.from(d).toString('utf8'));
    expect(results.some((r) => r.includes('no-information-gain'))).toBe(true);
  });

  test('a deterministic rule eliminates without asking the judge', async () => {
    const seed = 'Name a famous bridge UNIQUE-SORRY.';
    sim.addRule({
      match: { kind: 'respond', contains: 'UNIQUE-SORRY' },
      content: "Sorry, I can't answer that.",
      times: 1,
    });
    sim.resetRequests();
    const lineage = await (await start(seed, { rounds: 1 })).result();
    expect(lineage.steps[0].verdict).toMatchObject({ passed: false, rule: 'sorry-short' });
    expect(sim.requests().filter((r) => r.kind === 'judge')).toHaveLength(0);
    expect(lineage.final).toBe(seed);
  });

  test('a 429 with Retry-After is retried by Temporal and the evolution succeeds', async () => {
    const seed = 'List three uses of copper UNIQUE-429.';
    sim.addRule({
      match: { kind: 'mutate', contains: 'UNIQUE-429' },
      status: 429,
      headers: { 'retry-after': '1' },
      times: 1,
    });
    sim.resetRequests();
    const handle = await start(seed, { rounds: 1 });
    const lineage = await handle.result();
    expect(lineage.status).toBe('completed');
    const mutates = sim.requests().filter((r) => r.kind === 'mutate');
    expect(mutates.map((r) => r.status)).toEqual([429, 200]);
    // Both attempts are the same request, and the history shows the activity needed a second attempt.
    expect(mutates[0].key).toBe(mutates[1].key);
    const history = await handle.fetchHistory();
    const attempts = (history.events ?? []).map((e) => e.activityTaskStartedEventAttributes?.attempt).filter(Boolean);
    expect(attempts).toContain(2);
  });

  test('a 401 fails the workflow at once, without retries, naming the key setting', async () => {
    const seed = 'Summarise the plot of Hamlet UNIQUE-401.';
    sim.addRule({ match: { contains: 'UNIQUE-401' }, status: 401 });
    sim.resetRequests();
    const handle = await start(seed, { rounds: 2 });
    const error = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const activityFailure = (error as WorkflowFailedError).cause;
    expect(activityFailure).toBeInstanceOf(ActivityFailure);
    const cause = (activityFailure as ActivityFailure).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('LlmAuthenticationError');
    expect((cause as ApplicationFailure).message).toContain('EVOL_TEST_API_KEY');
    expect(sim.requests()).toHaveLength(1);
  });

  test('the same seed gives the same operation plan, a different seed a different one', async () => {
    const instructionId = 'plan-check';
    const seed = 'Give tips for learning a new language.';
    const plan = (s: number) => planOperations(GENERAL_OPERATIONS, s, instructionId, 4).map((o) => o.id);
    expect(plan(11)).not.toEqual(plan(12));
    const [a, b, c] = await Promise.all(
      [11, 11, 12].map(async (s) => (await start(seed, { seed: s, instructionId })).result()),
    );
    const ops = (l: Lineage) => l.steps.map((s) => s.operation);
    expect(ops(a)).toEqual(plan(11));
    expect(ops(b)).toEqual(ops(a));
    expect(ops(c)).toEqual(plan(12));
  });

  test('the lineage is readable by query while the workflow runs', async () => {
    const seed = 'Compare two sorting algorithms UNIQUE-SLOW.';
    sim.addRule({ match: { kind: 'respond', contains: 'UNIQUE-SLOW' }, latencyMs: 700 });
    const handle = await start(seed, { rounds: 3 });
    const partial = await eventually(async () => {
      const lineage = await handle.query(lineageQuery);
      return lineage.steps.length >= 1 && lineage.status === 'running' ? lineage : undefined;
    }, 'a running workflow with one finished round');
    expect(partial.steps[0].round).toBe(1);
    const final = await handle.result();
    expect(final.steps.slice(0, partial.steps.length)).toEqual(partial.steps);
  });
});

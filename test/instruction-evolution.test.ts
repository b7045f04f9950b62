import type { Client, Connection } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { startSingleInstruction } from '../client/api';
import { GENERAL_OPERATIONS } from '../core/operations';
import { planOperations } from '../core/plan';
import type { Lineage } from '../core/lineage';
import type { GateSwitches } from '../core/gates';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { answerRequest } from '../sim/respond';
import { lineageQuery } from '../core/messages';
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
    return startSingleInstruction(client, taskQueue, {
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

  test('a response that fails rule 2 eliminates the round, whatever the judge said at the same time', async () => {
    const seed = 'Name a famous bridge UNIQUE-SORRY.';
    sim.addRule({
      match: { kind: 'respond', contains: 'UNIQUE-SORRY' },
      content: "Sorry, I can't answer that.",
      times: 1,
    });
    sim.resetRequests();
    const lineage = await (await start(seed, { rounds: 1 })).result();
    expect(lineage.steps[0].verdict).toMatchObject({ passed: false, rule: 'sorry-short' });
    // Response and verdict are asked at the same time: two round trips per round, one judge call wasted here.
    expect(sim.requests().filter((r) => r.kind === 'judge')).toHaveLength(1);
    expect(lineage.final).toBe(seed);
  });

  test('a rewrite that fails a gate is answered by nobody: no response, no verdict asked', async () => {
    const seed = 'Describe the rules of chess UNIQUE-REFUSE.';
    sim.addRule({
      match: { kind: 'mutate', contains: 'UNIQUE-REFUSE' },
      content: "I'm sorry, but I can't help with that request.",
      times: 1,
    });
    sim.resetRequests();
    const lineage = await (await start(seed, { rounds: 1 })).result();
    expect(lineage.steps[0].verdict).toMatchObject({ passed: false, rule: 'evolver-refused' });
    expect(lineage.steps[0].verdict.passed === false && lineage.steps[0].verdict.evidence).toContain("I'm sorry");
    expect(sim.requests().map((r) => r.kind)).toEqual(['mutate']);
    expect(lineage.final).toBe(seed);
  });

  test('a judge that answers in prose is asked again at once, twice at most, then the round fails as judge-unusable', async () => {
    const seed = 'Plan a three-day trip to Kyoto UNIQUE-PROSE.';
    const prose = 'The first task is designed to be a complex one, and the second task requires more thought.';
    sim.addRule({ match: { kind: 'judge', contains: 'UNIQUE-PROSE' }, content: prose });
    sim.resetRequests();
    const handle = await start(seed, { rounds: 1 });
    const lineage = await handle.result();
    const step = lineage.steps[0];
    expect(step.verdict).toMatchObject({ passed: false, rule: 'judge-unusable' });
    expect(step.verdict.passed === false && step.verdict.evidence).toContain('in 3 asks');
    expect(step.verdict.passed === false && step.verdict.evidence).toContain('The first task is designed');
    expect(step.reasks).toBe(2);
    const judged = sim.requests().filter((r) => r.kind === 'judge');
    expect(judged).toHaveLength(3);
    // The second and third asks show the model its answer and say what to send instead.
    expect(judged[1].messages?.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(judged[1].messages?.[2].content).toBe(prose);
    // Asked at once: every activity ran on its first attempt, none waited for a retry backoff.
    const history = await handle.fetchHistory();
    const attempts = (history.events ?? []).flatMap((e) => e.activityTaskStartedEventAttributes?.attempt ?? []);
    expect(attempts.length).toBeGreaterThanOrEqual(5);
    expect(new Set(attempts)).toEqual(new Set([1]));
    expect(lineage.final).toBe(seed);
  });

  test('an unusable answer that becomes usable when asked again counts once as re-asked', async () => {
    const seed = 'Explain compound interest UNIQUE-ONCE.';
    sim.addRule({ match: { kind: 'judge', contains: 'UNIQUE-ONCE' }, content: 'Hmm, let me think.', times: 1 });
    sim.addRule({ match: { kind: 'judge', contains: 'UNIQUE-ONCE' }, content: 'NOT EQUAL', times: 1 });
    sim.addRule({ match: { kind: 'respond', contains: 'UNIQUE-ONCE' }, content: LONG_ANSWER });
    const lineage = await (await start(seed, { rounds: 1 })).result();
    expect(lineage.steps[0].verdict).toEqual({ passed: true });
    expect(lineage.steps[0].reasks).toBe(1);
  });

  test('an evolver that keeps answering nothing fails the round as rewrite-unusable after the re-ask limit', async () => {
    const seed = 'Write a limerick about a cat UNIQUE-EMPTY.';
    sim.addRule({ match: { kind: 'mutate', contains: 'UNIQUE-EMPTY' }, fault: 'empty-content' });
    sim.resetRequests();
    const handle = await startSingleInstruction(client, taskQueue, {
      runId: `t${Date.now().toString(36)}empty`,
      instructionId: 'empty',
      instruction: seed,
      rounds: 1,
      seed: 1,
      llm: llmAt(sim.url),
      quality: { unusableRetries: 1, gates: {} },
    });
    const lineage = await handle.result();
    expect(lineage.steps[0].verdict).toMatchObject({ passed: false, rule: 'rewrite-unusable' });
    expect(lineage.steps[0].verdict.passed === false && lineage.steps[0].verdict.evidence).toContain('in 2 asks');
    expect(sim.requests().map((r) => r.kind)).toEqual(['mutate', 'mutate']);
  });

  test('a gate switched off lets its rewrite through', async () => {
    const seed = 'Summarise a news article UNIQUE-GATEOFF.';
    const copy = 'Rewrite the task below into a version that is somewhat harder for a capable assistant.';
    sim.addRule({ match: { kind: 'mutate', contains: 'UNIQUE-GATEOFF' }, content: copy });
    sim.addRule({ match: { kind: 'respond', contains: 'UNIQUE-GATEOFF' }, content: LONG_ANSWER });
    // A judge that gives the verdict alone: only the gate decides.
    sim.addRule({ match: { kind: 'judge', contains: 'UNIQUE-GATEOFF' }, content: 'NOT EQUAL' });
    const run = async (gates: Record<string, boolean>) =>
      (
        await startSingleInstruction(client, taskQueue, {
          runId: `t${Date.now().toString(36)}g${Object.keys(gates).length}`,
          instructionId: `gate-${Object.keys(gates).length}`,
          instruction: seed,
          rounds: 1,
          seed: 1,
          llm: llmAt(sim.url),
          quality: { unusableRetries: 2, gates },
        })
      ).result();
    expect((await run({})).steps[0].verdict).toMatchObject({ passed: false, rule: 'copies-prompt' });
    expect((await run({ 'copies-prompt': false })).steps[0].verdict).toEqual({ passed: true });
  });

  /** One round of add-constraints on `seed`, with these gates and judge rules switched off. */
  async function oneRound(seed: string, label: string, gates: GateSwitches) {
    const handle = await startSingleInstruction(client, taskQueue, {
      runId: `t${Date.now().toString(36)}${label}`,
      instructionId: label,
      instruction: seed,
      rounds: 1,
      seed: 1,
      llm: llmAt(sim.url),
      operations: [GENERAL_OPERATIONS.find((op) => op.id === 'add-constraints')!],
      quality: { unusableRetries: 2, gates },
    });
    return { handle, lineage: await handle.result() };
  }

  test('the judge finds the rewrite an answer to its parent, not a task: judge-not-a-task, in the same call as rule 1', async () => {
    const seed = 'Describe the water cycle UNIQUE-ANSWERED.';
    // The evolver answers the task instead of rewriting it, in the simulated responder's words (the simulated judge
    // knows them); its numbered points would fail answered-not-rewritten first, so that gate is off here.
    sim.addRule({ match: { kind: 'mutate', contains: 'UNIQUE-ANSWERED' }, content: answerRequest(seed) });
    sim.addRule({ match: { kind: 'respond', contains: 'UNIQUE-ANSWERED' }, content: LONG_ANSWER });
    expect((await oneRound(seed, 'answered-gate', {})).lineage.steps[0].verdict).toMatchObject({
      passed: false,
      rule: 'answered-not-rewritten',
    });
    sim.resetRequests();
    const { handle, lineage } = await oneRound(seed, 'answered', { 'answered-not-rewritten': false });
    expect(lineage.steps[0].verdict).toEqual({
      passed: false,
      rule: 'judge-not-a-task',
      evidence: 'the judge found the rewrite an answer to its parent, not a task',
    });
    expect(lineage.final).toBe(seed);
    // One judge call for the round: the further answers came with the verdict.
    expect(sim.requests().map((r) => r.kind)).toEqual(['mutate', 'respond', 'judge']);
    // What the judge said is in the history, as the judge activity's result.
    const history = await handle.fetchHistory();
    const judged = (history.events ?? [])
      .map((e) => e.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data)
      .filter((d): d is Uint8Array => Boolean(d))
      .map((d) => JSON.parse(Buffer.from(d).toString('utf8')) as { said?: unknown })
      .find((r) => r.said);
    expect(judged?.said).toEqual({ kind: 'answer', keepsTask: true });
  });

  test("the judge finds the rewrite no longer asks for its parent's task: judge-lost-task, and it can be switched off", async () => {
    const seed = 'Explain how a lighthouse lens focuses its beam UNIQUE-LOST.';
    sim.addRule({
      match: { kind: 'mutate', contains: 'UNIQUE-LOST' },
      content: 'Write a limerick about a sleepy cat who naps on a warm windowsill every afternoon.',
    });
    sim.addRule({ match: { kind: 'respond', contains: 'sleepy cat' }, content: LONG_ANSWER });
    expect((await oneRound(seed, 'lost', {})).lineage.steps[0].verdict).toEqual({
      passed: false,
      rule: 'judge-lost-task',
      evidence: "the judge found that the rewrite no longer asks for its parent's task",
    });
    expect((await oneRound(seed, 'lost-off', { 'judge-lost-task': false })).lineage.steps[0].verdict).toEqual({
      passed: true,
    });
  });

  test("rule 4 after a leading label is stripped keeps the cleaned rewrite; the paper's way, on the whole answer, drops it", async () => {
    const seed = 'Explain how tides work UNIQUE-LABEL.';
    sim.addRule({
      match: { kind: 'mutate', contains: 'UNIQUE-LABEL' },
      content:
        '#Rewritten Prompt#: Explain how tides work UNIQUE-LABEL, naming the role of the Sun as well as the Moon.',
    });
    sim.addRule({ match: { kind: 'respond', contains: 'UNIQUE-LABEL' }, content: LONG_ANSWER });
    sim.addRule({ match: { kind: 'judge', contains: 'UNIQUE-LABEL' }, content: 'NOT EQUAL' });
    const run = async (templateWordsOnRawAnswer: boolean) =>
      (
        await startSingleInstruction(client, taskQueue, {
          runId: `t${Date.now().toString(36)}r${Number(templateWordsOnRawAnswer)}`,
          instructionId: `label-${Number(templateWordsOnRawAnswer)}`,
          instruction: seed,
          rounds: 1,
          seed: 1,
          llm: llmAt(sim.url),
          quality: { unusableRetries: 2, gates: {}, templateWordsOnRawAnswer },
        })
      ).result();
    const ours = await run(false);
    expect(ours.steps[0].verdict).toEqual({ passed: true });
    expect(ours.steps[0].instruction).toMatch(/^Explain how tides work/);
    expect((await run(true)).steps[0].verdict).toMatchObject({ passed: false, rule: 'template-words' });
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

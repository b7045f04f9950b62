import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection, WorkflowHandle } from '@temporalio/client';
import { startSingleInstruction } from '../client/api';
import { createAutoRun, startAutoRun } from '../client/api';
import { failureRateChart, formatStep, latestLearning } from '../client/auto';
import {
  DEFAULT_FAILURE_PATTERNS,
  detectFailure,
  E0_LABELS,
  EVOL_METHOD_SYSTEM,
  INITIAL_METHOD,
  judgeEvolution,
  OPTIMIZE_LEAD,
  parseEvolAnswer,
  parseOptimizedMethod,
  parseSampleLine,
  type AutoEvolLlm,
  type AutoEvolSettings,
  type AutoProgress,
} from '../core/auto-evol';
import { INSTRUCTION_PLACEHOLDER } from '../core/chat';
import { RESPONDER_SYSTEM } from '../core/operations';
import { prngFor } from '../core/prng';
import { SIM_GUARD_LINE, SIM_LOST_FIGURES } from '../sim/auto-evol';
import { startSimLlm, type SimLlm, type SimRecogniser } from '../sim/llm-server';
import { extractInstruction } from '../sim/mutate';
import { between } from '../sim/text';
import { LocalRunStore } from '../store/local-run-store';
import { drawPositions } from '../workflows/auto-evol';
import { autoProgressQuery, pauseSignal, resumeSignal } from '../core/messages';
import { seedsFromTexts } from './helpers/runs';
import {
  connectClient,
  eventually,
  llmAt,
  startWorker,
  testAddress,
  uniqueTaskQueue,
  type TestWorker,
} from './helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from './helpers/worker-process';

describe('Auto Evol-Instruct, the pure parts', () => {
  test('the initial method has the placeholder and asks for four labelled parts', () => {
    expect(INITIAL_METHOD.split(INSTRUCTION_PLACEHOLDER)).toHaveLength(2);
    for (const label of Object.values(E0_LABELS)) expect(INITIAL_METHOD).toContain(`${label}:`);
    expect(INITIAL_METHOD).toMatch(/10 to 20 words/);
    // The paper's guard in step 4: the result is the same task made more complex, not another task.
    expect(INITIAL_METHOD).toMatch(/the same task made more complex, not a different task/);
    expect(INITIAL_METHOD).toMatch(/change the language/);
  });

  test.each([
    ['plain labels', 'Complexity options:\n- a\nPlan:\nb\nDraft rewrite:\nDraft.\nFinal rewrite:\nThe final task.'],
    ['bold labels', '**Complexity options:**\n- a\n**Draft rewrite:**\nDraft.\n**Final rewrite:**\nThe final task.'],
    ['bold label, text on the line', '**Plan**: b\n**Final Rewrite**: The final task.'],
    ['markdown headings', '### Step 3: Draft rewrite\nDraft.\n### Step 4: Final rewrite\nThe final task.'],
    [
      'hash labels',
      '#Methods List#:\n- a\n#Rewritten Instruction#:\nDraft.\n#Finally Rewritten Instruction#:\nThe final task.',
    ],
    ['numbered parts', '1. Options: a\n3. Rewrite: Draft.\n4. Final rewritten instruction:\n"The final task."'],
    ['a closing rule', 'Plan:\nb\nFinal rewrite:\nThe final task.\n\n---'],
    ['no final part: the draft', 'Complexity options:\n- a\nPlan:\nb\nDraft rewrite:\nThe final task.'],
    ['no parts at all', 'The final task.'],
  ])('the final rewrite is read from an answer with %s', (_name, answer) => {
    expect(parseEvolAnswer(answer)).toEqual({ ok: true, text: 'The final task.' });
  });

  test('a task line that merely starts with "Finally" is no label', () => {
    const answer = 'Final rewrite:\nList three causes of tides.\nFinally, rank them by strength.';
    expect(parseEvolAnswer(answer)).toEqual({
      ok: true,
      text: 'List three causes of tides.\nFinally, rank them by strength.',
    });
  });

  test('an empty final part is an unusable evolution', () => {
    expect(parseEvolAnswer('Plan:\nb\nFinal rewrite:\n   ')).toEqual({
      ok: false,
      reason: 'the final rewrite part is empty',
    });
  });

  test.each([
    ['Understood. Could you tell me more about the task?', 'stagnant-complexity'],
    ['"Thank you for the details! Which figures do you mean?"', 'stagnant-complexity'],
    ['Sure, what should the essay be about?', 'insufficient-qualification'],
    ['To answer this, please provide the table you mention.', 'loss-of-key-information'],
    ['What kind of essay do you have in mind?', 'insufficient-qualification'],
    ['Is there anything else you would like me to add?', 'insufficient-qualification'],
    ["I'm sorry, which figures do you mean?", 'insufficient-qualification'],
    ['As an AI assistant, may I ask which region you mean?', 'insufficient-qualification'],
    ['That is correct. Shall I go on?', 'stagnant-complexity'],
    ['I understand. Which part should I start with?', 'stagnant-complexity'],
    ['Great, which format would you like?', 'stagnant-complexity'],
    ['Computing that exactly is not possible without the rates.', 'infeasible'],
  ])('F(r) fails %j as %s', (response, rule) => {
    expect(detectFailure(response)).toMatchObject({ passed: false, rule });
  });

  test.each([
    'Understood. Tides are caused by the Moon and the Sun.',
    'Surely the answer is 42?',
    'Sure. Tides rise twice a day because the Earth turns under two bulges of water.',
    // Openers the authors' code does not check: failure rates stay comparable with the paper's.
    '**Certainly!** Which language would you like?',
    'Got it. Which figures do you mean?',
  ])('F(r) passes %j', (response) => {
    expect(detectFailure(response)).toEqual({ passed: true });
  });

  test("the paper's detector is F(r) alone, one setting away; by default rules 4, 2 and 3 judge as well", () => {
    const leaky = 'Final rewrite: explain tides.';
    const answer = 'A long enough answer about tides.';
    expect(judgeEvolution(leaky, answer, DEFAULT_FAILURE_PATTERNS, 'paper')).toEqual({ passed: true });
    expect(judgeEvolution(leaky, answer)).toMatchObject({ passed: false, rule: 'template-words' });
    expect(
      judgeEvolution('Explain tides.', 'Understood. Which tides?', DEFAULT_FAILURE_PATTERNS, 'paper'),
    ).toMatchObject({
      rule: 'stagnant-complexity',
    });
  });

  test('F(r) takes its patterns as data, and elimination rules 2-4 still apply', () => {
    expect(
      detectFailure('Hmm, what?', [{ kind: 'stagnant-complexity', opensWith: 'hmm', endsWithQuestion: true }]),
    ).toMatchObject({ passed: false, rule: 'stagnant-complexity' });
    expect(judgeEvolution('Explain tides.', "I'm sorry, I can't.")).toMatchObject({ rule: 'sorry-short' });
    expect(judgeEvolution('Final rewrite: explain tides.', 'A long enough answer about tides.')).toMatchObject({
      rule: 'template-words',
    });
  });

  const method = `Rewrite it.\n<instruction>\n${INSTRUCTION_PLACEHOLDER}\n</instruction>`;
  test.each([
    ['no fenced block', `Here is the method: ${method}`, 'no-fenced-block'],
    ['an unclosed fence', `\`\`\`\n${method}`, 'unclosed-fence'],
    ['an empty block', 'Here:\n```\n\n```', 'empty'],
    ['no placeholder', '```\nRewrite the task.\n```', 'no-placeholder'],
    ['a method far too long', `\`\`\`\n${method}\n${'x'.repeat(7000)}\n\`\`\``, 'too-long'],
  ])('an optimizer answer with %s is a failed candidate with its reason', (_name, answer, problem) => {
    const parsed = parseOptimizedMethod(answer, 6000);
    expect(parsed).toMatchObject({ ok: false, problem, reason: expect.any(String) });
  });

  test('the method is the whole fenced block, inner fences included', () => {
    const inner = `${method}\nFor example:\n\`\`\`python\nprint(1)\n\`\`\``;
    expect(parseOptimizedMethod(`Improved:\n\`\`\`text\n${inner}\n\`\`\`\nDone.`)).toEqual({ ok: true, method: inner });
  });

  test('dev set and mini-batches are drawn from the seed: same seed, same draw', () => {
    const pool = Array.from({ length: 40 }, (_, i) => i);
    const a = drawPositions(pool, 10, prngFor(7, 'mini-batch', 1));
    expect(drawPositions(pool, 10, prngFor(7, 'mini-batch', 1))).toEqual(a);
    expect(new Set(a).size).toBe(10);
    expect(drawPositions(pool, 10, prngFor(7, 'mini-batch', 2))).not.toEqual(a);
  });
});

// ---------------------------------------------------------------------------------------------
// The learning workflow on a real dev server, the LLM simulated over HTTP

/** With the simulated evol LLM, numbers survive a rewrite only when the method says to keep every number. */
const DEV_TEXTS = [
  'Add 17 and 25, then explain the carry.',
  'A train travels 120 km in 2 hours; find its speed.',
  'Split 3 pizzas among 4 friends fairly.',
  'Explain why the sky looks blue.',
  'Describe how bees make honey.',
  'Summarise the plot of a fairy tale you like.',
];
const INPUT_TEXTS = [
  'Convert 30 degrees Celsius to Fahrenheit.',
  'Explain how a lever works.',
  'A shop sells 5 apples for 2 euros; price 12 apples.',
  'Describe the water cycle.',
  'List 3 uses of magnets.',
  'Explain what a compiler does.',
];
const STEADY_ANSWER =
  'Here is a careful answer that works through the request step by step, states each assumption, checks the result against a simple case and ends with a short summary of the main points.';
/** A method with this line drops the numbers of every task: a worse method. */
const SLOPPY_LINE = 'Ask for any missing details before rewriting.';

function withLine(method: string, line: string): string {
  return method.replace('Give your answer in four parts', `${line}\nGive your answer in four parts`);
}
const guarded = (method: string) => withLine(method, SIM_GUARD_LINE);
const sloppy = (method: string) => withLine(method, SLOPPY_LINE);
const cosmetic = (method: string, note: string) => withLine(method, `Keep the wording plain (${note}).`);
const fenced = (method: string) => `Here is the improved method.\n\n\`\`\`\n${method}\n\`\`\``;

/** The request's own user message: a re-ask (the answer and one more user line) is answered like its first ask. */
function userOf(messages: Array<{ role: string; content: string }>): string {
  return messages.find((m) => m.role === 'user')?.content ?? '';
}

type OptimizerScript = (request: { step: number; sample: number; method: string }) => string;

describe('autoEvol: learning an evolving method on a real dev server and worker', () => {
  let sim: SimLlm;
  let client: Client;
  let connection: Connection;
  let worker: TestWorker;
  let store: LocalRunStore;
  let storeDir: string;
  let taskQueue: string;
  let script: OptimizerScript | undefined;
  let counter = 0;
  const processes: WorkerProcess[] = [];

  const scriptedOptimizer: SimRecogniser = {
    kind: 'other',
    test: (messages) => script !== undefined && userOf(messages).startsWith(OPTIMIZE_LEAD),
    operation: () => 'optimize-method',
    answer: (messages) => {
      const content = userOf(messages);
      const { step, sample } = parseSampleLine(content)!;
      return script!({ step, sample, method: between(content, '<method>', '</method>')! });
    },
  };
  const sloppyEvolver: SimRecogniser = {
    kind: 'mutate',
    test: (messages) => messages[0].content === EVOL_METHOD_SYSTEM && userOf(messages).includes(SLOPPY_LINE),
    operation: () => 'auto-evol-method',
    answer: (messages) =>
      `Plan:\nKeep it short.\nFinal rewrite:\n${extractInstruction(userOf(messages)).replace(/\d+/g, 'some')} Work only with ${SIM_LOST_FIGURES}.`,
  };
  /** No random refusals: a failure comes from the method alone. */
  const steadyResponder: SimRecogniser = {
    kind: 'respond',
    test: (messages) => messages[0].content === RESPONDER_SYSTEM && !userOf(messages).includes(SIM_LOST_FIGURES),
    answer: () => STEADY_ANSWER,
  };

  function llm(requestTimeoutMs = 5_000): AutoEvolLlm {
    const endpoints = llmAt(sim.url, { requestTimeoutMs });
    return {
      evol: { ...endpoints.evolver, temperature: 0 },
      optimizer: { ...endpoints.evolver, temperature: 0.6 },
      responder: endpoints.responder,
    };
  }

  async function startLearning(
    label: string,
    settings: Partial<AutoEvolSettings>,
    options: { queue?: string; requestTimeoutMs?: number } = {},
  ): Promise<{ runId: string; handle: WorkflowHandle }> {
    const runId = `${label}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
    const meta = await createAutoRun(store, {
      runId,
      inputFile: 'inline',
      seeds: seedsFromTexts(INPUT_TEXTS),
      devSeeds: seedsFromTexts(DEV_TEXTS, 'dev.jsonl'),
      settings: { batchSize: 3, evolutionsPerInstruction: 2, concurrency: 4, ...settings },
      llm: llm(options.requestTimeoutMs),
    });
    return { runId, handle: await startAutoRun(client, options.queue ?? taskQueue, meta) };
  }

  beforeAll(async () => {
    sim = await startSimLlm({ recognisers: [scriptedOptimizer, sloppyEvolver, steadyResponder] });
    ({ client, connection } = await connectClient());
    storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-auto-'));
    store = new LocalRunStore(storeDir);
    taskQueue = uniqueTaskQueue('auto');
    worker = await startWorker({ taskQueue, store, env: () => ({ EVOL_TEST_API_KEY: 'k' }) });
  });

  afterAll(async () => {
    for (const p of processes) await p.kill();
    await worker?.close();
    await connection?.close();
    await sim?.close();
    fs.rmSync(storeDir, { recursive: true, force: true });
  });

  afterEach(() => {
    sim.clearRules();
    script = undefined;
  });

  test('the candidate with the lowest failure rate becomes the method; a tie is adopted but is no fall', async () => {
    script = ({ step, sample, method }) =>
      fenced(
        step === 1
          ? sample === 1
            ? sloppy(method)
            : cosmetic(method, 'a')
          : sample === 1
            ? guarded(method)
            : sloppy(method),
      );
    const { runId, handle } = await startLearning('better', { steps: 2, candidates: 2 });
    const result = (await handle.result()) as AutoProgress;

    expect(result.status).toBe('completed');
    expect(result.baseline).toEqual({ failureRate: 0.5, failures: 3 });
    expect(result.steps.map((s) => s.candidates.map((c) => c.failureRate))).toEqual([
      [1, 0.5],
      [0, 1],
    ]);
    expect(result.steps.map((s) => [s.best, s.adopted, s.rateAfter])).toEqual([
      [2, true, 0.5],
      [1, true, 0],
    ]);
    expect(result.method).toContain(SIM_GUARD_LINE);
    expect(result.method).toContain('Keep the wording plain (a).');
    expect(result.methodStep).toBe(2);
    expect(result.stepsDone).toBe(2);
    expect(result.stopReason).toBe('the step budget of 2 steps is used up');

    const versions = latestLearning(await store.methodVersions(runId));
    expect(versions.map((v) => [v.step, v.origin, v.failureRate, v.sample])).toEqual([
      [0, 'initial', 0.5, undefined],
      [1, 'adopted', 0.5, 2],
      [2, 'adopted', 0, 1],
    ]);
    expect(versions[2].method).toBe(result.method);
    expect(failureRateChart(versions)).toMatch(/step {2}2 {2}adopted .* 0\.00 \(0\/6\)/);
    expect(formatStep(result.steps[1])).toContain('adopted candidate 1 (0.50 → 0.00)');
  });

  test("a learned method used as a run's only operation keeps just the final rewrite of its labelled answer", async () => {
    const learned = {
      id: 'learned',
      kind: 'custom' as const,
      weight: 1,
      system: EVOL_METHOD_SYSTEM,
      template: INITIAL_METHOD,
    };
    const handle = await startSingleInstruction(client, taskQueue, {
      runId: `learned-${Date.now().toString(36)}`,
      instructionId: 'l1',
      instruction: 'Explain how a bicycle gear works.',
      rounds: 2,
      seed: 1,
      llm: llmAt(sim.url),
      operations: [learned],
    });
    const lineage = await handle.result();
    const evolved = lineage.steps.filter((s) => s.instruction);
    expect(evolved.length).toBeGreaterThan(0);
    for (const step of evolved) {
      for (const label of Object.values(E0_LABELS))
        expect(step.instruction).not.toMatch(new RegExp(`${label}\\W*:`, 'i'));
    }
  });

  test('when every candidate is worse the current method stays, and with a patience learning stops early', async () => {
    script = ({ sample, method }) => fenced(sample === 1 ? sloppy(method) : sloppy(cosmetic(method, 'b')));
    const { runId, handle } = await startLearning('worse', { steps: 3, candidates: 2, patience: 1 });
    const result = (await handle.result()) as AutoProgress;

    expect(result.method).toBe(INITIAL_METHOD);
    expect(result.methodStep).toBe(0);
    expect(result.steps).toHaveLength(1);
    expect(result.steps[0]).toMatchObject({ adopted: false, best: 1, rateBefore: 0.5, rateAfter: 0.5 });
    expect(result.steps[0].candidates.map((c) => c.failureRate)).toEqual([1, 1]);
    expect(result.stopReason).toBe('the failure rate did not fall in the last step');
    const versions = latestLearning(await store.methodVersions(runId));
    expect(versions.map((v) => [v.step, v.origin, v.method === INITIAL_METHOD])).toEqual([
      [0, 'initial', true],
      [1, 'kept', true],
    ]);
  });

  test('an initial method that fails nothing on the dev set still runs every optimization step', async () => {
    script = ({ step, sample, method }) => fenced(cosmetic(method, `${step}.${sample}`));
    const { handle } = await startLearning('flawless', {
      steps: 2,
      candidates: 2,
      initialMethod: guarded(INITIAL_METHOD),
    });
    const result = (await handle.result()) as AutoProgress;
    expect(result.baseline).toEqual({ failureRate: 0, failures: 0 });
    expect(result.stepsDone).toBe(2);
    expect(result.steps).toHaveLength(2);
    expect(result.stopReason).toBe('the step budget of 2 steps is used up');
  });

  test('from step 2 the current method is rated again on the dev set before a candidate is compared with it', async () => {
    script = ({ step, sample, method }) => fenced(cosmetic(method, `${step}.${sample}`));
    const { handle } = await startLearning('rescore', { steps: 2, candidates: 1 });
    await handle.result();
    const history = await handle.fetchHistory();
    const summaries = (history.events ?? [])
      .map((e) => (e.userMetadata?.summary?.data ? Buffer.from(e.userMetadata.summary.data).toString('utf8') : ''))
      .filter((s) => s.includes('current method · evolve'));
    expect(summaries.filter((s) => s.includes('step 1 ·'))).toHaveLength(0);
    expect(summaries.filter((s) => s.includes('step 2 ·'))).toHaveLength(DEV_TEXTS.length);
  });

  test('malformed optimizer methods are failed candidates with their reasons, and the run completes', async () => {
    script = ({ sample, method }) =>
      [
        `I would add a guard. ${method}`,
        '```\n\n```',
        fenced(method.replace(INSTRUCTION_PLACEHOLDER, 'the task')),
        fenced(`${method}\n${'Be thorough. '.repeat(600)}`),
        `\`\`\`\n${method}`,
      ][sample - 1];
    const { handle } = await startLearning('malformed', { steps: 3, candidates: 5, maxMethodChars: 6000 });
    const result = (await handle.result()) as AutoProgress;

    expect(result.status).toBe('completed');
    expect(result.method).toBe(INITIAL_METHOD);
    const failures = result.steps[0].candidates.map((c) => c.failure);
    expect(failures).toEqual([
      expect.stringMatching(/no fenced code block/),
      expect.stringMatching(/fenced block is empty/),
      expect.stringMatching(/no \{instruction\} placeholder/),
      expect.stringMatching(/characters, more than the limit of 6000/),
      expect.stringMatching(/never closed/),
    ]);
    // Each unusable method was asked for again, twice, at once, before its candidate failed.
    expect(failures.every((f) => f?.includes('in 3 asks'))).toBe(true);
    expect(result.steps[0].candidates.every((c) => c.failureRate === undefined)).toBe(true);
    expect(formatStep(result.steps[0])).toContain('no usable candidate');
  });

  test('autoProgress shows each step while it runs; while paused no LLM call starts; resumed, it finishes', async () => {
    sim.addRule({ match: { kind: 'mutate' }, latencyMs: 80 });
    script = ({ step, sample, method }) => fenced(cosmetic(method, `${step}.${sample}`));
    const { handle } = await startLearning('progress', { steps: 3, candidates: 2, patience: 3, concurrency: 2 });

    const running = await eventually(
      async () => {
        const p = await handle.query(autoProgressQuery);
        return p.inProgress?.trajectory.some((c) => c.evolutions.length > 0) ? p : undefined;
      },
      'the first trajectory to show',
      30_000,
    );
    expect(running).toMatchObject({ status: 'running', stepBudget: 3, devSize: 6 });
    expect(['trajectory', 'optimization', 'evaluation']).toContain(running.phase);
    expect(running.baseline).toEqual({ failureRate: 0.5, failures: 3 });
    expect(running.inProgress!.batch).toHaveLength(3);
    expect(running.inProgress!.trajectory.map((c) => c.id)).toEqual(running.inProgress!.batch);

    await handle.signal(pauseSignal, { reason: 'test pause' });
    let last = -1;
    await eventually(async () => {
      const { total, inFlight } = sim.stats();
      const settled = inFlight === 0 && total === last;
      last = total;
      return settled ? true : undefined;
    }, 'LLM calls in flight to finish');
    const atRest = sim.stats().total;
    const paused = await handle.query(autoProgressQuery);
    expect(paused).toMatchObject({ status: 'paused', pauseReason: 'test pause' });
    const watchUntil = Date.now() + 1500;
    while (Date.now() < watchUntil) {
      expect(sim.stats().total).toBe(atRest);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    await handle.signal(resumeSignal, {});
    const result = (await handle.result()) as AutoProgress;
    expect(result.steps.map((s) => s.step)).toEqual([1, 2, 3]);
    expect(result.steps.every((s) => s.adopted && s.rateAfter === 0.5)).toBe(true);
    expect(result.stopReason).toBe('the failure rate did not fall in the last 3 steps');
    // The test server suggests continuing as new at 300 events: the steps so far survive it.
    expect(result.continuedAsNew).toBeGreaterThan(0);
    expect(result.method).toContain('Keep the wording plain (3.1).');
  });

  test('an LLM call that fails for good (a rejected key) pauses the run; resumed, the call is made again', async () => {
    sim.addRule({ match: { contains: OPTIMIZE_LEAD }, status: 401, times: 1 });
    script = ({ method }) => fenced(guarded(method));
    const { handle } = await startLearning('badkey', { steps: 2, candidates: 1 });
    const paused = await eventually(async () => {
      const p = await handle.query(autoProgressQuery);
      return p.status === 'paused' ? p : undefined;
    }, 'the run to pause itself');
    expect(paused.pauseReason).toMatch(/LlmAuthenticationError.*EVOL_TEST_API_KEY/);
    expect(paused.pauseReason).toContain('evol auto resume');

    await handle.signal(resumeSignal, {});
    const result = (await handle.result()) as AutoProgress;
    expect(result.steps[0]).toMatchObject({ adopted: true, rateAfter: 0 });
  });

  test('a worker killed with SIGKILL mid-step is replaced and repeats no optimizer call that had finished', async () => {
    const queue = uniqueTaskQueue('auto-crash');
    const env = { EVOL_STORE_DIR: storeDir, EVOL_TEST_API_KEY: 'k' };
    sim.addRule({ match: { kind: 'respond' }, latencyMs: 300 });
    script = ({ step, sample, method }) => fenced(sample === 1 ? cosmetic(method, `crash ${step}`) : sloppy(method));
    processes.push(await startWorkerProcess({ address: testAddress(), taskQueue: queue, env }));
    sim.resetRequests();
    const { handle } = await startLearning(
      'crash',
      { steps: 2, candidates: 2, patience: 2, concurrency: 2 },
      { queue, requestTimeoutMs: 3_000 },
    );

    await eventually(
      async () => {
        const p = await handle.query(autoProgressQuery);
        return p.inProgress?.step === 1 && p.phase === 'evaluation' && p.work.done >= 2 ? true : undefined;
      },
      'step 1 to be evaluating its candidates',
      60_000,
    );
    const optimizerCalls = () =>
      sim.requests().filter((r) => r.operation === 'analyze-trajectory' || r.operation === 'optimize-method');
    const finishedBeforeKill = optimizerCalls().map((r) => r.key);
    await processes[0].kill('SIGKILL');
    expect(finishedBeforeKill).toHaveLength(4);

    processes.push(await startWorkerProcess({ address: testAddress(), taskQueue: queue, env }));
    const result = (await handle.result()) as AutoProgress;
    expect(result.status).toBe('completed');
    expect(result.steps.map((s) => [s.step, s.candidates.map((c) => c.failureRate)])).toEqual([
      [1, [0.5, 1]],
      [2, [0.5, 1]],
    ]);

    const seen = new Map<string, number>();
    for (const r of optimizerCalls()) seen.set(r.key, (seen.get(r.key) ?? 0) + 1);
    expect(finishedBeforeKill.filter((key) => seen.get(key) !== 1)).toEqual([]);
    expect(optimizerCalls()).toHaveLength(8);
  });
});

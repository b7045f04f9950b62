/**
 * The real-model tier: SmolLM2-135M-Instruct served by llama-cpp-python's OpenAI-compatible server, provisioned by
 * `node dist/scripts/ensure-real-llm.js` (.ci/run does it). Its answers are not data: a 135M model answers tasks
 * instead of rewriting them, refuses, echoes the prompt, gives prose for verdicts. What must hold whatever it says:
 * every instruction ends in a recorded state within seconds of model time, no call is asked more often than the
 * re-ask limit or retried with backoff, every exported row passed every gate, the counts add up, and the terminal
 * shows only progress and summaries. Skipped with a message when the tier is missing, except in CI.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import type { RunProgress } from '../core/dataset';
import { checkTemplateWords } from '../core/elimination';
import { checkRewriteGates } from '../core/gates';
import { buildMutationMessages, GENERAL_OPERATIONS } from '../core/operations';
import { idsOf } from './helpers/runs';
import type { Lineage } from '../core/lineage';
import { findRealLlm, modelBusyMs, startRealLlm, type RealLlmServer } from '../server/real-llm';
import { notATask } from './helpers/task-shape';
import { LlmFailure } from '../core/llm-failures';
import { LocalRunStore } from '../store/local-run-store';
import { connectClient, testAddress, uniqueTaskQueue } from './helpers/temporal';
import { runCli, startWorkerProcess, type WorkerProcess } from './helpers/worker-process';

const files = findRealLlm();
const MISSING =
  'the real-model tier (SmolLM2 + llama-cpp-python) is not provisioned: run `node dist/scripts/ensure-real-llm.js`';
if (!files) {
  if (process.env.CI === 'true') throw new Error(`${MISSING} (CI runs it in .ci/run)`);
  console.warn(`skipping the real-LLM tests: ${MISSING}`);
}
const describeReal = files ? describe : describe.skip;

/** The limit of the default settings: an unusable answer is asked at most twice more. */
const MAX_ASKS = 3;

/** What a person may see on the terminal: our messages, the progress lines, the summary. Nothing else. */
const TERMINAL_LINES = [
  /^Run \S+$/,
  /^\d+ seeds? from .+ \(\d+ rows?, \d+ invalid\)\.$/,
  /^\d+ instructions? from .+ \(\d+ rows?, \d+ invalid\)\.$/,
  /^Not used: text in fields? ".+ appends it to each instruction as its input\.$/,
  /^Using /,
  /^ {2}(evolver|responder|judge|evol|optimizer): .+, temperature [\d.]+(, top_p [\d.]+)?, up to \d+ tokens?$/,
  /^ {2}unusable answers are asked again at most \d+ times?; gates off: .+$/,
  /^No price known for .+$/,
  /^Estimated: \d+ tokens, .+`evol estimate` with the same options shows how\.$/,
  /^Learning for at most/,
  /^\d+\/\d+ done, /,
  /^Run \S+: (completed|paused|running)/,
  /^ {2}(instructions|round \d+|eliminations|LLM calls|tokens|rate|budget|continued as new):/,
  /^Export it: /,
  /^Its workflows in Temporal UI: /,
  /^Evolving \S+ for \d+ rounds?/,
  /^Learning run \S+/,
  /^ {2}/,
  /^(step|baseline|method|Learned|Stopped|Initial|Final|The learned)/i,
  /^\[\d+\/\d+\] /,
  /^Worker polling task queue /,
  /^Build \S+ of deployment "[^"]+": (current|not current)/,
  /^Worker log \(warnings, LLM faults, stack traces\): /,
];

describeReal('a real small LLM (SmolLM2-135M) through every path', () => {
  let server: RealLlmServer;
  let client: Client;
  let connection: Connection;
  let worker: WorkerProcess;
  let dir: string;
  const taskQueue = uniqueTaskQueue('real');

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-real-'));
    server = await startRealLlm(files!, { logFile: path.join(dir, 'llama-server.log') });
    ({ client, connection } = await connectClient());
    // Short answers keep the tier to minutes; the paths they take are the same as with long ones. The request timeout
    // is far below what the default concurrency's requests would wait in the server's queue (it serves one at a time):
    // the worker must hold them until the server has a slot.
    fs.writeFileSync(
      path.join(dir, 'evolforge.config.yaml'),
      [
        'llm:',
        `  default: { baseURL: "${server.url}", model: ${server.model}, requestTimeoutMs: 30000 }`,
        '  evolver: { maxTokens: 128 }',
        '  responder: { maxTokens: 128 }',
        '  optimizer: { maxTokens: 320 }',
      ].join('\n'),
    );
    worker = await startWorkerProcess({
      address: testAddress(),
      taskQueue,
      env: { EVOL_STORE_DIR: path.join(dir, 'runs'), EVOL_DATA_DIR: path.join(dir, 'worker') },
    });
  });

  afterAll(async () => {
    await worker?.kill('SIGTERM');
    await connection?.close();
    await server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  function evol(args: string[]) {
    const queue = ['run', 'evolve', 'auto'].includes(args[0]) ? ['--task-queue', taskQueue] : [];
    return runCli([...args, ...queue], {
      cwd: dir,
      env: {
        TEMPORAL_ADDRESS: testAddress(),
        EVOL_STORE_DIR: path.join(dir, 'runs'),
        EVOL_DATA_DIR: path.join(dir, 'cli'),
      },
      timeoutMs: 15 * 60_000,
    });
  }

  function expectQuietTerminal(text: string): void {
    expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace
    expect(text).not.toMatch(/\b(WARN|ERROR)\b/);
    const strange = text
      .split('\n')
      .map((line) => line.trimEnd())
      .filter((line) => line && !TERMINAL_LINES.some((pattern) => pattern.test(line)));
    expect(strange).toEqual([]);
  }

  /**
   * Per round and activity type: how many times each was asked, and every attempt number seen. A call handed back to
   * wait in its workflow for a slot of the server (or a rate limit) was not asked: it is scheduled again after its
   * timer, and counted once. `held` counts those hand-backs.
   */
  async function callsOf(workflowId: string) {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = new Map<string, number>();
    const keyOf = new Map<string, string>();
    const attempts: number[] = [];
    let held = 0;
    for (const event of history.events ?? []) {
      const s = event.activityTaskScheduledEventAttributes;
      if (s) {
        const summary = event.userMetadata?.summary?.data
          ? Buffer.from(event.userMetadata.summary.data)
              .toString('utf8')
              .replace(/ · ask \d+/, '')
          : '';
        const key = `${s.activityType?.name} ${summary}`;
        keyOf.set(String(event.eventId), key);
        scheduled.set(key, (scheduled.get(key) ?? 0) + 1);
      }
      const failed = event.activityTaskFailedEventAttributes;
      const failureType = failed?.failure?.applicationFailureInfo?.type;
      if (failed && (failureType === LlmFailure.SlotWait || failureType === LlmFailure.RateLimitWait)) {
        const key = keyOf.get(String(failed.scheduledEventId))!;
        scheduled.set(key, scheduled.get(key)! - 1);
        held++;
      }
      const attempt = event.activityTaskStartedEventAttributes?.attempt;
      if (attempt) attempts.push(attempt);
    }
    return { scheduled, attempts, held };
  }

  function expectBoundedCalls(calls: Awaited<ReturnType<typeof callsOf>>): void {
    expect(calls.scheduled.size).toBeGreaterThan(0);
    for (const [key, n] of calls.scheduled) expect([key, n <= MAX_ASKS]).toEqual([key, true]);
    // No unusable answer waited for a retry backoff: every call ran on its first attempt.
    expect(new Set(calls.attempts)).toEqual(new Set([1]));
  }

  test('evol evolve: two rounds end in a lineage, each round passed or eliminated with its evidence', async () => {
    const result = await evol(['evolve', 'Give three tips for staying healthy.', '--rounds', '2', '--json']);
    expect(result.stderr).toContain(server.model);
    expect(result.code).toBe(0);
    const lineage = JSON.parse(result.stdout) as Lineage;
    expect(lineage.status).toBe('completed');
    expect(lineage.steps).toHaveLength(2);
    for (const step of lineage.steps) {
      if (!step.verdict.passed) expect(step.verdict.evidence.length).toBeGreaterThan(0);
      expect(step.verdict).not.toMatchObject({ rule: 'unparseable-rewrite' });
    }
    expectBoundedCalls(await callsOf(idsOf(lineage.runId).instruction(lineage.instructionId)));
  });

  test('evol run: 10 WizardLM-shaped seeds x 2 rounds finish with every instruction recorded, counts that add up, clean rows and a quiet terminal', async () => {
    const input = path.resolve(__dirname, 'fixtures', 'input', 'wizardlm-testset.jsonl');
    const runId = `real-${Date.now().toString(36)}`;
    const started = Date.now();
    const busyBefore = modelBusyMs(fs.readFileSync(server.logFile, 'utf8')).ms;
    const result = await evol([
      'run',
      '--input',
      input,
      '--instruction-field',
      'Instruction',
      '--id-field',
      'idx',
      '--rounds',
      '2',
      '--run-id',
      runId,
    ]);
    const wallMs = Date.now() - started;
    const busy = modelBusyMs(fs.readFileSync(server.logFile, 'utf8')).ms - busyBefore;
    console.log(`real LLM run: wall ${(wallMs / 1000).toFixed(1)} s, model busy ${(busy / 1000).toFixed(1)} s`);
    expect(result.code).toBe(0);
    expectQuietTerminal(result.stdout + result.stderr);
    expectQuietTerminal(worker.output());

    // Every instruction ended in a recorded state.
    const store = new LocalRunStore(path.join(dir, 'runs'));
    const records: Lineage[] = [];
    for await (const record of store.records(runId)) records.push(record);
    expect(records.map((r) => r.instructionId).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => String(i + 1)).sort(),
    );

    // The counts add up: the status's, per round and per rule, equal the records'.
    const status = await evol(['status', runId, '--json']);
    expect(status.code).toBe(0);
    const progress = JSON.parse(status.stdout) as RunProgress;
    expect(progress.counts.done).toBe(10);
    expect(progress.counts.completed + progress.counts.failed).toBe(10);
    for (const round of [1, 2]) {
      const steps = records.flatMap((r) => r.steps.filter((s) => s.round === round));
      expect(progress.counts.passedByRound[round - 1]).toBe(steps.filter((s) => s.verdict.passed).length);
      expect(progress.counts.eliminatedByRound[round - 1]).toBe(steps.filter((s) => !s.verdict.passed).length);
    }
    const byRule: Record<string, number> = {};
    for (const s of records.flatMap((r) => r.steps)) {
      if (!s.verdict.passed) byRule[s.verdict.rule] = (byRule[s.verdict.rule] ?? 0) + 1;
    }
    expect(progress.counts.eliminationsByRule).toEqual(byRule);
    const reasked = records.reduce(
      (n, r) => n + (r.seedCalls?.reasks ?? 0) + r.steps.reduce((m, s) => m + (s.reasks ?? 0), 0),
      0,
    );
    expect(progress.counts.reasks ?? 0).toBe(reasked);
    // At the default concurrency (16 instructions, up to 32 requests) against a server of one slot, no request timed
    // out waiting in its queue: no call was retried after a fault.
    expect(progress.concurrency).toBe(16);
    expect(progress.counts.retries).toBe(0);

    // No call was asked more often than the limit, none waited for a backoff.
    let held = 0;
    for (const record of records) {
      const calls = await callsOf(idsOf(runId).instruction(record.instructionId));
      expectBoundedCalls(calls);
      held += calls.held;
    }
    console.log(`real LLM run: ${held} calls waited in their workflow for a slot of the server`);

    // Every exported row passed every gate and rule 4: no refusal, no answer, no copy of our prompt.
    const out = path.join(dir, `${runId}.json`);
    const exported = await evol(['export', runId, '--format', 'alpaca', '--out', out]);
    expect(exported.code).toBe(0);
    const rows = JSON.parse(fs.readFileSync(out, 'utf8')) as Array<{
      instruction: string;
      _evol: { rowId: string; round: number };
    }>;
    const passedSteps = records.flatMap((r) => r.steps.filter((s) => s.verdict.passed));
    for (const step of passedSteps) {
      const operation = GENERAL_OPERATIONS.find((op) => op.id === step.operation)!;
      const prompt = buildMutationMessages(operation, step.parent)
        .map((m) => m.content)
        .join('\n');
      const kind = operation.kind === 'in-depth' ? 'in-depth' : 'other';
      expect(checkTemplateWords(step.instruction)).toEqual({ passed: true });
      expect(checkRewriteGates({ rewrite: step.instruction, parent: step.parent, prompt, kind })).toEqual({
        passed: true,
      });
      expect(step.response.trim().length).toBeGreaterThan(0);
    }
    // And every passed row is still a task of its parent's, by the tier's own reading (apart from the gates and the
    // judge): no steps of how to solve the parent, no statement that asks for nothing, no reply.
    const notTasks = passedSteps.flatMap((step) => {
      const why = notATask(step.instruction, step.parent);
      return why ? [{ why, parent: step.parent, instruction: step.instruction }] : [];
    });
    expect(notTasks).toEqual([]);
    // The default export is the paper's mix: the seeds (answered in the run: these rows have no answer of their
    // own) and every passed round.
    const evolved = rows.filter((row) => row._evol.round > 0);
    for (const row of evolved) expect(passedSteps.map((s) => s.instruction)).toContain(row.instruction);
    expect(evolved).toHaveLength(passedSteps.length);
    const seedRows = rows.filter((row) => row._evol.round === 0);
    expect(seedRows.map((row) => row.instruction).sort()).toEqual(
      records
        .filter((r) => r.seedResponse?.trim())
        .map((r) => r.seed)
        .sort(),
    );
  });

  test('evol auto: one Auto Evol-Instruct step completes, each candidate rated or failed with its reason', async () => {
    const input = path.resolve(__dirname, 'fixtures', 'input', 'wizardlm-testset.jsonl');
    const runId = `real-auto-${Date.now().toString(36)}`;
    const result = await evol([
      'auto',
      '--input',
      input,
      '--instruction-field',
      'Instruction',
      '--dev-size',
      '2',
      '--batch-size',
      '2',
      '--evolutions',
      '1',
      '--steps',
      '1',
      '--candidates',
      '1',
      '--run-id',
      runId,
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout + result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    const handle = client.workflow.getHandle(idsOf(runId).auto);
    const description = await handle.describe();
    expect(description.status.name).toBe('COMPLETED');
    const progress = await handle.result();
    expect(progress.stepsDone).toBe(1);
    for (const candidate of progress.steps[0].candidates) {
      expect(candidate.failureRate !== undefined || (candidate.failure ?? '').length > 0).toBe(true);
    }
    expectBoundedCalls(await callsOf(idsOf(runId).auto));
  });
});

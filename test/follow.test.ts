/**
 * Following a run from the command line ends when the run stops moving: `evol run` (the built CLI, against the test
 * server, a worker in this test) exits with its own code and the reason when the run pauses itself or is paused, and
 * waits for a worker that is restarting, then says in words when none comes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { EXIT } from '../client/errors';
import { plural } from '../core/plural';
import { runWorkflowIds } from '../core/ids';
import { openAiErrorBody } from '../sim/http';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import { sampleTexts } from './helpers/runs';
import {
  connectClient,
  eventually,
  startWorker,
  testAddress,
  uniqueTaskQueue,
  type TestWorker,
} from './helpers/temporal';
import { runCli, spawnCli, type CliResult } from './helpers/worker-process';

describe('evol run follows a run until it stops moving', () => {
  let dir: string;
  let sim: SimLlm;
  let store: LocalRunStore;
  let worker: TestWorker;
  let client: Client;
  let connection: Connection;
  const taskQueue = uniqueTaskQueue('follow');

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-follow-'));
    // Slow enough that a run is still going when its budget is reached, or when it is paused.
    sim = await startSimLlm({ latencyMs: 100 });
    store = new LocalRunStore(path.join(dir, 'runs'));
    worker = await startWorker({ taskQueue, store, env: () => ({ OPENAI_API_KEY: 'test-key' }) });
    ({ client, connection } = await connectClient());
  });

  afterAll(async () => {
    await worker?.close();
    await connection?.close();
    await sim?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  afterEach(() => sim.clearRules());

  /** `evol` as a user runs it against the test cluster: no dev server, no worker in its process. */
  const envOf = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    TEMPORAL_ADDRESS: testAddress(),
    EVOL_STORE_DIR: path.join(dir, 'runs'),
    EVOL_DATA_DIR: path.join(dir, 'data'),
    OPENAI_BASE_URL: sim.url,
    OPENAI_API_KEY: 'test-key',
    ...extra,
  });

  function evol(args: string[], extra: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<CliResult> {
    return runCli(args, { cwd: dir, env: envOf(extra), timeoutMs });
  }

  function seedFile(name: string, texts: string[]): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, texts.map((instruction) => JSON.stringify({ instruction })).join('\n'));
    return file;
  }

  const runIdOf = (label: string) => `${label}-${Date.now().toString(36)}`;

  const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

  test('a run that reaches its token budget ends following with exit code 3, the reason and how to go on; resumed, it completes with its calls counted', async () => {
    const runId = runIdOf('budget');
    sim.resetRequests();
    const input = seedFile('budget.jsonl', sampleTexts(12, 'budget'));
    const args = ['--run-id', runId, '--task-queue', taskQueue];
    const paused = await evol(['run', '--input', input, ...args, '--rounds', '2', '--max-tokens', '1500']);

    expect(paused.code).toBe(EXIT.paused);
    expect(paused.stderr).toMatch(
      new RegExp(
        `Run ${runId} is paused and did not finish \\(exit code 3\\): token budget reached: \\d+ of 1500 tokens`,
      ),
    );
    expect(paused.stderr).toContain(`Raise it with: evol resume ${runId} --max-tokens N`);
    expect(paused.stderr).toContain(`evol resume ${runId}   goes on`);
    expect(paused.stderr).toContain(`evol run --run-id ${runId} --resume   then follows it again`);
    expect(paused.stderr).not.toContain('Export it:');
    noStackTrace(paused.stderr);
    // Following it again while it stays paused ends the same way, at once.
    const again = await evol(['run', ...args, '--resume']);
    expect([again.code, again.stderr]).toEqual([EXIT.paused, expect.stringContaining('token budget reached')]);

    expect((await evol(['resume', runId, '--max-tokens', '10000000'])).code).toBe(EXIT.ok);
    const done = await evol(['run', ...args, '--resume']);
    expect([done.code, done.stderr]).toEqual([EXIT.ok, expect.stringContaining(`Run ${runId}: completed`)]);
    // Every call the LLM answered is counted beside its tokens, whichever side counted them last.
    const answered = sim.requests().filter((r) => r.outcome === 'ok').length;
    expect(answered).toBeGreaterThan(12);
    expect(done.stderr).toMatch(new RegExp(`spent: \\d+ tokens in ${plural(answered, 'LLM call')},`));
  });

  test('a rejected LLM key pauses the run: following ends with exit code 3 and the setting to fix', async () => {
    const runId = runIdOf('badkey');
    const texts = sampleTexts(4, 'follow-badkey');
    sim.addRule({
      match: { contains: 'follow-badkey' },
      status: 401,
      body: openAiErrorBody(401, 'Incorrect API key provided'),
    });
    const result = await evol([
      'run',
      '--input',
      seedFile('badkey.jsonl', texts),
      '--run-id',
      runId,
      '--task-queue',
      taskQueue,
      '--rounds',
      '1',
    ]);
    expect(result.code).toBe(EXIT.paused);
    expect(result.stderr).toMatch(
      new RegExp(
        `Run ${runId} is paused and did not finish \\(exit code 3\\): LLM configuration error \\(LlmAuthenticationError\\)`,
      ),
    );
    expect(result.stderr).toContain('OPENAI_API_KEY');
    expect(result.stderr).toContain(`evol resume ${runId}`);
    noStackTrace(result.stderr);
    expect((await evol(['cancel', runId])).code).toBe(EXIT.ok);
  });

  test('a run paused by `evol pause` while followed ends following with exit code 3 too, saying it was by request', async () => {
    const runId = runIdOf('paused');
    sim.addRule({ match: { contains: 'follow-pause' }, latencyMs: 1000 });
    const following = spawnCli(
      [
        'run',
        '--input',
        seedFile('pause.jsonl', sampleTexts(6, 'follow-pause')),
        '--run-id',
        runId,
        '--task-queue',
        taskQueue,
        '--concurrency',
        '2',
      ],
      { cwd: dir, env: envOf() },
    );
    try {
      await eventually(
        async () => (/\d+\/6 done, [1-9]/.test(following.output()) ? true : undefined),
        'the run to be followed with instructions running',
        60_000,
      );
      expect((await evol(['pause', runId])).code).toBe(EXIT.ok);
      const result = await following.ended;
      expect(result.code).toBe(EXIT.paused);
      expect(result.stderr).toContain(
        `Run ${runId} is paused and did not finish (exit code 3): paused by request (evol pause)`,
      );
    } finally {
      following.kill();
      await evol(['cancel', runId]);
    }
  });

  test('following waits for a worker that is restarting, and goes on once it polls', async () => {
    const queue = uniqueTaskQueue('follow-restart');
    // A worker polled the queue and went away: the server has seen it, and no worker answers now.
    await (await startWorker({ taskQueue: queue, store })).close();
    const runId = runIdOf('restart');
    const following = spawnCli(
      [
        'run',
        '--input',
        seedFile('restart.jsonl', sampleTexts(3, 'restart')),
        '--run-id',
        runId,
        '--rounds',
        '1',
        '--task-queue',
        queue,
      ],
      { cwd: dir, env: envOf({ EVOL_WORKER_WAIT_SECONDS: '120' }) },
    );
    let restarted: TestWorker | undefined;
    try {
      await eventually(
        async () => (following.output().includes(`No worker answers on task queue "${queue}" yet`) ? true : undefined),
        'the command to say it waits for a worker',
        60_000,
      );
      restarted = await startWorker({ taskQueue: queue, store, env: () => ({ OPENAI_API_KEY: 'test-key' }) });
      const result = await following.ended;
      expect([result.code, result.stderr]).toEqual([EXIT.ok, expect.stringContaining(`Run ${runId}: completed`)]);
      expect(result.stderr).not.toContain('FAILED_PRECONDITION');
    } finally {
      following.kill();
      await restarted?.close();
    }
  });

  test('with no worker on its task queue, following fails after EVOL_WORKER_WAIT_SECONDS, naming the queue, the server and the command to start one', async () => {
    const queue = uniqueTaskQueue('follow-nobody');
    const runId = runIdOf('nobody');
    const started = Date.now();
    const result = await evol(
      ['run', '--input', seedFile('nobody.jsonl', sampleTexts(2, 'nobody')), '--run-id', runId, '--task-queue', queue],
      { EVOL_WORKER_WAIT_SECONDS: '2' },
    );
    try {
      expect(result.code).toBe(EXIT.failed);
      expect(result.stderr).toContain(`No worker answers on task queue "${queue}" yet`);
      expect(result.stderr).toContain(
        `evol: no worker polls task queue "${queue}" on ${testAddress()} (namespace default): start one with \`evol worker --task-queue ${queue}\``,
      );
      expect(result.stderr).toContain(`then \`evol run --run-id ${runId} --resume\``);
      noStackTrace(result.stderr);
      // The wait is EVOL_WORKER_WAIT_SECONDS, not the server's own query timeout (about 30 s).
      expect(Date.now() - started).toBeLessThan(25_000);
    } finally {
      await client.workflow.getHandle(runWorkflowIds(runId).dataset).terminate('test cleanup');
    }
  });

  test('EVOL_WORKER_WAIT_SECONDS that is not a number of seconds is refused, naming it', async () => {
    const result = await evol(['status', 'any-run'], { EVOL_WORKER_WAIT_SECONDS: 'soon' });
    expect(result.code).toBe(EXIT.badInput);
    expect(result.stderr).toContain('EVOL_WORKER_WAIT_SECONDS is "soon": give a number of seconds, 0 or more');
  });
});

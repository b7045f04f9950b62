/**
 * An upgrade in the middle of a run, on the real dev server (issue 22): a dataset run starts on build A; build B,
 * whose instruction workflow is non-deterministic for A's histories, starts and becomes current. A's instructions in
 * flight finish on A with no non-determinism error and no finished LLM call made again; instructions started after
 * the switch, and new runs, go to B; `evol status` shows both builds and what runs on each (the run paused meanwhile,
 * so that what runs where holds still while it is looked at); once A has drained, stopping its worker loses nothing.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection } from '@temporalio/worker';
import { pauseRun, resumeRun } from '../client/api';
import { buildsOf, makeCurrent, becomeCurrent } from '../client/workers';
import type { RunProgress } from '../core/dataset';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import { createEvolWorker, type EvolWorker } from '../worker';
import { installQuietRuntime } from '../worker/runtime';
import { WORKFLOW_BUNDLER_OPTIONS } from '../worker/workflow-source';
import { deliberateRepeatCalls, repeatedCalls } from './helpers/llm-calls';
import { collect, idsOf, sampleTexts, seedsFromTexts, startRun, waitForProgress } from './helpers/runs';
import { connectClient, eventually, llmAt, testAddress, uniqueTaskQueue, workflowBundle } from './helpers/temporal';
import { runCli } from './helpers/worker-process';

const deploymentName = `evol-versioning-${randomBytes(3).toString('hex')}`;

describe('an upgrade in the middle of a run, with Worker Versioning', () => {
  let sim: SimLlm;
  let client: Client;
  let connection: Connection;
  let dir: string;
  let store: LocalRunStore;
  const taskQueue = uniqueTaskQueue('versioning');
  const workers: Array<{ evol: EvolWorker; connection: NativeConnection; running: Promise<void> }> = [];

  async function startBuild(code: string) {
    const native = await NativeConnection.connect({ address: testAddress() });
    const evol = await createEvolWorker({
      connection: native,
      taskQueue,
      store,
      deploymentName,
      workflowBundle: { code },
    });
    const entry = { evol, connection: native, running: evol.worker.run() };
    workers.push(entry);
    return entry;
  }

  async function stop(entry: (typeof workers)[number]) {
    await entry.evol.shutdown();
    await entry.running;
    await entry.connection.close();
    workers.splice(workers.indexOf(entry), 1);
  }

  /** The build an execution runs on. */
  async function buildOf(workflowId: string): Promise<string | undefined> {
    const { raw } = await client.workflow.getHandle(workflowId).describe();
    return raw.workflowExecutionInfo?.versioningInfo?.deploymentVersion?.buildId ?? undefined;
  }

  beforeAll(async () => {
    installQuietRuntime();
    sim = await startSimLlm();
    ({ client, connection } = await connectClient());
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-versioning-'));
    store = new LocalRunStore(path.join(dir, 'runs'));
  });

  afterAll(async () => {
    for (const entry of [...workers]) await stop(entry);
    await connection?.close();
    await sim?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('A finishes what it started, B takes what starts after the switch, nothing is lost or asked twice', async () => {
    const codeA = fs.readFileSync(workflowBundle().codePath, 'utf8');
    const codeB = (
      await bundleWorkflowCode({
        workflowsPath: path.join(__dirname, 'fixtures', 'workflows', 'build-b.ts'),
        logger: new DefaultLogger('WARN'),
        ...WORKFLOW_BUNDLER_OPTIONS,
      })
    ).code;

    const a = await startBuild(codeA);
    await becomeCurrent(client, a.evol.version, { always: true, taskQueue });
    // Slow calls, so that A's instructions are still in flight when B takes over.
    sim.addRule({ latencyMs: 1200 });
    const llm = llmAt(sim.url);
    const first = `vers-a-${Date.now().toString(36)}`;
    const firstRun = await startRun({
      client,
      store,
      taskQueue,
      runId: first,
      seeds: seedsFromTexts(sampleTexts(6, first)),
      llm,
      config: { rounds: 2, concurrency: 3 },
    });
    await waitForProgress(firstRun, (p) => p.inFlight === 3, 'three instructions in flight on A');

    const b = await startBuild(codeB);
    expect(b.evol.version.buildId).not.toBe(a.evol.version.buildId);
    await makeCurrent(client, b.evol.version);
    const switchedAt = Date.now();
    const second = `vers-b-${Date.now().toString(36)}`;
    const secondRun = await startRun({
      client,
      store,
      taskQueue,
      runId: second,
      seeds: seedsFromTexts(sampleTexts(3, second)),
      llm,
      config: { rounds: 1, concurrency: 3 },
    });

    // The first run is paused, so that what runs where holds still while it is looked at: A's instructions wait in
    // flight (pinned), and the pause's workflow task moves the run's dataset workflow to B (it auto-upgrades).
    await pauseRun(firstRun);
    await eventually(
      async () => {
        const builds = await buildsOf(client, deploymentName, first);
        const onA = builds.find((x) => x.buildId === a.evol.version.buildId)?.running.instructionEvolution ?? 0;
        const onB = builds.find((x) => x.buildId === b.evol.version.buildId)?.running.datasetEvolution ?? 0;
        return onA > 0 && onB > 0 ? true : undefined;
      },
      'the first run on both builds',
      60_000,
    );
    // Visibility (which these counts come from) is updated a moment after each task: asked until it shows both.
    const showsA = new RegExp(`build ${a.evol.version.buildId} \\(\\w+\\): (\\d+ \\w+, )*\\d+ instructionEvolution`);
    const showsB = new RegExp(`build ${b.evol.version.buildId} \\(current\\): [^\\n]*\\b1 datasetEvolution\\b`);
    const status = await eventually(
      async () => {
        const result = await runCli(['status', first], {
          cwd: dir,
          env: {
            TEMPORAL_ADDRESS: testAddress(),
            EVOL_STORE_DIR: path.join(dir, 'runs'),
            EVOL_DEPLOYMENT_NAME: deploymentName,
          },
          timeoutMs: 60_000,
        });
        expect(result.code).toBe(0);
        return showsA.test(result.stdout) && showsB.test(result.stdout) ? result : undefined;
      },
      'evol status to show both builds',
      90_000,
    );
    sim.clearRules();
    await resumeRun(firstRun);

    const [done1, done2] = (await Promise.all([firstRun.result(), secondRun.result()])) as RunProgress[];
    expect(done1.counts).toMatchObject({ done: 6, failed: 0 });
    expect(done2.counts).toMatchObject({ done: 3, failed: 0 });

    // Where each instruction ran: those started before the switch on A, the others on B, whose code it shows.
    const instructions = [
      ...Array.from({ length: 6 }, (_, i) => idsOf(first).instruction(`s${i + 1}`)),
      ...Array.from({ length: 3 }, (_, i) => idsOf(second).instruction(`s${i + 1}`)),
    ];
    let onA = 0;
    let onB = 0;
    for (const workflowId of instructions) {
      const handle = client.workflow.getHandle(workflowId);
      const { startTime, status: state } = await handle.describe();
      expect(state.name).toBe('COMPLETED');
      const events = (await handle.fetchHistory()).events ?? [];
      expect(events.filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
      const build = await buildOf(workflowId);
      const sleptFirst = events.some((e) => e.timerStartedEventAttributes);
      if (startTime.getTime() < switchedAt) {
        expect([workflowId, build]).toEqual([workflowId, a.evol.version.buildId]);
        expect(sleptFirst).toBe(false);
        onA++;
      } else {
        expect([workflowId, build]).toEqual([workflowId, b.evol.version.buildId]);
        expect(sleptFirst).toBe(true);
        onB++;
      }
    }
    console.log(`instructions on build A: ${onA}, on build B: ${onB}; evol status printed:\n${status.stdout}`);
    expect(onA).toBeGreaterThanOrEqual(3);
    expect(onB).toBeGreaterThanOrEqual(3);
    expect(await buildOf(idsOf(second).dataset)).toBe(b.evol.version.buildId);
    expect(await buildOf(idsOf(first).dataset)).toBe(b.evol.version.buildId);

    // No finished call asked again: a repeat could only be a round repeated on purpose.
    const records = [...(await collect(store.records(first))), ...(await collect(store.records(second)))];
    expect(records.map((r) => r.instructionId).sort()).toEqual(
      ['s1', 's2', 's3', 's4', 's5', 's6', 's1', 's2', 's3'].sort(),
    );
    expect(repeatedCalls(sim.requests(), []).unexplained).toBeLessThanOrEqual(deliberateRepeatCalls(records));

    // A has drained: nothing runs on it, and stopping it loses nothing; a new run completes on B alone.
    const drained = (await buildsOf(client, deploymentName)).find((x) => x.buildId === a.evol.version.buildId);
    expect(drained?.running).toEqual({});
    await stop(a);
    const third = `vers-c-${Date.now().toString(36)}`;
    const thirdRun = await startRun({
      client,
      store,
      taskQueue,
      runId: third,
      seeds: seedsFromTexts(sampleTexts(2, third)),
      llm,
      config: { rounds: 1, concurrency: 2 },
    });
    expect(((await thirdRun.result()) as RunProgress).counts).toMatchObject({ done: 2, failed: 0 });
    expect(await collect(store.records(first))).toHaveLength(6);
  });
});

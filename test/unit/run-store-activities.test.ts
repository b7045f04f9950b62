/**
 * The run-store activities in Temporal's MockActivityEnvironment: a real LocalRunStore on a temp dir, and for the
 * signal finishInstruction sends, a stand-in for the activity context's client that records what it was asked.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { createRunStoreActivities, readInstructionStart } from '../../activities/run-store';
import type { InstructionReport } from '../../core/dataset';
import { instructionFinishedSignal } from '../../core/messages';
import { GENERAL_OPERATIONS } from '../../core/operations';
import type { Lineage, LineageStep } from '../../core/lineage';
import type { LlmConfig } from '../../core/endpoints';
import { LocalRunStore } from '../../store/local-run-store';
import { ActivityEnv } from '../helpers/activity-env';
import { testRunConfig } from '../helpers/run-config';

const RUN = 'unit-run';

const ZERO = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };

function step(round: number): LineageStep {
  return {
    round,
    operation: 'add-constraints',
    parent: `parent ${round}`,
    instruction: `instruction ${round}`,
    response: `response ${round}`,
    verdict: { passed: true },
    usage: ZERO,
    costUsd: 0,
  };
}

function lineage(instructionId: string, final: string, steps: LineageStep[] = [step(1)]): Lineage {
  return {
    runId: RUN,
    instructionId,
    seed: `seed ${instructionId}`,
    status: 'completed',
    rounds: steps.length,
    steps,
    final,
    usage: ZERO,
    costUsd: 0,
  };
}

const report: InstructionReport = {
  instructionId: 's1',
  status: 'completed',
  rounds: [{ round: 1, passed: true }],
  usage: ZERO,
  costUsd: 0,
};

interface Signalled {
  workflowId: string;
  signal: string;
  args: unknown[];
}

/**
 * Just enough of a Client for `client.workflow.getHandle(id).signal(...)`, and the `withAbortSignal` the activity
 * environment wraps every run in; `onSignal` may throw, as a signal can.
 */
function recordingClient(onSignal: (workflowId: string) => void | Promise<void> = () => undefined) {
  const signalled: Signalled[] = [];
  const client = {
    withAbortSignal: <R>(_signal: AbortSignal, fn: () => Promise<R>) => fn(),
    workflow: {
      getHandle: (workflowId: string) => ({
        signal: async (def: { name: string }, ...args: unknown[]) => {
          signalled.push({ workflowId, signal: def.name, args });
          await onSignal(workflowId);
        },
      }),
    },
  } as unknown as Client;
  return { client, signalled };
}

const llm: LlmConfig = (() => {
  const endpoint = {
    baseURL: 'http://127.0.0.1:1/v1',
    model: 'm',
    temperature: 0,
    maxTokens: 8,
    apiKeyEnv: 'K',
    requestTimeoutMs: 1000,
  };
  return { evolver: endpoint, responder: endpoint, judge: endpoint };
})();

let dir: string;
let store: LocalRunStore;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-unit-store-'));
  store = new LocalRunStore(dir);
  await store.createRun(
    {
      runId: RUN,
      createdAt: new Date(0).toISOString(),
      inputFile: 'inline',
      seedCount: 3,
      invalidRows: 0,
      duplicateRows: 0,
      config: { kind: 'dataset', ...testRunConfig(llm, { answerSeeds: true }) },
    },
    [
      { id: 's1', text: 'Explain tides.', source: { file: 'inline', line: 1 } },
      { id: 's2', text: 'Explain volcanoes.', output: 'Hot rock.', source: { file: 'inline', line: 2 } },
      { id: 's3', text: 'Explain compilers.', source: { file: 'inline', line: 3 } },
    ],
  );
});

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('finishInstruction', () => {
  test('writes the record once: a second call (a retry) says "exists" and leaves the first record as it was', async () => {
    const { client } = recordingClient();
    const env = new ActivityEnv({}, client);
    const { finishInstruction } = createRunStoreActivities(store);

    const tell = { parentWorkflowId: 'dataset-1', report };
    await expect(env.call(finishInstruction, { lineage: lineage('s1', 'first'), ...tell })).resolves.toBe('written');
    await expect(env.call(finishInstruction, { lineage: lineage('s1', 'second'), ...tell })).resolves.toBe('exists');
    expect((await store.record(RUN, 's1'))?.final).toBe('first');
    expect(await store.hasRecord(RUN, 's2')).toBe(false);
  });

  test("tells the dataset workflow with the activity context's client, after the record is written", async () => {
    let recordedWhenSignalled: boolean | undefined;
    const { client, signalled } = recordingClient(async () => {
      recordedWhenSignalled = await store.hasRecord(RUN, 's1');
    });
    const env = new ActivityEnv({}, client);
    const { finishInstruction } = createRunStoreActivities(store);

    await env.call(finishInstruction, { lineage: lineage('s1', 'f'), parentWorkflowId: 'dataset-1', report });
    expect(signalled).toEqual([{ workflowId: 'dataset-1', signal: instructionFinishedSignal.name, args: [report] }]);
    expect(recordedWhenSignalled).toBe(true);
  });

  test('a dataset workflow that is gone needs no report: the record is still written', async () => {
    const { client, signalled } = recordingClient((id) => {
      throw new WorkflowNotFoundError('workflow not found', id, undefined);
    });
    const env = new ActivityEnv({}, client);
    const { finishInstruction } = createRunStoreActivities(store);

    await expect(
      env.call(finishInstruction, { lineage: lineage('s1', 'f'), parentWorkflowId: 'dataset-1', report }),
    ).resolves.toBe('written');
    expect(signalled).toHaveLength(1);
    expect(await store.hasRecord(RUN, 's1')).toBe(true);
  });

  test('any other signal failure fails the activity; its retry finds the record and sends the report again', async () => {
    let down = true;
    const { client, signalled } = recordingClient(() => {
      if (down) throw new Error('connection refused');
    });
    const env = new ActivityEnv({}, client);
    const { finishInstruction } = createRunStoreActivities(store);
    const input = { lineage: lineage('s1', 'f'), parentWorkflowId: 'dataset-1', report };

    await expect(env.call(finishInstruction, input)).rejects.toThrow('connection refused');
    expect(await store.hasRecord(RUN, 's1')).toBe(true);
    down = false;
    await expect(env.call(finishInstruction, input)).resolves.toBe('exists');
    expect(signalled.map((s) => s.args[0])).toEqual([report, report]);
  });
});

describe('reading seeds', () => {
  test('readSeedPage skips recorded seeds, and with onlyFailed those without a failed attempt', async () => {
    const env = new ActivityEnv();
    const activities = createRunStoreActivities(store);
    await store.saveRecord(lineage('s2', 'f'));
    await env.call(activities.saveFailedAttempt, { ...lineage('s3', 'f'), status: 'failed' });

    await expect(env.call(activities.readSeedPage, { runId: RUN, offset: 0, limit: 10 })).resolves.toEqual({
      ids: ['s1', 's2', 's3'],
      done: ['s2'],
    });
    await expect(
      env.call(activities.readSeedPage, { runId: RUN, offset: 0, limit: 10, onlyFailed: true }),
    ).resolves.toEqual({ ids: ['s1', 's2', 's3'], done: ['s1', 's2'] });
    await expect(env.call(activities.readSeedPage, { runId: RUN, offset: 1, limit: 1 })).resolves.toEqual({
      ids: ['s2'],
      done: ['s2'],
    });
    await expect(env.call(activities.readSeedRecorded, { runId: RUN, instructionId: 's2' })).resolves.toEqual({
      recorded: true,
    });
  });

  test("an instruction's start reads the seed, the run's settings and, for evol retry, a failed attempt's steps", async () => {
    await store.saveFailedAttempt({ ...lineage('s2', 'f', [step(1), step(2), step(3)]), status: 'failed' });
    const settings = {
      llm,
      operations: GENERAL_OPERATIONS,
      prices: {},
      quality: { unusableRetries: 2, gates: {} },
      answerSeeds: true,
    };
    await expect(readInstructionStart(store, RUN, 's1')).resolves.toEqual({
      text: 'Explain tides.',
      hasOutput: false,
      run: settings,
    });
    await expect(readInstructionStart(store, RUN, 's2', { fromRound: 3 })).resolves.toEqual({
      text: 'Explain volcanoes.',
      hasOutput: true,
      run: settings,
      earlierSteps: [step(1), step(2)],
    });
    await expect(readInstructionStart(store, RUN, 's2', {})).resolves.toMatchObject({
      earlierSteps: [step(1), step(2), step(3)],
    });
  });
});

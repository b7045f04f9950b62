import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { readHistoryFile, replayHistory } from '../client/replay';
import { installQuietRuntime } from '../worker/runtime';
import { workflowBundle } from './helpers/temporal';

const HISTORIES = path.join(__dirname, 'fixtures', 'histories');
const silent = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

async function loadHistory(name: string) {
  return historyFromJSON(JSON.parse(await fs.readFile(path.join(HISTORIES, `${name}.json`), 'utf8')));
}

/** Every committed history: one or more per workflow type, some recorded by earlier versions of the code. */
const FIXTURES = [
  'instruction-evolution',
  // Recorded before patched('evolution-v2'): mutate, respond and eliminate in a row, unusable answers retried with
  // backoff, no gates, no seed answer.
  'instruction-evolution-v2',
  // Recorded before the patched('initial-round-attributes') change: old running workflows must still replay.
  'instruction-evolution-v1',
  'instruction-evolution-dataset-child',
  // Recorded before a dataset run's instructions were started with their seed and settings in their input: the
  // first workflow task reads them in a local activity.
  'instruction-evolution-dataset-child-v3',
  'instruction-evolution-dataset-child-v2',
  // Recorded before patched('lean-dataset-child'): a dataset run's child that reads its seed and saves its record
  // with ordinary activities and reports by signal.
  'instruction-evolution-dataset-child-v1',
  'dataset-evolution-continued',
  'dataset-evolution-final',
  // Recorded before workflow id scheme 2: settings without an idScheme, instructions under evol-<run>-<seed>.
  'dataset-evolution-continued-v2',
  'dataset-evolution-final-v2',
  // Recorded when instructions were started as child workflows, with the LLM settings and operations in their input.
  'dataset-evolution-continued-v1',
  'dataset-evolution-final-v1',
  'auto-evol',
  // Recorded before patched('learning-v2'): learning stopped at no failures or one step without a fall, and the
  // current method kept the rate of an earlier step.
  'auto-evol-v1',
  'score-run',
  // A run that reached its token budget: the workers' spend updates, the pause, an instruction held by the budget
  // until the resume, and the endpoint's rateLimiter leasing its limit.
  'dataset-evolution-budget',
  'instruction-evolution-budget-held',
  'rate-limiter',
  // Batch API mode: a run's batcher (its first execution, which continued as new) and an instruction whose calls
  // went through batch rows.
  'batch-evolution',
  'instruction-evolution-batch',
];

describe('committed histories replay with the current workflow code', () => {
  beforeAll(() => installQuietRuntime());

  test('every committed fixture is listed here, and every workflow type has one', async () => {
    const files = (await fs.readdir(HISTORIES)).map((f) => f.replace(/\.json$/, '')).sort();
    expect(files).toEqual([...FIXTURES].sort());
    const types = new Set<string>();
    for (const name of FIXTURES) {
      types.add(
        (await loadHistory(name)).events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '',
      );
    }
    expect(types).toEqual(
      new Set(['instructionEvolution', 'datasetEvolution', 'autoEvol', 'scoreRun', 'rateLimiter', 'batchEvolution']),
    );
  });

  test('the dataset fixture really continued as new', async () => {
    const events = (await loadHistory('dataset-evolution-continued')).events ?? [];
    expect(events[events.length - 1].workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
  });

  test.each(FIXTURES)('%s replays deterministically', async (name) => {
    const history = await loadHistory(name);
    expect(history.events?.length).toBeGreaterThan(10);
    await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, history);
  });

  test('a reordered workflow fails the replay, so a nondeterministic change cannot land unnoticed', async () => {
    const bundle = await bundleWorkflowCode({
      workflowsPath: path.join(__dirname, 'fixtures', 'workflows', 'reordered-instruction-evolution.ts'),
      logger: silent,
    });
    await expect(
      Worker.runReplayHistory({ workflowBundle: bundle }, await loadHistory('instruction-evolution')),
    ).rejects.toMatchObject({ name: 'DeterminismViolationError' });
  });

  test('evol replay reads an exported history file and reports a divergence plainly', async () => {
    const file = path.join(HISTORIES, 'instruction-evolution.json');
    const good = await replayHistory(readHistoryFile(file), require.resolve('../workflows'));
    expect(good).toMatchObject({ deterministic: true, workflowType: 'instructionEvolution' });

    // Doctor a copy: the first activity the history scheduled becomes another one.
    const doctored = JSON.parse(await fs.readFile(file, 'utf8'));
    const scheduled = doctored.events.find(
      (e: { activityTaskScheduledEventAttributes?: unknown }) => e.activityTaskScheduledEventAttributes,
    );
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'respond';
    const tmp = path.join(os.tmpdir(), `doctored-${process.pid}.json`);
    await fs.writeFile(tmp, JSON.stringify({ history: doctored }));
    const bad = await replayHistory(readHistoryFile(tmp), require.resolve('../workflows'));
    await fs.rm(tmp, { force: true });
    expect(bad.deterministic).toBe(false);
    expect(bad.divergence).toMatch(/respond|mutate|nondetermin/i);
  });

  test('a file that is not a history is refused clearly', async () => {
    const tmp = path.join(os.tmpdir(), `not-history-${process.pid}.json`);
    await fs.writeFile(tmp, '{"hello": 1}');
    expect(() => readHistoryFile(tmp)).toThrow(/not a workflow history/);
    await fs.rm(tmp, { force: true });
  });
});

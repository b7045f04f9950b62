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

/**
 * Every committed history: this build's own, one or more per workflow type (scripts/record-histories.ts). A release
 * replays only its own histories: a workflow that runs on an older build stays there (docs/versioning.md).
 */
const FIXTURES = [
  'single-instruction',
  'instruction-evolution',
  'dataset-evolution-continued',
  'dataset-evolution-final',
  'auto-evol',
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
      new Set([
        'singleInstructionEvolution',
        'instructionEvolution',
        'datasetEvolution',
        'autoEvol',
        'scoreRun',
        'rateLimiter',
        'batchEvolution',
      ]),
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

    // Doctor a copy: the first mutate the history scheduled becomes another activity.
    const doctored = JSON.parse(await fs.readFile(file, 'utf8'));
    const scheduled = doctored.events.find(
      (e: { activityTaskScheduledEventAttributes?: { activityType: { name: string } } }) =>
        e.activityTaskScheduledEventAttributes?.activityType.name === 'mutate',
    );
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'judgeEquality';
    const tmp = path.join(os.tmpdir(), `doctored-${process.pid}.json`);
    await fs.writeFile(tmp, JSON.stringify({ history: doctored }));
    const bad = await replayHistory(readHistoryFile(tmp), require.resolve('../workflows'));
    await fs.rm(tmp, { force: true });
    expect(bad.deterministic).toBe(false);
    expect(bad.divergence).toMatch(/judgeEquality|mutate|nondetermin/i);
  });

  test('a file that is not a history is refused clearly', async () => {
    const tmp = path.join(os.tmpdir(), `not-history-${process.pid}.json`);
    await fs.writeFile(tmp, '{"hello": 1}');
    expect(() => readHistoryFile(tmp)).toThrow(/not a workflow history/);
    await fs.rm(tmp, { force: true });
  });
});

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { installQuietRuntime } from '../worker/runtime';
import { workflowBundle } from './helpers/temporal';

const HISTORIES = path.join(__dirname, 'fixtures', 'histories');

describe('committed histories replay with the current workflow code', () => {
  beforeAll(() => installQuietRuntime());

  test('every recorded workflow type has a fixture', async () => {
    const files = await fs.readdir(HISTORIES);
    expect(files).toEqual(expect.arrayContaining(['instruction-evolution.json']));
  });

  test.each(['instruction-evolution'])('%s replays deterministically', async (name) => {
    const history = historyFromJSON(JSON.parse(await fs.readFile(path.join(HISTORIES, `${name}.json`), 'utf8')));
    expect(history.events?.length).toBeGreaterThan(10);
    await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, history);
  });

  test('a reordered workflow fails the replay, so a nondeterministic change cannot land unnoticed', async () => {
    const history = historyFromJSON(
      JSON.parse(await fs.readFile(path.join(HISTORIES, 'instruction-evolution.json'), 'utf8')),
    );
    const bundle = await bundleWorkflowCode({
      workflowsPath: path.join(__dirname, 'fixtures', 'workflows', 'reordered-instruction-evolution.ts'),
      logger: {
        log: () => undefined,
        trace: () => undefined,
        debug: () => undefined,
        info: () => undefined,
        warn: () => undefined,
        error: () => undefined,
      },
    });
    await expect(Worker.runReplayHistory({ workflowBundle: bundle }, history)).rejects.toMatchObject({
      name: 'DeterminismViolationError',
    });
  });
});

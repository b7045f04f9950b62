import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatasetRun, workflowIdsOf } from '../../client/api';
import { resolveAutoEvolLlm } from '../../core/auto-evol';
import { resolveLlmConfig } from '../../core/config';
import { CURRENT_ID_SCHEME, runWorkflowIds } from '../../core/ids';
import { GENERAL_OPERATIONS } from '../../core/operations';
import { autoSettingsOf, datasetSettingsOf, parseRunMeta } from '../../core/run';
import { UserError } from '../../core/validation';
import { LocalRunStore } from '../../store/local-run-store';
import { testRunConfig } from '../helpers/run-config';

const llm = resolveLlmConfig({ env: {}, mode: 'sim' }).llm;

/** A dataset run's meta.json as runs created before settings had a kind or an id scheme wrote it. */
const oldDatasetMeta = {
  runId: 'old-run',
  createdAt: '2026-01-01T00:00:00.000Z',
  inputFile: '/data/seeds.jsonl',
  seedCount: 3,
  invalidRows: 0,
  duplicateRows: 0,
  config: {
    rounds: 2,
    seed: 1,
    llm,
    method: 'general',
    operations: GENERAL_OPERATIONS,
    concurrency: 8,
    budget: {},
    prices: {},
    pageSize: 200,
  },
};

const allIds = (runId: string, instructionIds: string[], scheme: '1' | '2') => {
  const ids = runWorkflowIds(runId, scheme);
  return [ids.dataset, ids.auto, ids.score, ...instructionIds.map((i) => ids.instruction(i))];
};

describe('workflow ids', () => {
  test('run "run" with seed "line-1" and a run named "line-1" share an id under scheme 1 and not under scheme 2', () => {
    expect(runWorkflowIds('run', '1').instruction('line-1')).toBe(runWorkflowIds('line-1', '1').dataset);
    expect(runWorkflowIds('run', '2').instruction('line-1')).not.toBe(runWorkflowIds('line-1', '2').dataset);
  });

  test('under scheme 2 no two workflows of any two runs share an id', () => {
    const runIds = ['run', 'auto', 'score', 'line-1', 'run-line-1', 'a.b', 'a_b', 'instruction', 'x'];
    const instructionIds = ['line-1', 'run', 'line-1:x', 'run:line-1', 'evol', 'a-b', 's1', ':', 'dev:s1'];
    const ids = runIds.flatMap((runId) => allIds(runId, instructionIds, '2'));
    expect(new Set(ids).size).toBe(ids.length);
    // The same check finds the collisions of scheme 1, so it can fail.
    const old = runIds.flatMap((runId) => allIds(runId, instructionIds, '1'));
    expect(new Set(old).size).toBeLessThan(old.length);
  });

  test('new runs get the current scheme; a run without one keeps the ids it was started with', () => {
    expect(CURRENT_ID_SCHEME).toBe('2');
    expect(runWorkflowIds('r', undefined)).toMatchObject({ dataset: 'evol-run-r', auto: 'evol-auto-r' });
    expect(runWorkflowIds('r', undefined).instruction('s1')).toBe('evol-r-s1');
  });
});

describe('run settings as the store reads them', () => {
  test('a dataset meta written before settings had a kind reads as a dataset run, typed and complete', () => {
    const meta = parseRunMeta(structuredClone(oldDatasetMeta), 'meta.json');
    const settings = datasetSettingsOf(meta);
    expect(settings.kind).toBe('dataset');
    expect(settings.idScheme).toBeUndefined();
    expect(settings.operations.map((op) => op.id)).toEqual(GENERAL_OPERATIONS.map((op) => op.id));
    expect(() => autoSettingsOf(meta)).toThrow(/is a dataset run, not an Auto Evol-Instruct run/);
  });

  test('a learning run reads as one, with the paper defaults it was written with', () => {
    const meta = parseRunMeta(
      {
        ...oldDatasetMeta,
        runId: 'learn',
        config: {
          kind: 'auto-evol',
          inputCount: 3,
          devFileCount: 0,
          steps: 2,
          candidates: 2,
          batchSize: 2,
          devSize: 1,
          evolutionsPerInstruction: 1,
          maxMethodChars: 6000,
          concurrency: 4,
          seed: 0,
          initialMethod: 'Rewrite {instruction}',
          llm: resolveAutoEvolLlm({ env: {}, mode: 'sim' }).llm,
          idScheme: '2',
        },
      },
      'meta.json',
    );
    expect(autoSettingsOf(meta).steps).toBe(2);
    expect(() => datasetSettingsOf(meta)).toThrow(/is an Auto Evol-Instruct learning run, not a dataset run/);
  });

  test('a damaged meta names the file and the field', () => {
    const damaged = structuredClone(oldDatasetMeta) as { config: Record<string, unknown> };
    damaged.config.rounds = 'two';
    let error: unknown;
    try {
      parseRunMeta(damaged, '/runs/old-run/meta.json');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(/^\/runs\/old-run\/meta\.json: field "config\.rounds"/);
  });

  test('an unknown kind is refused rather than read as a dataset run', () => {
    expect(() => parseRunMeta({ ...oldDatasetMeta, config: { kind: 'other' } }, 'meta.json')).toThrow(
      /meta\.json: field "config\.kind"/,
    );
  });
});

describe('creating a run', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-settings-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const seeds = [{ id: 's1', text: 'Explain tides.', source: { file: 'inline', line: 1 } }];

  test('a new dataset run gets its kind and the current id scheme, and reads back as it was written', async () => {
    const store = new LocalRunStore(dir);
    const meta = await createDatasetRun(store, { runId: 'r1', inputFile: 'inline', seeds, config: testRunConfig() });
    expect(meta.config).toMatchObject({ kind: 'dataset', idScheme: CURRENT_ID_SCHEME });
    expect(await new LocalRunStore(dir).readMeta('r1')).toEqual(meta);
    expect(workflowIdsOf(meta).dataset).toBe('evol:run:r1');
  });

  test('the run list names the runs whose settings cannot be read, and why, beside the others', async () => {
    const store = new LocalRunStore(dir);
    await createDatasetRun(store, { runId: 'good', inputFile: 'inline', seeds, config: testRunConfig() });
    await createDatasetRun(store, { runId: 'broken', inputFile: 'inline', seeds, config: testRunConfig() });
    fs.writeFileSync(path.join(dir, 'broken', 'meta.json'), '{"runId": "broken",');
    fs.mkdirSync(path.join(dir, 'half'));
    const { runs, unreadable } = await new LocalRunStore(dir).listRuns();
    expect(runs.map((r) => r.runId)).toEqual(['good']);
    expect(unreadable).toEqual([
      { runId: 'broken', reason: expect.stringMatching(/broken[\\/]meta\.json: not valid JSON/) },
      { runId: 'half', reason: expect.stringMatching(/half[\\/]meta\.json is missing: the run was not fully created/) },
    ]);
  });

  test('settings the store could not read back are refused before anything is written', async () => {
    const store = new LocalRunStore(dir);
    const config = testRunConfig(undefined, { concurrency: 0 });
    await expect(createDatasetRun(store, { runId: 'r2', inputFile: 'inline', seeds, config })).rejects.toThrow(
      /invalid run settings: field "concurrency"/,
    );
    expect(await store.runExists('r2')).toBe(false);
  });
});

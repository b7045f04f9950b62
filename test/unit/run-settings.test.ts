import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatasetRun, workflowIdsOf } from '../../client/api';
import { resolveAutoEvolLlm } from '../../core/auto-evol';
import { resolveLlmConfig } from '../../core/config';
import { runWorkflowIds } from '../../core/ids';
import { EVOLFORGE_RELEASE, requireVersionedRun } from '../../core/release';
import { GENERAL_OPERATIONS } from '../../core/operations';
import { resolveDatasetRunSettings } from '../../core/run-settings';
import { autoSettingsOf, datasetSettingsOf, parseRunMeta } from '../../core/run';
import { UserError } from '../../core/validation';
import { LocalRunStore } from '../../store/local-run-store';
import { testRunConfig } from '../helpers/run-config';

const llm = resolveLlmConfig({ env: {}, mode: 'sim' }).llm;

/** A dataset run's meta.json as EvolForge 0.1.0 wrote it before settings had a kind (no release either). */
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

describe('workflow ids', () => {
  test('no two workflows of any two runs share an id', () => {
    const runIds = ['run', 'auto', 'score', 'line-1', 'run-line-1', 'a.b', 'a_b', 'instruction', 'x'];
    const instructionIds = ['line-1', 'run', 'line-1:x', 'run:line-1', 'evol', 'a-b', 's1', ':', 'dev:s1'];
    const all = (
      make: (runId: string) => {
        dataset: string;
        auto: string;
        score: string;
        batch: string;
        instruction(i: string): string;
      },
    ) =>
      runIds.flatMap((runId) => {
        const ids = make(runId);
        return [ids.dataset, ids.auto, ids.score, ids.batch, ...instructionIds.map((i) => ids.instruction(i))];
      });
    const ids = all(runWorkflowIds);
    expect(new Set(ids).size).toBe(ids.length);
    // The same check finds the collisions of ids made without the kind's colon, so it can fail.
    const dashed = all((runId) => ({
      dataset: `evol-run-${runId}`,
      auto: `evol-auto-${runId}`,
      score: `evol-score-${runId}`,
      batch: `evol-batch-${runId}`,
      instruction: (i) => `evol-${runId}-${i}`,
    }));
    expect(new Set(dashed).size).toBeLessThan(dashed.length);
  });
});

describe('run settings as the store reads them', () => {
  test('a 0.1.0 dataset meta still reads (for export and report), and its workflows are refused, naming 0.1.0', () => {
    const meta = parseRunMeta(
      structuredClone({ ...oldDatasetMeta, config: { ...oldDatasetMeta.config, idScheme: '2' } }),
      'meta.json',
    );
    const settings = datasetSettingsOf(meta);
    expect(settings.kind).toBe('dataset');
    expect(settings).not.toHaveProperty('idScheme');
    expect(settings.operations.map((op) => op.id)).toEqual(GENERAL_OPERATIONS.map((op) => op.id));
    expect(() => autoSettingsOf(meta)).toThrow(/is a dataset run, not an Auto Evol-Instruct run/);
    expect(meta.release).toBeUndefined();
    expect(() => requireVersionedRun(meta)).toThrow(
      /run "old-run" was created by EvolForge 0\.1\.0, before worker versioning: this release \(0\.2\.0\) does not run its workflows\. Finish it with 0\.1\.0 \(`git checkout a4ec839/,
    );
    expect(() => requireVersionedRun({ runId: 'new', release: EVOLFORGE_RELEASE })).not.toThrow();
  });

  test('the release a run records is the package version', () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as {
      version: string;
    };
    expect(EVOLFORGE_RELEASE).toBe(pkg.version);
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

  test('a new dataset run gets its kind and this release, and reads back as it was written', async () => {
    const store = new LocalRunStore(dir);
    const meta = await createDatasetRun(store, { runId: 'r1', inputFile: 'inline', seeds, config: testRunConfig() });
    expect(meta.config).toMatchObject({ kind: 'dataset' });
    expect(meta.release).toBe(EVOLFORGE_RELEASE);
    expect(await new LocalRunStore(dir).readMeta('r1')).toEqual(meta);
    expect(workflowIdsOf(meta).dataset).toBe('evol:run:r1');
  });

  test('what a caller leaves out takes the schema defaults, written into the run', async () => {
    const store = new LocalRunStore(dir);
    const meta = await createDatasetRun(store, {
      runId: 'r3',
      inputFile: 'inline',
      seeds,
      config: { llm, method: 'general', operations: [...GENERAL_OPERATIONS] },
    });
    expect(datasetSettingsOf(meta)).toMatchObject({
      rounds: 4,
      seed: 0,
      concurrency: 16,
      pageSize: 200,
      budget: {},
      prices: {},
      answerSeeds: true,
      quality: { unusableRetries: 2, gates: {} },
    });
    expect(await new LocalRunStore(dir).readMeta('r3')).toEqual(meta);
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
    const config = { ...testRunConfig(), concurrency: 0 };
    await expect(createDatasetRun(store, { runId: 'r2', inputFile: 'inline', seeds, config })).rejects.toThrow(
      /invalid run settings: field "concurrency"/,
    );
    expect(await store.runExists('r2')).toBe(false);
  });
});

describe("resolving a dataset run's settings", () => {
  const resolved = resolveLlmConfig({ env: {}, mode: 'sim' });
  const request = {
    llm: resolved.llm,
    simulated: resolved.simulated,
    llmDescription: resolved.description,
    method: { name: 'general', operations: [...GENERAL_OPERATIONS] },
    prices: {},
  };

  test('returns the settings and the notices to print, leaving what has a default to the schema', () => {
    const { config, notices } = resolveDatasetRunSettings({ ...request, rounds: 2, seedAnswers: false });
    expect(config).toMatchObject({ rounds: 2, method: 'general', budget: {}, prices: {}, answerSeeds: false });
    expect(config).not.toHaveProperty('pageSize');
    expect(config).not.toHaveProperty('concurrency');
    expect(notices[0]).toBe(resolved.description);
    expect(notices).toContainEqual(expect.stringMatching(/^ {2}evolver: evolforge-sim, temperature 1/));
    expect(notices).toContainEqual('  unusable answers are asked again at most 2 times; gates off: none');
    expect(notices).toContainEqual(expect.stringMatching(/^No price known for evolforge-sim: its cost counts as 0/));
    const meta = parseRunMeta(
      { ...oldDatasetMeta, release: EVOLFORGE_RELEASE, config: { kind: 'dataset', ...config } },
      'meta.json',
    );
    expect(datasetSettingsOf(meta)).toMatchObject({ pageSize: 200, concurrency: 16, answerSeeds: false });
  });

  test('--batch sends every role through the Batch API and says what that costs in time', () => {
    const { config, notices } = resolveDatasetRunSettings({ ...request, batch: true });
    expect(Object.values(config.llm).every((e) => e.batch === true)).toBe(true);
    expect(config.batch).toMatchObject({ maxWaitMs: 1000 });
    expect(notices).toContainEqual(
      expect.stringMatching(/^Batch API: the evolver, responder, judge calls go in batches/),
    );
  });

  test('a method without an operation for a round, or a cost budget without prices, is refused with what to do', () => {
    const early = [{ ...GENERAL_OPERATIONS[0], rounds: { from: 1, to: 1 } }];
    expect(() =>
      resolveDatasetRunSettings({ ...request, rounds: 2, method: { name: 'm', operations: early } }),
    ).toThrow(/method "m" schedules no operation for round 2/);
    expect(() => resolveDatasetRunSettings({ ...request, maxCost: 1 })).toThrow(
      /--max-cost needs a price for evolforge-sim: add it with --prices FILE/,
    );
  });
});

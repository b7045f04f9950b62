/**
 * `evol export --format parquet` and `evol export --dataset DIR` on a real run (dev server, worker, the LLM simulated
 * over HTTP), partly scored: the real Hugging Face `datasets` library loads the folder with `load_dataset(DIR)` and
 * gets the JSON export's rows, in its order, with the same values; the card's header and figures are the run's; a
 * bucket gets the same files. The library runs in a venv of its own (EVOL_DATASETS_PYTHON, which .ci/run provisions);
 * without it the tests that load skip with a message, except in CI.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import YAML from 'yaml';
import type { Lineage } from '../core/lineage';
import type { RowScore, ScoreRunInput } from '../core/scoring';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import { S3Objects } from '../store/s3-objects';
import { collect, idsOf, sampleTexts, seedsFromTexts, startRun } from './helpers/runs';
import { keysAt, newBucket, s3TestServer } from './helpers/s3';
import { connectClient, llmAt, testAddress, uniqueTaskQueue } from './helpers/temporal';
import { runCli, startWorkerProcess, type WorkerProcess } from './helpers/worker-process';

const ROOT = path.resolve(__dirname, '..');
const LOADER = path.join(__dirname, 'helpers', 'load-dataset.py');
const PROVISION = 'python3 -m venv .ci-venv && .ci-venv/bin/pip install datasets';

/** The python with `datasets`: EVOL_DATASETS_PYTHON, else the venv .ci/run makes in the repository. */
function datasetsPython(): string | undefined {
  if (process.env.EVOL_DATASETS_PYTHON) return process.env.EVOL_DATASETS_PYTHON;
  const local = path.join(ROOT, '.ci-venv', 'bin', 'python');
  return fs.existsSync(local) ? local : undefined;
}
const PYTHON = datasetsPython();
if (!PYTHON) {
  const missing = `no python with the datasets library: set EVOL_DATASETS_PYTHON, or run \`${PROVISION}\` in the repository`;
  if (process.env.CI === 'true') throw new Error(`${missing} (.ci/run does it)`);
  console.warn(`skipping the load_dataset tests: ${missing}`);
}
const loadingTest = PYTHON ? test : test.skip;

interface Loaded {
  numRows: number;
  features: unknown[];
  splits: Record<string, number>;
  rows: Array<Record<string, unknown>>;
}

/** What `datasets.load_dataset` gives for a folder or a Parquet file (test/helpers/load-dataset.py). */
function loadWithDatasets(mode: 'folder' | 'parquet', location: string, cacheDir: string): Promise<Loaded> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON!,
      [LOADER, mode, location],
      {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          HF_HOME: cacheDir,
          HF_HUB_OFFLINE: '1',
          HF_DATASETS_DISABLE_PROGRESS_BARS: '1',
        },
        maxBuffer: 64 * 1024 * 1024,
        timeout: 180_000,
      },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`load_dataset(${location}) failed: ${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as Loaded);
      },
    );
  });
}

/** A JSON export's row as `datasets` gives it back: every `_evol` field present, null where the JSON has none. */
function asLoaded(row: Record<string, unknown>): Record<string, unknown> {
  const evol = row._evol as Record<string, unknown>;
  return { ...row, _evol: { difficulty: null, complexity: null, ...evol } };
}

function readCard(dir: string): { header: Record<string, unknown>; body: string } {
  const text = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  const match = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text);
  expect(match).not.toBeNull();
  return { header: YAML.parse(match![1]) as Record<string, unknown>, body: match![2] };
}

describe('a run exported as Parquet and as a dataset folder', () => {
  let sim: SimLlm;
  let client: Client;
  let connection: Connection;
  let dir: string;
  let store: LocalRunStore;
  let worker: WorkerProcess;
  const runId = `hf-${Date.now().toString(36)}`;
  const taskQueue = uniqueTaskQueue('dataset-export');

  beforeAll(async () => {
    sim = await startSimLlm();
    ({ client, connection } = await connectClient());
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-dataset-'));
    store = new LocalRunStore(path.join(dir, 'runs'));
    worker = await startWorkerProcess({
      address: testAddress(),
      taskQueue,
      env: { EVOL_STORE_DIR: path.join(dir, 'runs'), EVOL_TEST_API_KEY: 'k' },
    });
    // Two verdicts of "equal": eliminations by rule 1 the card must count, whatever the simulated judge does else.
    sim.addRule({ match: { kind: 'judge' }, content: 'EQUAL', times: 2 });
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId,
      seeds: seedsFromTexts(sampleTexts(12, 'hf')),
      llm: llmAt(sim.url),
      config: { rounds: 3, concurrency: 6, answerSeeds: true },
    });
    await handle.result();
    // Three rows of each round rated: the others have no difficulty, which must load as null.
    const input: ScoreRunInput = { runId, scorer: llmAt(sim.url).judge, concurrency: 4, seed: 0, perRound: 3 };
    await client.workflow.execute('scoreRun', { taskQueue, workflowId: idsOf(runId).score, args: [input] });
  });

  afterAll(async () => {
    await worker?.kill();
    await connection?.close();
    await sim?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** `evol ARGS` as a user runs it. */
  function evol(args: string[], env: NodeJS.ProcessEnv = {}) {
    return runCli(args, {
      cwd: dir,
      env: { EVOL_STORE_DIR: path.join(dir, 'runs'), EVOL_DATA_DIR: dir, ...env },
      timeoutMs: 120_000,
    });
  }

  /** `evol ARGS`, which must succeed. */
  async function evolOk(args: string[], env: NodeJS.ProcessEnv = {}) {
    const result = await evol(args, env);
    expect([args.join(' '), result.code, result.stderr]).toEqual([args.join(' '), 0, result.stderr]);
    return result;
  }

  function jsonRows(file: string): Array<Record<string, unknown>> {
    const text = fs.readFileSync(file, 'utf8');
    return file.endsWith('.json')
      ? (JSON.parse(text) as Array<Record<string, unknown>>)
      : text
          .trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  loadingTest(
    'load_dataset(DIR) gives the JSON export rows in their order, with the features the card declares',
    async () => {
      const json = path.join(dir, 'alpaca.json');
      await evolOk(['export', runId, '--out', json]);
      const expected = jsonRows(json);
      const folder = path.join(dir, 'alpaca-dataset');
      const { stderr } = await evolOk(['export', runId, '--dataset', folder, '--shard-rows', '7']);
      expect(stderr).toContain(`${expected.length} rows from 12 records written to ${folder}`);
      expect(stderr).toContain(`\`datasets.load_dataset("${folder}")\` loads it`);

      const shards = fs.readdirSync(path.join(folder, 'data')).sort();
      const count = Math.ceil(expected.length / 7);
      expect(count).toBeGreaterThan(2);
      expect(shards).toEqual(
        Array.from(
          { length: count },
          (_, i) => `train-${String(i).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.parquet`,
        ),
      );
      const loaded = await loadWithDatasets('folder', folder, path.join(dir, 'hf-cache'));
      expect(loaded.numRows).toBe(expected.length);
      expect(loaded.splits).toEqual({ train: expected.length });
      expect(loaded.rows).toEqual(expected.map(asLoaded));
      // Some rows rated, some not: both kinds went through.
      const difficulties = loaded.rows.map((row) => (row._evol as { difficulty: number | null }).difficulty);
      expect(difficulties.some((d) => d === null)).toBe(true);
      expect(difficulties.some((d) => typeof d === 'number')).toBe(true);
      const { header } = readCard(folder);
      expect((header.dataset_info as { features: unknown[] }).features).toEqual(loaded.features);
      expect(loaded.features).toEqual([
        { name: 'instruction', dtype: 'string' },
        { name: 'input', dtype: 'string' },
        { name: 'output', dtype: 'string' },
        {
          name: '_evol',
          struct: [
            { name: 'runId', dtype: 'string' },
            { name: 'seedId', dtype: 'string' },
            { name: 'round', dtype: 'int64' },
            { name: 'operation', dtype: 'string' },
            { name: 'rowId', dtype: 'string' },
            { name: 'parentId', dtype: 'string' },
            { name: 'difficulty', dtype: 'int64' },
            { name: 'complexity', dtype: 'int64' },
          ],
        },
      ]);
    },
  );

  loadingTest.each([
    ['messages', 'messages', ['role', 'content']],
    ['sharegpt', 'conversations', ['from', 'value']],
  ])('a %s dataset loads as a list of turns, the JSONL export rows', async (format, column, fields) => {
    const jsonl = path.join(dir, `${format}.jsonl`);
    await evolOk(['export', runId, '--format', format, '--out', jsonl, '--rounds', 'final']);
    const folder = path.join(dir, `${format}-dataset`);
    await evolOk(['export', runId, '--format', format, '--dataset', folder, '--rounds', 'final']);
    const loaded = await loadWithDatasets('folder', folder, path.join(dir, 'hf-cache'));
    expect(loaded.rows).toEqual(jsonRows(jsonl).map(asLoaded));
    expect(loaded.features[0]).toEqual({ name: column, list: fields.map((name) => ({ name, dtype: 'string' })) });
    expect(readCard(folder).header.dataset_info).toMatchObject({ features: loaded.features });
  });

  loadingTest(
    '--format parquet (or an --out ending in .parquet) writes one Parquet file of the same rows',
    async () => {
      const json = path.join(dir, 'same.json');
      await evolOk(['export', runId, '--out', json, '--no-shuffle']);
      const file = path.join(dir, 'rows.bin');
      await evolOk(['export', runId, '--format', 'parquet', '--out', file, '--no-shuffle']);
      const byName = path.join(dir, 'chat.parquet');
      await evolOk(['export', runId, '--format', 'messages', '--out', byName, '--no-shuffle']);
      expect(fs.readFileSync(file).subarray(0, 4).toString()).toBe('PAR1');
      const loaded = await loadWithDatasets('parquet', file, path.join(dir, 'hf-cache'));
      expect(loaded.rows).toEqual(jsonRows(json).map(asLoaded));
      const chat = await loadWithDatasets('parquet', byName, path.join(dir, 'hf-cache'));
      expect(chat.rows.map((row) => (row.messages as Array<{ content: string }>)[0].content)).toEqual(
        jsonRows(json).map((row) => row.instruction),
      );
    },
  );

  test('the card: the header the Hub reads, the run settings, its rounds and its difficulty per round', async () => {
    const folder = path.join(dir, 'card-dataset');
    await evolOk(['export', runId, '--dataset', folder]);
    // Its own JSON export, for the row count: the loading tests (which write one too) skip without the library.
    const json = path.join(dir, 'card-rows.json');
    await evolOk(['export', runId, '--out', json]);
    const rows = jsonRows(json);
    const { header, body } = readCard(folder);
    expect(header).toMatchObject({
      task_categories: ['text-generation'],
      size_categories: ['n<1K'],
      configs: [{ config_name: 'default', data_files: [{ split: 'train', path: 'data/train-*' }] }],
      dataset_info: { splits: [{ name: 'train', num_examples: rows.length }] },
    });
    expect(header).not.toHaveProperty('license');
    const meta = await store.readMeta(runId);
    expect(body).toContain('| evolver | sim-1, temperature 0.7 |');
    expect(body).toContain('| judge | sim-1, temperature 0 |');
    expect(body).toContain('| rounds | 3 |');
    expect(body).toContain(`| seed | ${meta.config.seed} |`);
    expect(body).toContain(`shuffled with seed ${meta.config.seed}`);
    expect(body).toMatch(/\| method \| general: add-constraints, /);

    // The rounds, counted here from the records.
    const records: Lineage[] = await collect(store.records(runId));
    const steps = records.flatMap((r) => r.steps);
    let eliminations = 0;
    for (const round of [1, 2, 3]) {
      const ofRound = steps.filter((s) => s.round === round);
      const failed = ofRound.filter((s) => !s.verdict.passed);
      eliminations += failed.length;
      const rules = new Map<string, number>();
      for (const s of failed) if (!s.verdict.passed) rules.set(s.verdict.rule, (rules.get(s.verdict.rule) ?? 0) + 1);
      const byRule = [...rules.entries()]
        .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
        .map(([rule, n]) => `${rule} ${n}`)
        .join(', ');
      const here = rows.filter((row) => (row._evol as { round: number }).round === round).length;
      expect(body).toContain(
        `| ${round} | ${ofRound.length} | ${ofRound.length - failed.length} | ${failed.length} | ${byRule} | ${here} |`,
      );
    }
    expect(eliminations).toBeGreaterThanOrEqual(2);

    // Difficulty: three rows of each round rated, their mean as the card prints it.
    const scores: RowScore[] = await collect(store.scores(runId));
    for (const round of [0, 1, 2, 3]) {
      const rated = scores.filter((s) => s.round === round && s.difficulty !== undefined);
      expect(rated).toHaveLength(3);
      const mean = rated.reduce((sum, s) => sum + s.difficulty!, 0) / rated.length;
      expect(body).toMatch(new RegExp(`\\| ${round} \\| 3 \\| ${mean.toFixed(2)} \\| `));
    }
  });

  test("a second export replaces the first one's shards; a README.md it did not write stops it", async () => {
    const folder = path.join(dir, 'again-dataset');
    await evolOk(['export', runId, '--dataset', folder, '--shard-rows', '5']);
    expect(fs.readdirSync(path.join(folder, 'data')).length).toBeGreaterThan(1);
    fs.writeFileSync(path.join(folder, 'notes.txt'), 'mine');
    await evolOk(['export', runId, '--dataset', folder]);
    expect(fs.readdirSync(path.join(folder, 'data'))).toEqual(['train-00000-of-00001.parquet']);
    expect(fs.readdirSync(folder).sort()).toEqual(['README.md', 'data', 'notes.txt']);

    const foreign = path.join(dir, 'foreign');
    fs.mkdirSync(foreign);
    fs.writeFileSync(path.join(foreign, 'README.md'), '# my project\n');
    const refused = await evol(['export', runId, '--dataset', foreign]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${foreign}/README.md exists and was not written by evol export`);
    expect(fs.readdirSync(foreign)).toEqual(['README.md']);
    expect(fs.readFileSync(path.join(foreign, 'README.md'), 'utf8')).toBe('# my project\n');

    const both = await evol(['export', runId, '--dataset', folder, '--out', path.join(dir, 'x.json')]);
    expect([both.code, both.stderr]).toEqual([
      2,
      expect.stringContaining('give --out FILE or --dataset DIR, not both'),
    ]);
    const toTerminal = await evol(['export', runId, '--format', 'parquet']);
    expect([toTerminal.code, toTerminal.stderr]).toEqual([2, expect.stringContaining('--out FILE.parquet')]);
  });

  test('into a bucket: the same files under the prefix, and stale shards removed there too', async () => {
    const server = s3TestServer();
    if (!server) return;
    const bucket = await newBucket(server, 'hf');
    const local = path.join(dir, 'bucket-twin');
    await evolOk(['export', runId, '--dataset', local, '--shard-rows', '9']);
    const url = `s3://${bucket}/exports/${runId}`;
    await evolOk(['export', runId, '--dataset', url, '--shard-rows', '4'], server.env);
    const { stderr } = await evolOk(['export', runId, '--dataset', url, '--shard-rows', '9'], server.env);
    expect(stderr).toContain(`written to ${url}`);
    const localFiles = ['README.md', ...fs.readdirSync(path.join(local, 'data')).map((f) => `data/${f}`)].sort();
    expect((await keysAt(url, server.env)).sort()).toEqual(localFiles);
    const objects = new S3Objects(url, server.env);
    try {
      for (const name of localFiles) {
        const bytes = await objects.getBytes(name);
        expect([name, Buffer.from(bytes!).equals(fs.readFileSync(path.join(local, name)))]).toEqual([name, true]);
      }
    } finally {
      objects.close();
    }
    await evolOk(['export', runId, '--format', 'parquet', '--out', `s3://${bucket}/one.parquet`], server.env);
    expect(await keysAt(`s3://${bucket}`, server.env)).toContain('one.parquet');
  });
});

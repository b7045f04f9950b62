import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { exportRun, type ExportSource } from '../client/export';
import {
  buildRows,
  compareSeedIds,
  formatRow,
  type ExportOptions,
  type ExportRow,
  type ExportFormat,
} from '../core/export';
import type { Lineage, LineageStep } from '../core/lineage';
import { ZERO_USAGE } from '../core/usage';
import { UserError } from '../core/validation';
import type { RunMeta, SeedRecord } from '../core/run';
import { testRunConfig } from './helpers/runs';

const RUN = 'run-export-test';

/** A Map-based store; `repeatRecords` lists ids whose record the listing yields twice. */
class MemoryRunStore implements ExportSource {
  private readonly runs = new Map<string, { meta: RunMeta; seeds: SeedRecord[]; records: Map<string, Lineage> }>();
  repeatRecords = new Set<string>();

  async createRun(meta: RunMeta, seeds: readonly SeedRecord[]): Promise<void> {
    if (this.runs.has(meta.runId)) throw new Error(`run ${meta.runId} exists`);
    this.runs.set(meta.runId, { meta, seeds: [...seeds], records: new Map() });
  }
  async runExists(runId: string): Promise<boolean> {
    return this.runs.has(runId);
  }
  async readMeta(runId: string): Promise<RunMeta> {
    return this.run(runId).meta;
  }
  async seedIds(runId: string, offset: number, limit: number): Promise<string[]> {
    return this.run(runId)
      .seeds.slice(offset, offset + limit)
      .map((seed) => seed.id);
  }
  async seed(runId: string, id: string): Promise<SeedRecord> {
    const found = this.run(runId).seeds.find((seed) => seed.id === id);
    if (!found) throw new Error(`no seed ${id}`);
    return found;
  }
  async saveRecord(lineage: Lineage): Promise<'written' | 'exists'> {
    const records = this.run(lineage.runId).records;
    if (records.has(lineage.instructionId)) return 'exists';
    records.set(lineage.instructionId, lineage);
    return 'written';
  }
  async hasRecord(runId: string, id: string): Promise<boolean> {
    return this.run(runId).records.has(id);
  }
  async *records(runId: string): AsyncIterable<Lineage> {
    for (const record of this.run(runId).records.values()) {
      yield record;
      if (this.repeatRecords.has(record.instructionId)) yield record;
    }
  }
  async deleteRecord(runId: string, id: string): Promise<void> {
    this.run(runId).records.delete(id);
  }
  private run(runId: string) {
    const run = this.runs.get(runId);
    if (!run) throw new Error(`no run ${runId}`);
    return run;
  }
}

type StepSketch = [operation: string, instruction: string, passed: boolean];

/** A lineage whose rounds evolve like the workflow's: each round's parent is the last passed instruction. */
function lineageOf(id: string, seed: string, sketch: StepSketch[], status: Lineage['status'] = 'completed'): Lineage {
  let final = seed;
  const steps: LineageStep[] = sketch.map(([operation, instruction, passed], index) => {
    const step: LineageStep = {
      round: index + 1,
      operation,
      parent: final,
      instruction,
      response: `answer to ${instruction}`,
      verdict: passed ? { passed: true } : { passed: false, rule: 'no-information-gain', evidence: 'same as parent' },
      usage: ZERO_USAGE,
      costUsd: 0,
    };
    if (passed) final = instruction;
    return step;
  });
  return {
    runId: RUN,
    instructionId: id,
    seed,
    status,
    rounds: sketch.length,
    steps,
    final,
    usage: ZERO_USAGE,
    costUsd: 0,
  };
}

function seedOf(id: string, text: string, output?: string, line = 1): SeedRecord {
  return { id, text, ...(output === undefined ? {} : { output }), source: { file: 'seeds.jsonl', line } };
}

function metaOf(runId: string, seedCount: number): RunMeta {
  return {
    runId,
    createdAt: '2025-01-01T00:00:00.000Z',
    inputFile: 'seeds.jsonl',
    seedCount,
    invalidRows: 0,
    duplicateRows: 0,
    config: { kind: 'dataset', ...testRunConfig() },
  };
}

const LINEAGES: Lineage[] = [
  // Listed out of natural order on purpose: the export must sort them.
  lineageOf('seed_task_10', 'Name a prime.', [
    ['deepening', 'Name a prime above 100.', true],
    ['concretizing', 'Name a prime above 100 and prove it is prime.', true],
    ['breadth', '', false],
  ]),
  lineageOf('seed_task_2', 'Sort a list.', [
    ['add-constraints', 'Sort a list in O(n log n).', true],
    ['deepening', 'Sort a list.', false],
    ['reasoning', 'Sort a list in O(n log n) without extra memory, explaining each step.', true],
    ['concretizing', 'Sort a list of numbers.', false],
  ]),
  lineageOf('seed_task_3', 'Say hi.', [
    ['deepening', 'Say hi', false],
    ['breadth', 'Say hi.', false],
  ]),
  lineageOf('seed_task_7', 'Write a haiku.', [['deepening', 'Write a haiku about rain.', true]], 'failed'),
];

const SEEDS: SeedRecord[] = [
  seedOf('seed_task_2', 'Sort a list.', 'Use sorted(list).', 1),
  seedOf('seed_task_3', 'Say hi.', 'Hi!', 2),
  seedOf('seed_task_7', 'Write a haiku.', 'Rain on the roof...', 3),
  seedOf('seed_task_10', 'Name a prime.', undefined, 4),
];

const SEED_MAP = new Map(SEEDS.map((seed) => [seed.id, seed]));

function options(overrides: Partial<ExportOptions> = {}): ExportOptions {
  return { format: 'alpaca', rounds: 'all', includeSeeds: false, shuffle: false, seed: 0, ...overrides };
}

const rowIds = (rows: readonly ExportRow[]) => rows.map((row) => row._evol.rowId);

async function storeWith(lineages: readonly Lineage[], seeds: readonly SeedRecord[]): Promise<MemoryRunStore> {
  const store = new MemoryRunStore();
  await store.createRun(metaOf(RUN, seeds.length), seeds);
  for (const lineage of lineages) await store.saveRecord(lineage);
  return store;
}

const tempDirs: string[] = [];
afterAll(() => tempDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evol-export-'));
  tempDirs.push(dir);
  return dir;
}

describe('building export rows from lineages', () => {
  test('--rounds all gives exactly the passed rounds of completed records, in natural seed order', () => {
    const { rows, stats } = buildRows(LINEAGES, undefined, options());
    expect(rowIds(rows)).toEqual(['seed_task_2#1', 'seed_task_2#3', 'seed_task_10#1', 'seed_task_10#2']);
    expect(rows[1]).toEqual({
      instruction: 'Sort a list in O(n log n) without extra memory, explaining each step.',
      output: 'answer to Sort a list in O(n log n) without extra memory, explaining each step.',
      _evol: {
        runId: RUN,
        seedId: 'seed_task_2',
        round: 3,
        operation: 'reasoning',
        rowId: 'seed_task_2#3',
        parentId: 'seed_task_2#1',
      },
    });
    expect(stats).toEqual({ records: 4, rows: 4, seedsWithoutOutput: 0, skippedIncomplete: 1, duplicatesDropped: 0 });
  });

  test('--rounds final gives one row per seed with a passed round: its last one', () => {
    const { rows } = buildRows(LINEAGES, undefined, options({ rounds: 'final' }));
    expect(rowIds(rows)).toEqual(['seed_task_2#3', 'seed_task_10#2']);
  });

  test('parent ids chain through passed rounds, skipping eliminated ones', () => {
    const parents = Object.fromEntries(
      buildRows(LINEAGES, undefined, options()).rows.map((row) => [row._evol.rowId, row._evol.parentId]),
    );
    expect(parents).toEqual({
      'seed_task_2#1': 'seed_task_2#0',
      'seed_task_2#3': 'seed_task_2#1', // round 2 was eliminated: round 3 evolved round 1 again
      'seed_task_10#1': 'seed_task_10#0',
      'seed_task_10#2': 'seed_task_10#1',
    });
  });

  test('--include-seeds adds round-0 seed rows and counts the seeds without an output', () => {
    const { rows, stats } = buildRows(LINEAGES, SEED_MAP, options({ includeSeeds: true }));
    expect(rowIds(rows)).toEqual([
      'seed_task_2#0',
      'seed_task_2#1',
      'seed_task_2#3',
      'seed_task_3#0',
      'seed_task_10#1',
      'seed_task_10#2',
    ]);
    expect(rows[0]).toEqual({
      instruction: 'Sort a list.',
      output: 'Use sorted(list).',
      _evol: { runId: RUN, seedId: 'seed_task_2', round: 0, operation: 'seed', rowId: 'seed_task_2#0', parentId: null },
    });
    expect(stats.seedsWithoutOutput).toBe(1);
    expect(stats.skippedIncomplete).toBe(1);
  });

  test("a seed without an answer in its file takes the run's own answer, and the file's answer wins over the run's", () => {
    const answered = LINEAGES.map((l) => ({ ...l, seedResponse: `the run's answer to ${l.instructionId}` }));
    const { rows, stats } = buildRows(answered, SEED_MAP, options({ includeSeeds: true }));
    const seedRows = rows.filter((r) => r._evol.round === 0);
    expect(stats.seedsWithoutOutput).toBe(0);
    expect(seedRows.map((r) => [r._evol.seedId, r.output])).toEqual([
      ['seed_task_2', 'Use sorted(list).'],
      ['seed_task_3', SEED_MAP.get('seed_task_3')?.output ?? "the run's answer to seed_task_3"],
      ['seed_task_10', SEED_MAP.get('seed_task_10')?.output ?? "the run's answer to seed_task_10"],
    ]);
    expect(seedRows.some((r) => r.output.startsWith("the run's answer"))).toBe(true);
  });

  test('--rounds final with --include-seeds keeps a seed whose rounds were all eliminated', () => {
    const { rows } = buildRows(LINEAGES, SEED_MAP, options({ rounds: 'final', includeSeeds: true }));
    expect(rowIds(rows)).toEqual(['seed_task_2#0', 'seed_task_2#3', 'seed_task_3#0', 'seed_task_10#2']);
  });

  test('a record read twice gives its rows once', () => {
    const twice = [...LINEAGES, LINEAGES[0], LINEAGES[1]];
    const { rows, stats } = buildRows(twice, SEED_MAP, options({ includeSeeds: true }));
    expect(new Set(rowIds(rows)).size).toBe(rows.length);
    expect(rowIds(rows)).toEqual(rowIds(buildRows(LINEAGES, SEED_MAP, options({ includeSeeds: true })).rows));
    expect(stats).toMatchObject({ records: 4, duplicatesDropped: 5, seedsWithoutOutput: 1, skippedIncomplete: 1 });
  });

  test('seed ids sort naturally', () => {
    const ids = ['line-10', 'line-2', 'seed_task_10', 'line-1', 'seed_task_2', 'a01', 'a1'];
    expect([...ids].sort(compareSeedIds)).toEqual([
      'a01',
      'a1',
      'line-1',
      'line-2',
      'line-10',
      'seed_task_2',
      'seed_task_10',
    ]);
  });

  test('options the CLI could not have meant are user errors', () => {
    expect(() => buildRows([], undefined, options({ sample: 0 }))).toThrow(UserError);
    expect(() => buildRows([], undefined, options({ seed: 1.5 }))).toThrow(UserError);
    expect(() => buildRows([], undefined, options({ format: 'csv' as ExportFormat }))).toThrow(/alpaca, sharegpt/);
  });
});

describe('shuffling and sampling', () => {
  const many = Array.from({ length: 20 }, (_, i) =>
    lineageOf(`line-${i + 1}`, `seed ${i + 1}`, [
      ['deepening', `seed ${i + 1}, deeper`, true],
      ['breadth', `seed ${i + 1}, wider`, true],
    ]),
  );
  const inOrder = rowIds(buildRows(many, undefined, options()).rows);

  test('a seed always gives the same permutation, another seed a different one', () => {
    const first = rowIds(buildRows(many, undefined, options({ shuffle: true, seed: 7 })).rows);
    const again = rowIds(buildRows([...many].reverse(), undefined, options({ shuffle: true, seed: 7 })).rows);
    const other = rowIds(buildRows(many, undefined, options({ shuffle: true, seed: 8 })).rows);
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
    expect(first).not.toEqual(inOrder);
    expect([...first].sort()).toEqual([...inOrder].sort());
  });

  test('--sample takes the first N rows, after the shuffle when there is one', () => {
    const shuffledAll = rowIds(buildRows(many, undefined, options({ shuffle: true, seed: 3 })).rows);
    const sampled = buildRows(many, undefined, options({ shuffle: true, seed: 3, sample: 5 }));
    expect(rowIds(sampled.rows)).toEqual(shuffledAll.slice(0, 5));
    expect(sampled.stats.rows).toBe(5);
    expect(sampled.notes).toEqual([]);
    expect(rowIds(buildRows(many, undefined, options({ sample: 3 })).rows)).toEqual(inOrder.slice(0, 3));
  });

  test('a sample larger than the export keeps every row and says so', () => {
    const { rows, notes } = buildRows(many, undefined, options({ sample: 1000 }));
    expect(rows).toHaveLength(40);
    expect(notes).toEqual([expect.stringContaining('all 40 kept')]);
  });
});

describe('row formats', () => {
  const row = buildRows(LINEAGES, undefined, options()).rows[0];

  test('alpaca', () => {
    expect(formatRow(row, 'alpaca')).toEqual({
      instruction: row.instruction,
      input: '',
      output: row.output,
      _evol: row._evol,
    });
  });

  test('sharegpt', () => {
    expect(formatRow(row, 'sharegpt')).toEqual({
      conversations: [
        { from: 'human', value: row.instruction },
        { from: 'gpt', value: row.output },
      ],
      _evol: row._evol,
    });
  });

  test('messages', () => {
    expect(formatRow(row, 'messages')).toEqual({
      messages: [
        { role: 'user', content: row.instruction },
        { role: 'assistant', content: row.output },
      ],
      _evol: row._evol,
    });
  });
});

describe('exporting a run from the store', () => {
  test('alpaca is one JSON array, one row per line', async () => {
    const store = await storeWith(LINEAGES, SEEDS);
    const dir = tempDir();
    const out = path.join(dir, 'evolved.json');
    const result = await exportRun(store, RUN, { ...options({ includeSeeds: true }), out });
    expect(result.path).toBe(out);
    const text = fs.readFileSync(out, 'utf8');
    const parsed = JSON.parse(text) as Array<{ instruction: string; input: string; _evol: { rowId: string } }>;
    expect(parsed).toHaveLength(6);
    expect(parsed.map((row) => row._evol.rowId)).toEqual(
      rowIds(buildRows(LINEAGES, SEED_MAP, options({ includeSeeds: true })).rows),
    );
    expect(parsed.every((row) => row.input === '')).toBe(true);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(6 + 2);
    expect(lines[0]).toBe('[');
    expect(lines.at(-1)).toBe(']');
    expect(result.stats).toMatchObject({ rows: 6, seedsWithoutOutput: 1, skippedIncomplete: 1 });
  });

  test('an empty alpaca export is still a JSON array', async () => {
    const store = await storeWith([], SEEDS);
    const out = path.join(tempDir(), 'empty.json');
    await exportRun(store, RUN, { ...options(), out });
    expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toEqual([]);
  });

  test.each<[ExportFormat, string]>([
    ['sharegpt', 'conversations'],
    ['messages', 'messages'],
  ])('%s is JSONL, one row per line', async (format, key) => {
    const store = await storeWith(LINEAGES, SEEDS);
    const out = path.join(tempDir(), `evolved.${format}.jsonl`);
    await exportRun(store, RUN, { ...options({ format }), out });
    const lines = fs.readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(Object.keys(JSON.parse(line) as object)).toEqual([key, '_evol']);
  });

  test('without --out the rows go to stdout', async () => {
    const store = await storeWith(LINEAGES, SEEDS);
    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    const result = await exportRun(store, RUN, options({ format: 'messages', rounds: 'final' }), stdout);
    expect(result.path).toBeUndefined();
    const lines = Buffer.concat(chunks).toString('utf8').trimEnd().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as ExportRow)._evol.rowId)).toEqual([
      'seed_task_2#3',
      'seed_task_10#2',
    ]);
  });

  test('a record the store yields twice is exported once', async () => {
    const store = await storeWith(LINEAGES, SEEDS);
    store.repeatRecords = new Set(['seed_task_2', 'seed_task_10']);
    const out = path.join(tempDir(), 'evolved.jsonl');
    const result = await exportRun(store, RUN, { ...options({ format: 'sharegpt', includeSeeds: true }), out });
    const ids = fs
      .readFileSync(out, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as ExportRow)._evol.rowId);
    expect(ids).toHaveLength(6);
    expect(new Set(ids).size).toBe(ids.length);
    expect(result.stats.duplicatesDropped).toBe(5);
  });

  test('the write is atomic: it replaces the old file and leaves no temporary file behind', async () => {
    const store = await storeWith(LINEAGES, SEEDS);
    const dir = tempDir();
    const out = path.join(dir, 'evolved.json');
    fs.writeFileSync(out, 'old contents');
    await exportRun(store, RUN, { ...options(), out });
    expect(fs.readdirSync(dir)).toEqual(['evolved.json']);
    expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toHaveLength(4);
  });

  test('an unknown run is a user error that names it and points at evol status', async () => {
    const store = await storeWith(LINEAGES, SEEDS);
    const dir = tempDir();
    const attempt = exportRun(store, 'run-nope', { ...options(), out: path.join(dir, 'x.json') });
    await expect(attempt).rejects.toThrow(UserError);
    await expect(attempt).rejects.toThrow(/run-nope.*evol status/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

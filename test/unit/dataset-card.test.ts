import YAML from 'yaml';
import { resolveLlmConfig } from '../../core/config';
import { CARD_MARKER, datasetCard, shardNames, sizeCategoryOf, type DatasetCardInput } from '../../core/dataset-card';
import type { ExportOptions, ExportRow } from '../../core/export';
import { cardFeaturesOf, parquetColumnsOf, parquetSchemaOf } from '../../core/export-columns';
import { funnelOf, scoresByRound } from '../../core/report-data';
import type { Lineage, LineageStep } from '../../core/lineage';
import type { RunMeta } from '../../core/run';
import { ZERO_USAGE } from '../../core/usage';
import { testRunConfig } from '../helpers/run-config';

const row = (seedId: string, round: number, extra: Partial<ExportRow['_evol']> = {}): ExportRow => ({
  instruction: `Task ${seedId} round ${round}`,
  output: `Answer ${seedId}/${round}`,
  _evol: {
    runId: 'r1',
    seedId,
    round,
    operation: round ? 'deepening' : 'seed',
    rowId: `${seedId}#${round}`,
    parentId: round ? `${seedId}#${round - 1}` : null,
    ...extra,
  },
});

describe('Parquet columns of an export', () => {
  test('alpaca: three strings and the lineage struct, every field nullable, integers as bigint', () => {
    const schema = parquetSchemaOf('alpaca');
    expect(schema[0]).toEqual({ name: 'root', num_children: 4 });
    expect(schema.map((e) => e.name)).toEqual([
      'root',
      'instruction',
      'input',
      'output',
      '_evol',
      'runId',
      'seedId',
      'round',
      'operation',
      'rowId',
      'parentId',
      'difficulty',
      'complexity',
    ]);
    expect(schema.find((e) => e.name === '_evol')).toMatchObject({ num_children: 8, repetition_type: 'OPTIONAL' });
    expect(schema.find((e) => e.name === 'round')).toMatchObject({ type: 'INT64' });
    expect(schema.slice(1).every((e) => e.repetition_type === 'OPTIONAL')).toBe(true);

    const columns = parquetColumnsOf([row('s1', 0), row('s1', 1, { difficulty: 7, complexity: 4 })], 'alpaca');
    expect(columns.map((c) => c.name)).toEqual(['instruction', 'input', 'output', '_evol']);
    expect(columns[1].data).toEqual(['', '']);
    expect(columns[3].data).toEqual([
      {
        runId: 'r1',
        seedId: 's1',
        round: 0n,
        operation: 'seed',
        rowId: 's1#0',
        parentId: null,
        difficulty: null,
        complexity: null,
      },
      {
        runId: 'r1',
        seedId: 's1',
        round: 1n,
        operation: 'deepening',
        rowId: 's1#1',
        parentId: 's1#0',
        difficulty: 7n,
        complexity: 4n,
      },
    ]);
  });

  test('the chat shapes are a three-level Parquet LIST of turn structs', () => {
    const schema = parquetSchemaOf('messages');
    expect(schema.slice(0, 6)).toEqual([
      { name: 'root', num_children: 2 },
      { name: 'messages', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', repetition_type: 'OPTIONAL', num_children: 2 },
      { name: 'role', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'content', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    ]);
    const [turns] = parquetColumnsOf([row('s2', 1)], 'sharegpt');
    expect(turns).toEqual({
      name: 'conversations',
      data: [
        [
          { from: 'human', value: 'Task s2 round 1' },
          { from: 'gpt', value: 'Answer s2/1' },
        ],
      ],
    });
  });

  test('the card features are the same tree, in the datasets YAML form', () => {
    expect(cardFeaturesOf('sharegpt')[0]).toEqual({
      name: 'conversations',
      list: [
        { name: 'from', dtype: 'string' },
        { name: 'value', dtype: 'string' },
      ],
    });
    const evol = cardFeaturesOf('alpaca')[3] as { name: string; struct: Array<{ name: string; dtype: string }> };
    expect(evol.name).toBe('_evol');
    expect(evol.struct.map((f) => `${f.name}:${f.dtype}`)).toEqual([
      'runId:string',
      'seedId:string',
      'round:int64',
      'operation:string',
      'rowId:string',
      'parentId:string',
      'difficulty:int64',
      'complexity:int64',
    ]);
  });
});

const OPTIONS: ExportOptions = { format: 'alpaca', rounds: 'all', includeSeeds: true, shuffle: true, seed: 3 };

const step = (round: number, passed: boolean, rule = 'no-information-gain'): LineageStep => ({
  round,
  operation: 'deepening',
  parent: 'p',
  instruction: `i${round}`,
  response: 'r',
  verdict: passed ? { passed: true } : { passed: false, rule: rule as never, evidence: 'e' },
  usage: ZERO_USAGE,
  costUsd: 0,
});

const lineage = (id: string, steps: LineageStep[]): Lineage => ({
  runId: 'r1',
  instructionId: id,
  seed: `seed ${id}`,
  status: 'completed',
  rounds: 2,
  steps,
  final: '',
  usage: ZERO_USAGE,
  costUsd: 0,
});

function cardInput(overrides: Partial<DatasetCardInput> = {}): DatasetCardInput {
  const config = testRunConfig(resolveLlmConfig({ env: {}, mode: 'sim' }).llm, { rounds: 2, seed: 3 });
  const meta: RunMeta = {
    runId: 'r1',
    createdAt: '2025-01-02T03:04:05.000Z',
    inputFile: '/home/me/data/seeds | v2.jsonl',
    seedCount: 2,
    invalidRows: 0,
    duplicateRows: 0,
    config: { ...config, kind: 'dataset' },
    release: '0.2.0',
  };
  const records = [
    lineage('s1', [step(1, true), step(2, false, 'sorry-short')]),
    lineage('s2', [step(1, false), step(2, true)]),
  ];
  return {
    meta,
    format: 'alpaca',
    options: OPTIONS,
    stats: { records: 2, rows: 4, seedsWithoutOutput: 0, skippedIncomplete: 0, duplicatesDropped: 0 },
    rows: [row('s1', 0), row('s2', 0), row('s1', 1), row('s2', 2)],
    downloadSize: 1234,
    funnel: funnelOf(records),
    scores: [],
    scorers: [],
    ...overrides,
  };
}

function split(card: string): { header: Record<string, unknown>; body: string; raw: string } {
  const match = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(card);
  if (!match) throw new Error(`no front matter in:\n${card}`);
  return { header: YAML.parse(match[1]) as Record<string, unknown>, body: match[2], raw: match[1] };
}

describe('the dataset card', () => {
  test('its YAML header names the shards, the features, the rows and the size category; the license is left open', () => {
    const { header, body, raw } = split(datasetCard(cardInput()));
    expect(header).toEqual({
      pretty_name: 'Evol-Instruct run r1',
      task_categories: ['text-generation'],
      tags: ['evol-instruct', 'synthetic', 'evolforge'],
      size_categories: ['n<1K'],
      configs: [{ config_name: 'default', data_files: [{ split: 'train', path: 'data/train-*' }] }],
      dataset_info: {
        features: cardFeaturesOf('alpaca'),
        splits: [{ name: 'train', num_examples: 4 }],
        download_size: 1234,
      },
    });
    expect(raw).toMatch(/^# license: /);
    expect(body.startsWith(`${CARD_MARKER}\n`)).toBe(true);
    expect(body).toContain('## License');
  });

  test('its body: the settings, the rounds with eliminations by rule, and a simulated run said to be one', () => {
    const { body } = split(datasetCard(cardInput()));
    expect(body).toContain(
      "4 instruction-tuning rows evolved from 2 seeds (`seeds | v2.jsonl`) with Evol-Instruct ([WizardLM](https://arxiv.org/abs/2304.12244)) by EvolForge: the seeds and every passed round (the paper's mix), shuffled with seed 3.",
    );
    expect(body).toContain('> **Simulated LLM.**');
    expect(body).toMatch(/\| evolver \| \S+ \(simulated\), temperature 1 \|/);
    expect(body).toContain('| rounds | 2 |');
    expect(body).toContain('| seed | 3 |');
    expect(body).toContain('| seeds | 2 from `seeds \\| v2.jsonl` |');
    expect(body).toContain('| 0 (seeds) |  |  |  |  | 2 |');
    expect(body).toContain('| 1 | 2 | 1 | 1 | no-information-gain 1 | 1 |');
    expect(body).toContain('| 2 | 2 | 1 | 1 | sorry-short 1 | 1 |');
    expect(body).toContain('Not rated: `evol score r1`');
  });

  test('a scored run gets its difficulty per round; left-out rows are counted in words', () => {
    const scores = [
      { rowId: 's1#0', seedId: 's1', round: 0, difficulty: 2, complexity: 1, model: 'gpt-x' },
      { rowId: 's2#0', seedId: 's2', round: 0, difficulty: 4, complexity: 3, model: 'gpt-x' },
      { rowId: 's1#1', seedId: 's1', round: 1, failure: 'unusable', model: 'gpt-x' },
    ];
    const { body } = split(
      datasetCard(
        cardInput({
          scores: scoresByRound(scores),
          scorers: ['gpt-x'],
          options: { ...OPTIONS, rounds: 'final', includeSeeds: false, shuffle: false },
          stats: { records: 3, rows: 4, seedsWithoutOutput: 1, skippedIncomplete: 2, duplicatesDropped: 0 },
        }),
      ),
    );
    expect(body).toContain(
      "each seed's last passed round, in seed and round order, 2 failed or unfinished instructions left out, 1 seed without an answer left out.",
    );
    expect(body).toContain('Rated 1-10 by `gpt-x`');
    expect(body).toContain('| 0 | 2 | 3.00 | 3.00 | 2.00 | 2.00 |');
    expect(body).toContain('| 1 | 0 (1 without a usable rating) |  |  |  |  |');
  });

  test('shard names and size categories are those the Hub knows', () => {
    expect(shardNames(2)).toEqual(['data/train-00000-of-00002.parquet', 'data/train-00001-of-00002.parquet']);
    expect([1, 999, 1000, 9999, 10_000, 250_000, 2e9].map(sizeCategoryOf)).toEqual([
      'n<1K',
      'n<1K',
      '1K<n<10K',
      '1K<n<10K',
      '10K<n<100K',
      '100K<n<1M',
      'n>1B',
    ]);
  });
});

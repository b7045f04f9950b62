/**
 * The dataset card (README.md) of `evol export --dataset DIR`: the YAML header the Hugging Face Hub and the
 * `datasets` library read (configs, features, splits), and a body that says how the rows were made: the run's
 * settings, its funnel per round and, once scored, the difficulty per round. Pure: no I/O.
 */
import YAML from 'yaml';
import type { RunMeta } from './run';
import { SIM_BASE_URL, LLM_ROLES } from './endpoints';
import type { ExportFormat, ExportOptions, ExportRow, ExportStats } from './export';
import { cardFeaturesOf } from './export-columns';
import type { FunnelRound, ReportData } from './report-data';

/** The card's first body line: an export only replaces a README.md that carries it. */
export const CARD_MARKER =
  '<!-- Written by `evol export --dataset` (EvolForge). The next export into this folder replaces this file and data/train-*.parquet. -->';

/** Shard file names: `data/train-00000-of-00003.parquet`, the pattern the card's `configs` names. */
export const SHARD_GLOB = 'data/train-*';
export const SHARD_NAME = /^train-\d{5}-of-\d{5}\.parquet$/;

export function shardNames(count: number): string[] {
  const pad = (n: number) => String(n).padStart(5, '0');
  return Array.from({ length: count }, (_, i) => `data/train-${pad(i)}-of-${pad(count)}.parquet`);
}

/** The Hub's `size_categories` value for a number of rows. */
export function sizeCategoryOf(rows: number): string {
  const bounds: Array<[number, string]> = [
    [1e3, 'n<1K'],
    [1e4, '1K<n<10K'],
    [1e5, '10K<n<100K'],
    [1e6, '100K<n<1M'],
    [1e7, '1M<n<10M'],
    [1e8, '10M<n<100M'],
    [1e9, '100M<n<1B'],
  ];
  return bounds.find(([bound]) => rows < bound)?.[1] ?? 'n>1B';
}

export interface DatasetCardInput {
  meta: RunMeta;
  format: ExportFormat;
  options: ExportOptions;
  stats: ExportStats;
  rows: readonly ExportRow[];
  /** Bytes of all shards together. */
  downloadSize: number;
  /** The run's funnel and difficulty per round (core/report-data.ts), and the models that rated the rows. */
  funnel: readonly FunnelRound[];
  scores: ReportData['scores'];
  scorers: readonly string[];
}

export function datasetCard(input: DatasetCardInput): string {
  const header = {
    pretty_name: `Evol-Instruct run ${input.meta.runId}`,
    task_categories: ['text-generation'],
    tags: ['evol-instruct', 'synthetic', 'evolforge'],
    size_categories: [sizeCategoryOf(input.rows.length)],
    configs: [{ config_name: 'default', data_files: [{ split: 'train', path: SHARD_GLOB }] }],
    dataset_info: {
      features: cardFeaturesOf(input.format),
      splits: [{ name: 'train', num_examples: input.rows.length }],
      download_size: input.downloadSize,
    },
  };
  return [
    '---',
    '# license: the license of this data is yours to choose (https://huggingface.co/docs/hub/repositories-licenses),',
    '#   within the terms of the models that wrote it; language: the languages of its rows, e.g. [en].',
    YAML.stringify(header).trimEnd(),
    '---',
    CARD_MARKER,
    '',
    ...bodyOf(input),
  ].join('\n');
}

function bodyOf(input: DatasetCardInput): string[] {
  const { meta } = input;
  const settings = meta.config.kind === 'dataset' ? meta.config : undefined;
  const simulated = settings && LLM_ROLES.some((role) => settings.llm[role].baseURL === SIM_BASE_URL);
  return [
    `# Evol-Instruct run ${meta.runId}`,
    '',
    `${input.rows.length} instruction-tuning rows evolved from ${meta.seedCount} seeds (\`${fileName(meta.inputFile)}\`) with ` +
      `Evol-Instruct ([WizardLM](https://arxiv.org/abs/2304.12244)) by EvolForge: ${selectionOf(input.options, input.stats)}.`,
    ...(simulated
      ? [
          '',
          "> **Simulated LLM.** EvolForge's built-in simulated LLM wrote these rows: they show the pipeline working, they are not real data.",
        ]
      : []),
    '',
    '## Loading',
    '',
    '```python',
    'from datasets import load_dataset',
    '',
    'rows = load_dataset("path/to/this/folder", split="train")  # or "user/name" once pushed to the Hub',
    '```',
    '',
    '## Columns',
    '',
    COLUMN_TEXT[input.format],
    '',
    "`_evol` holds each row's lineage (a field training tools ignore): `runId`; `seedId`; `round` (0: the seed); `operation` (the evolution that made it, or `seed`); `rowId` (`<seedId>#<round>`); `parentId` (the row it was evolved from; null for a seed); `difficulty` and `complexity` (1-10, from `evol score`; null when not rated).",
    '',
    '## How it was made',
    '',
    ...table(['setting', 'value'], settingsRows(meta)),
    '',
    '## Rounds',
    '',
    "Each round rewrites an instruction with one operation, answers it, and eliminates failed evolutions (the paper's four rules and EvolForge's gates); a failed evolution keeps its parent, which is evolved again next round. The counts are the run's; the last column counts this dataset's rows.",
    '',
    ...table(['round', 'evolved', 'passed', 'eliminated', 'eliminations by rule', 'rows here'], roundRows(input)),
    '',
    '## Difficulty',
    '',
    ...difficultyText(input),
    '',
    '## License',
    '',
    'Not set: add `license:` to the YAML header above.',
    '',
  ];
}

const COLUMN_TEXT: Record<ExportFormat, string> = {
  alpaca:
    "`instruction`, `input` (empty: a seed's input is part of its instruction) and `output` (the answer), as in Alpaca.",
  sharegpt:
    '`conversations`: the instruction (`from: human`) and its answer (`from: gpt`), each with its `value`, as in ShareGPT.',
  messages: '`messages`: the instruction (`role: user`) and its answer (`role: assistant`), each with its `content`.',
};

function selectionOf(options: ExportOptions, stats: ExportStats): string {
  const rounds =
    options.rounds === 'all'
      ? options.includeSeeds
        ? "the seeds and every passed round (the paper's mix)"
        : 'every passed round'
      : options.includeSeeds
        ? "the seeds and each seed's last passed round"
        : "each seed's last passed round";
  const parts = [
    rounds,
    options.shuffle ? `shuffled with seed ${options.seed}` : 'in seed and round order',
    ...(options.sample !== undefined ? [`the first ${options.sample} rows kept`] : []),
    ...(stats.nearDuplicatesDropped ? [`${rowsOf(stats.nearDuplicatesDropped, 'near-duplicate row')} dropped`] : []),
    ...(stats.contaminatedDropped
      ? [`${rowsOf(stats.contaminatedDropped, 'row')} sharing a run of 13 words with a benchmark prompt dropped`]
      : []),
    ...(stats.skippedIncomplete
      ? [`${rowsOf(stats.skippedIncomplete, 'failed or unfinished instruction')} left out`]
      : []),
    ...(stats.seedsWithoutOutput ? [`${rowsOf(stats.seedsWithoutOutput, 'seed')} without an answer left out`] : []),
  ];
  return parts.join(', ');
}

/** `1 seed`, `3 seeds`. */
function rowsOf(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function settingsRows(meta: RunMeta): string[][] {
  const rows: string[][] = [];
  if (meta.config.kind === 'dataset') {
    const settings = meta.config;
    for (const role of LLM_ROLES) {
      const endpoint = settings.llm[role];
      const model = endpoint.baseURL === SIM_BASE_URL ? `${endpoint.model} (simulated)` : endpoint.model;
      rows.push([role, `${model}, temperature ${endpoint.temperature}`]);
    }
    rows.push(
      ['method', `${settings.method}: ${settings.operations.map((op) => op.id).join(', ')}`],
      ['rounds', String(settings.rounds)],
      ['seed', String(settings.seed)],
    );
  }
  rows.push(
    ['seeds', `${meta.seedCount} from \`${fileName(meta.inputFile)}\``],
    ['created', meta.createdAt],
    ['EvolForge', meta.release ?? '0.1.0'],
  );
  return rows;
}

function roundRows(input: DatasetCardInput): string[][] {
  const here = new Map<number, number>();
  for (const row of input.rows) here.set(row._evol.round, (here.get(row._evol.round) ?? 0) + 1);
  const seeds = here.get(0) ?? 0;
  const rows = [['0 (seeds)', '', '', '', '', String(seeds)]];
  for (const f of input.funnel) {
    const eliminated = f.evolved - f.passed;
    const byRule = Object.entries(f.eliminated)
      .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
      .map(([rule, n]) => `${rule} ${n}`)
      .join(', ');
    rows.push([
      String(f.round),
      String(f.evolved),
      String(f.passed),
      String(eliminated),
      byRule,
      String(here.get(f.round) ?? 0),
    ]);
  }
  return rows;
}

function difficultyText(input: DatasetCardInput): string[] {
  if (!input.scores.length) {
    return [
      `Not rated: \`evol score ${input.meta.runId}\` rates each row's difficulty and complexity (1-10), then export again.`,
    ];
  }
  const fixed = (x: number) => x.toFixed(2);
  return [
    `Rated 1-10 by ${input.scorers.map((m) => `\`${m}\``).join(', ') || 'the scorer'} with \`evol score\`, over the run's rows (round 0: the seeds).`,
    '',
    ...table(
      ['round', 'rated', 'difficulty (mean)', 'difficulty (median)', 'complexity (mean)', 'complexity (median)'],
      input.scores.map((s) => [
        String(s.round),
        String(s.difficulty.n) + (s.unrated ? ` (${s.unrated} without a usable rating)` : ''),
        s.difficulty.n ? fixed(s.difficulty.mean) : '',
        s.difficulty.n ? fixed(s.difficulty.median) : '',
        s.complexity.n ? fixed(s.complexity.mean) : '',
        s.complexity.n ? fixed(s.complexity.median) : '',
      ]),
    ),
  ];
}

function table(head: readonly string[], rows: readonly string[][]): string[] {
  const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)];
}

function fileName(location: string): string {
  return location.split(/[\\/]/).pop() || location;
}

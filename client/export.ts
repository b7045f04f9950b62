/**
 * `evol export`: reads a run's records from the store and writes them as a training file (JSON, JSONL or Parquet), or
 * as a dataset folder the Hugging Face `datasets` library loads as it is.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CARD_MARKER, datasetCard, SHARD_NAME, shardNames } from '../core/dataset-card';
import {
  buildRows,
  checkExportOptions,
  serializeRows,
  type BuiltRows,
  type ExportOptions,
  type ExportStats,
} from '../core/export';
import type { Lineage } from '../core/lineage';
import { funnelOf, scoresByRound } from '../core/report-data';
import { datasetSettingsOf } from '../core/run';
import type { RowScore } from '../core/scoring';
import { UserError } from '../core/validation';
import type { SeedRecord } from '../core/run';
import type { RunStore } from '../store/types';
import { withOutputFolder } from './locations';
import { PARQUET_CONTENT_TYPE, writeParquetRows } from './parquet-file';

export interface ExportRunOptions extends ExportOptions {
  /** The file to write; stdout when absent. */
  out?: string;
  /** Parquet instead of JSON (core/export-columns.ts), in the shape of `format`; needs `out`. */
  parquet?: boolean;
}

export interface DatasetExportOptions extends ExportOptions {
  /** The folder to write: a directory or an `s3://bucket/prefix`. */
  dataset: string;
  /** Rows per Parquet shard at most (default 100,000). */
  shardRows?: number;
}

export const DEFAULT_SHARD_ROWS = 100_000;

export interface ExportResult {
  /** The absolute path (or URL) written, when `out` or `dataset` was given. */
  path?: string;
  stats: ExportStats;
  /** Remarks for stderr (the export itself may be on stdout). */
  notes: string[];
  /** The dataset folder's Parquet files, relative to it. */
  shards?: string[];
}

const SEED_PAGE_SIZE = 500;

/** The part of a run store an export reads. */
export type ExportSource = Pick<RunStore, 'runExists' | 'records' | 'seedIds' | 'seed'> &
  Partial<Pick<RunStore, 'scores'>>;

/** What a dataset folder reads besides: the run's settings for its card. */
export type DatasetSource = ExportSource & Pick<RunStore, 'readMeta'>;

/** `stdout` is where the export goes without `out`: the process's stdout unless a caller redirects it. */
export async function exportRun(
  store: ExportSource,
  runId: string,
  options: ExportRunOptions,
  stdout: Writable = process.stdout,
): Promise<ExportResult> {
  checkExportOptions(options);
  if (options.parquet && options.out === undefined)
    throw new UserError(
      'Parquet is binary and is not written to the terminal: give --out FILE.parquet or --dataset DIR',
    );
  const { built } = await readRows(store, runId, options);
  const { rows, stats, notes } = built;
  if (options.out === undefined) {
    await pipeline(Readable.from(serializeRows(rows, options.format)), stdout, { end: false });
    return { stats, notes };
  }
  const written = await replaceFileAtomically(options.out, (temp) =>
    options.parquet
      ? writeParquetRows(temp, rows, options.format)
      : pipeline(Readable.from(serializeRows(rows, options.format)), fs.createWriteStream(temp, { flags: 'wx' })),
  );
  return { path: written, stats, notes };
}

/**
 * A folder `datasets.load_dataset(DIR)` loads as it is: the rows as Parquet shards under `data/`, and a README.md
 * dataset card whose YAML header names the files, the features and the number of rows. The shards go in first, then
 * shards of an earlier export that are not this one's go, then the card. A README.md that this command did not
 * write is never replaced.
 */
export async function exportDataset(
  store: DatasetSource,
  runId: string,
  options: DatasetExportOptions,
): Promise<ExportResult> {
  checkExportOptions(options);
  const shardRows = options.shardRows ?? DEFAULT_SHARD_ROWS;
  if (!Number.isSafeInteger(shardRows) || shardRows < 1)
    throw new UserError(`--shard-rows must be a positive integer, got ${shardRows}`);
  const { built, records, scores } = await readRows(store, runId, options);
  const meta = await store.readMeta(runId);
  datasetSettingsOf(meta);
  const { rows, stats, notes } = built;
  if (!rows.length) {
    throw new UserError(
      `run "${runId}" has no rows to export yet (${stats.records} records, ${stats.skippedIncomplete} failed or unfinished): the datasets library cannot load a dataset with none; \`evol status ${runId}\` shows where it is`,
    );
  }
  const names = shardNames(Math.ceil(rows.length / shardRows));
  return withOutputFolder(options.dataset, async (folder) => {
    const card = await folder.read('README.md');
    if (card !== undefined && !card.includes(CARD_MARKER)) {
      throw new UserError(
        `${folder.location}/README.md exists and was not written by evol export: export into a new or empty folder, or move that README.md away first`,
      );
    }
    let downloadSize = 0;
    const staged: string[] = [];
    for (const [index, name] of names.entries()) {
      const file = path.join(folder.staging, path.basename(name));
      await writeParquetRows(file, rows.slice(index * shardRows, (index + 1) * shardRows), options.format);
      downloadSize += (await fs.promises.stat(file)).size;
      staged.push(file);
    }
    const readme = path.join(folder.staging, 'README.md');
    await fs.promises.writeFile(
      readme,
      datasetCard({
        meta,
        format: options.format,
        options,
        stats,
        rows,
        downloadSize,
        funnel: funnelOf(records),
        scores: scoresByRound(scores),
        scorers: [...new Set(scores.map((score) => score.model))].sort(),
      }),
    );
    for (const [index, name] of names.entries()) await folder.put(name, staged[index], PARQUET_CONTENT_TYPE);
    const current = new Set(names.map((name) => path.posix.basename(name)));
    for (const old of await folder.list('data')) {
      if (SHARD_NAME.test(old) && !current.has(old)) await folder.remove(`data/${old}`);
    }
    await folder.put('README.md', readme, 'text/markdown; charset=utf-8');
    return { path: folder.location, stats, notes, shards: names };
  });
}

/** The export's rows, and the records and scores they were built from. */
async function readRows(
  store: ExportSource,
  runId: string,
  options: ExportOptions,
): Promise<{ built: BuiltRows; records: Lineage[]; scores: RowScore[] }> {
  if (!(await store.runExists(runId)))
    throw new UserError(`no run "${runId}" in the store: \`evol status\` lists the runs there`);
  const records = await readAllRecords(store, runId);
  const seeds = options.includeSeeds ? await readSeedsOf(store, runId, records) : undefined;
  const scores: RowScore[] = [];
  if (store.scores) for await (const score of store.scores(runId)) scores.push(score);
  const byRow = new Map(scores.map((score) => [score.rowId, score]));
  return { built: buildRows(records, seeds, options, byRow), records, scores };
}

async function readAllRecords(store: ExportSource, runId: string): Promise<Lineage[]> {
  const records: Lineage[] = [];
  for await (const record of store.records(runId)) records.push(record);
  return records;
}

/** Only the seeds of completed records: the others are not exported, so their seeds need not be read. */
async function readSeedsOf(
  store: ExportSource,
  runId: string,
  records: readonly Lineage[],
): Promise<Map<string, SeedRecord>> {
  const wanted = new Set(records.filter((r) => r.status === 'completed').map((r) => r.instructionId));
  const seeds = new Map<string, SeedRecord>();
  for (let offset = 0; seeds.size < wanted.size; offset += SEED_PAGE_SIZE) {
    const page = await store.seedIds(runId, offset, SEED_PAGE_SIZE);
    const pageSeeds = await Promise.all(page.filter((id) => wanted.has(id)).map((id) => store.seed(runId, id)));
    for (const seed of pageSeeds) seeds.set(seed.id, seed);
    if (page.length < SEED_PAGE_SIZE) break;
  }
  return seeds;
}

/**
 * Writes to a temporary file beside the target, then renames it over the target: a reader never
 * sees half an export, and a failed export leaves the previous file as it was.
 */
async function replaceFileAtomically(target: string, write: (temp: string) => Promise<unknown>): Promise<string> {
  const finalPath = path.resolve(target);
  const directory = path.dirname(finalPath);
  await fs.promises.mkdir(directory, { recursive: true });
  const tempPath = path.join(
    directory,
    `.${path.basename(finalPath)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    await write(tempPath);
    await fs.promises.rename(tempPath, finalPath);
  } catch (err) {
    await fs.promises.rm(tempPath, { force: true });
    throw err;
  }
  return finalPath;
}

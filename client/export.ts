/** `evol export`: reads a run's records from the store and writes them as a training file. */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { buildRows, checkExportOptions, serializeRows, type ExportOptions, type ExportStats } from '../core/export';
import type { Lineage } from '../core/lineage';
import type { RowScore } from '../core/scoring';
import { UserError } from '../core/validation';
import type { SeedRecord } from '../core/run';
import type { RunStore } from '../store/types';

export interface ExportRunOptions extends ExportOptions {
  /** The file to write; stdout when absent. */
  out?: string;
}

export interface ExportResult {
  /** The absolute path written, when `out` was given. */
  path?: string;
  stats: ExportStats;
  /** Remarks for stderr (the export itself may be on stdout). */
  notes: string[];
}

const SEED_PAGE_SIZE = 500;

/** `stdout` is where the export goes without `out`: the process's stdout unless a caller redirects it. */
/** The part of a run store an export reads. */
export type ExportSource = Pick<RunStore, 'runExists' | 'records' | 'seedIds' | 'seed'> &
  Partial<Pick<RunStore, 'scores'>>;

export async function exportRun(
  store: ExportSource,
  runId: string,
  options: ExportRunOptions,
  stdout: Writable = process.stdout,
): Promise<ExportResult> {
  checkExportOptions(options);
  if (!(await store.runExists(runId)))
    throw new UserError(`no run "${runId}" in the store: \`evol status\` lists the runs there`);
  const records = await readAllRecords(store, runId);
  const seeds = options.includeSeeds ? await readSeedsOf(store, runId, records) : undefined;
  const scores = new Map<string, RowScore>();
  if (store.scores) for await (const score of store.scores(runId)) scores.set(score.rowId, score);
  const { rows, stats, notes } = buildRows(records, seeds, options, scores);
  const chunks = serializeRows(rows, options.format);
  if (options.out === undefined) {
    await pipeline(Readable.from(chunks), stdout, { end: false });
    return { stats, notes };
  }
  const written = await writeFileAtomically(options.out, chunks);
  return { path: written, stats, notes };
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
async function writeFileAtomically(target: string, chunks: Iterable<string>): Promise<string> {
  const finalPath = path.resolve(target);
  const directory = path.dirname(finalPath);
  await fs.promises.mkdir(directory, { recursive: true });
  const tempPath = path.join(
    directory,
    `.${path.basename(finalPath)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    await pipeline(Readable.from(chunks), fs.createWriteStream(tempPath, { flags: 'wx' }));
    await fs.promises.rename(tempPath, finalPath);
  } catch (err) {
    await fs.promises.rm(tempPath, { force: true });
    throw err;
  }
  return finalPath;
}

/**
 * The run store holds a run's data: its normalized seeds and one record (the whole lineage) per finished
 * instruction, and what later commands add (scores, learned methods, Batch API rows). Workflows only ever carry
 * ids; this is where the text lives. One interface per concern, so a caller asks for what it uses; RunStore is all
 * of them. Both stores (a local directory, an S3-compatible bucket) are one implementation over ObjectStore.
 */
import type { MethodVersion } from '../core/auto-evol';
import type { BatchRequestRecord, BatchResultRecord } from '../core/batch';
import type { Lineage } from '../core/lineage';
import type { RunMeta, SeedRecord } from '../core/run';
import type { RowScore } from '../core/scoring';

/** `evol runs`: the runs that read back, and the run folders that don't, with why. */
export interface RunListing {
  runs: RunMeta[];
  unreadable: Array<{ runId: string; reason: string }>;
}

/** Runs: created whole, with their seeds, and their settings read back. */
export interface RunCatalog {
  /** Where the store is, for messages: a directory or `s3://bucket/prefix`. */
  readonly location: string;
  /** Creates the run with its seeds, all or nothing; refuses an existing run id. */
  createRun(meta: RunMeta, seeds: readonly SeedRecord[]): Promise<void>;
  runExists(runId: string): Promise<boolean>;
  readMeta(runId: string): Promise<RunMeta>;
  /** Every run, oldest first, and the run folders whose settings can't be read. */
  listRuns(): Promise<RunListing>;
}

/** A run's seeds, as created with it. */
export interface SeedReader {
  /** Seed ids in input order, `limit` of them from `offset`. */
  seedIds(runId: string, offset: number, limit: number): Promise<string[]>;
  seed(runId: string, id: string): Promise<SeedRecord>;
}

/** One record (the whole lineage) per finished instruction. */
export interface RecordStore {
  /** Writes a finished instruction's lineage atomically; a second write of the same id changes nothing. */
  saveRecord(lineage: Lineage): Promise<'written' | 'exists'>;
  hasRecord(runId: string, id: string): Promise<boolean>;
  /** Every record of the run, in no particular order, read a page at a time. */
  records(runId: string): AsyncIterable<Lineage>;
  /** One record, if written. */
  record(runId: string, id: string): Promise<Lineage | undefined>;
  /** Removes a record, so `evol retry` can write the new outcome once. */
  deleteRecord(runId: string, id: string): Promise<void>;
}

/** The lineage of an instruction whose evolution failed, for `evol retry`. */
export interface AttemptStore {
  /** Keeps it, replacing an earlier one. */
  saveFailedAttempt(lineage: Lineage): Promise<void>;
  failedAttempt(runId: string, id: string): Promise<Lineage | undefined>;
}

/** `evol score`: one difficulty score per row, and the rows the last scoring chose. */
export interface ScoreStore {
  /** Keeps a row's difficulty score; a second write of the same row changes nothing. */
  saveScore(runId: string, score: RowScore): Promise<'written' | 'exists'>;
  score(runId: string, rowId: string): Promise<RowScore | undefined>;
  scores(runId: string): AsyncIterable<RowScore>;
  /** The rows `evol score` chose, replaced by each new one. */
  saveScorePlan(runId: string, rowIds: readonly string[]): Promise<void>;
  scorePlan(runId: string): Promise<string[]>;
}

/** The methods an Auto Evol-Instruct learning had after each step. */
export interface MethodStore {
  /** A second write of the same step changes nothing. */
  saveMethodVersion(runId: string, version: MethodVersion): Promise<'written' | 'exists'>;
  /** Every method version of the run, oldest first (by save time, then step). */
  methodVersions(runId: string): Promise<MethodVersion[]>;
}

/** Batch API mode: a row waiting for its batch, and its answer, by custom_id; each written once. */
export interface BatchRowStore {
  saveBatchRequest(runId: string, request: BatchRequestRecord): Promise<'written' | 'exists'>;
  batchRequest(runId: string, customId: string): Promise<BatchRequestRecord | undefined>;
  saveBatchResult(runId: string, result: BatchResultRecord): Promise<'written' | 'exists'>;
  batchResult(runId: string, customId: string): Promise<BatchResultRecord | undefined>;
}

export type RunStore = RunCatalog & SeedReader & RecordStore & AttemptStore & ScoreStore & MethodStore & BatchRowStore;

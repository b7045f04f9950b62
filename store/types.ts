/**
 * The run store holds a run's data: its normalized seeds and one record (the whole lineage) per
 * finished instruction. Workflows only ever carry ids; this is where the text lives.
 * Keys are (run id, instruction id), so a shared store (object storage, a database) can implement it.
 */
import type { MethodVersion } from '../core/auto-evol';
import type { BatchRequestRecord, BatchResultRecord } from '../core/batch';
import type { Lineage } from '../core/schemas';
import type { RunMeta, SeedRecord } from '../core/run';
import type { RowScore } from '../core/scoring';

export interface RunStore {
  /** Creates the run with its seeds, all or nothing; refuses an existing run id. */
  createRun(meta: RunMeta, seeds: readonly SeedRecord[]): Promise<void>;
  runExists(runId: string): Promise<boolean>;
  readMeta(runId: string): Promise<RunMeta>;
  /** Seed ids in input order, `limit` of them from `offset`. */
  seedIds(runId: string, offset: number, limit: number): Promise<string[]>;
  seed(runId: string, id: string): Promise<SeedRecord>;
  /** Writes a finished instruction's lineage atomically; a second write of the same id changes nothing. */
  saveRecord(lineage: Lineage): Promise<'written' | 'exists'>;
  hasRecord(runId: string, id: string): Promise<boolean>;
  /** Every record of the run, in no particular order. */
  records(runId: string): AsyncIterable<Lineage>;
  /** One record, if written. */
  record(runId: string, id: string): Promise<Lineage | undefined>;
  /** Keeps a row's difficulty score; a second write of the same row changes nothing. */
  saveScore(runId: string, score: RowScore): Promise<'written' | 'exists'>;
  score(runId: string, rowId: string): Promise<RowScore | undefined>;
  scores(runId: string): AsyncIterable<RowScore>;
  /** The rows `evol score` chose, replaced by each new one. */
  saveScorePlan(runId: string, rowIds: readonly string[]): Promise<void>;
  scorePlan(runId: string): Promise<string[]>;
  /** Removes a record, so `evol retry` can write the new outcome once. */
  deleteRecord(runId: string, id: string): Promise<void>;
  /** Keeps the lineage of an instruction whose evolution failed (replacing an earlier one), for `evol retry`. */
  saveFailedAttempt(lineage: Lineage): Promise<void>;
  failedAttempt(runId: string, id: string): Promise<Lineage | undefined>;
  /** Keeps the method an Auto Evol-Instruct learning had after a step; a second write of the same step changes nothing. */
  saveMethodVersion(runId: string, version: MethodVersion): Promise<'written' | 'exists'>;
  /** Every method version of the run, oldest first (by save time, then step). */
  methodVersions(runId: string): Promise<MethodVersion[]>;
  /** A Batch API row waiting for its batch (Batch API mode), by its custom_id; a second write changes nothing. */
  saveBatchRequest(runId: string, request: BatchRequestRecord): Promise<'written' | 'exists'>;
  batchRequest(runId: string, customId: string): Promise<BatchRequestRecord | undefined>;
  /** A Batch API row's answer, by its custom_id; a second write changes nothing. */
  saveBatchResult(runId: string, result: BatchResultRecord): Promise<'written' | 'exists'>;
  batchResult(runId: string, customId: string): Promise<BatchResultRecord | undefined>;
}

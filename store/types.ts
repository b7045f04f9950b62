/**
 * The run store holds a run's data: its normalized seeds and one record (the whole lineage) per
 * finished instruction. Workflows only ever carry ids; this is where the text lives.
 * Keys are (run id, instruction id), so a shared store (object storage, a database) can implement it.
 */
import type { Lineage } from '../core/schemas';

/** One normalized seed instruction. */
export interface SeedRecord {
  /** Unique within the run: the row's own id if it has one, else `line-<n>`. */
  id: string;
  /** The instruction, with its input appended when the source row has one. */
  text: string;
  /** The source row's answer, if any (exported with --include-seeds). */
  output?: string;
  source: { file: string; line: number };
}

/** What `evol run` resolved for a run: no secrets. */
export interface RunMeta {
  runId: string;
  createdAt: string;
  inputFile: string;
  seedCount: number;
  /** Rows skipped as invalid, and duplicates folded into an earlier seed. */
  invalidRows: number;
  duplicateRows: number;
  /** The run's resolved configuration (rounds, seed, method, LLM endpoints without keys, budget ...). */
  config: Record<string, unknown>;
}

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
  /** Removes a record, so `evol retry` can write the new outcome once. */
  deleteRecord(runId: string, id: string): Promise<void>;
}

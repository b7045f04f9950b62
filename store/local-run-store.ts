/**
 * The embedded run store: a directory per run under one root (default `.evolforge/runs`).
 *   <run>/meta.json          what `evol run` resolved (no secrets)
 *   <run>/seeds.jsonl        the normalized seeds, in input order
 *   <run>/records/<xx>/<id>.json   one lineage per finished instruction (xx: a hash shard)
 *   <run>/scores/<xx>/<row>.json   one difficulty score per scored row (`evol score`), written once
 *   <run>/scores/plan.json         the rows the last `evol score` chose
 *   <run>/batch/requests/<xx>/<custom id>.json   a Batch API row waiting for its batch (--batch)
 *   <run>/batch/results/<xx>/<custom id>.json    its answer, once its batch is collected
 * Writes are atomic: a run appears whole (its directory is renamed into place) and a record is
 * linked into place, which fails if it exists, so a retried write changes nothing.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { hash32 } from '../core/prng';
import type { MethodVersion } from '../core/auto-evol';
import type { BatchRequestRecord, BatchResultRecord } from '../core/batch';
import type { Lineage } from '../core/schemas';
import type { RowScore } from '../core/scoring';
import { UserError } from '../core/validation';
import { parseRunMeta, type RunMeta, type SeedRecord } from '../core/run';
import type { RunStore } from './types';

/** Run ids become file names and workflow ids: keep them to a safe alphabet. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkRunId(runId: string): string {
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new UserError(
      `"${runId}" is not a usable run id: use 1-128 letters, digits, dots, dashes or underscores, starting with a letter or digit`,
    );
  }
  return runId;
}

interface LoadedSeeds {
  ids: string[];
  byId: Map<string, SeedRecord>;
}

/** Writes a file whole, once: linked into place, which fails if it exists, so a repeated write changes nothing. */
async function writeOnce(final: string, content: string): Promise<'written' | 'exists'> {
  await fs.mkdir(path.dirname(final), { recursive: true });
  const temp = `${final}.${randomBytes(6).toString('hex')}.tmp`;
  await fs.writeFile(temp, content);
  try {
    await fs.link(temp, final);
    return 'written';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
    throw err;
  } finally {
    await fs.rm(temp, { force: true });
  }
}

/** `evol runs`: the runs that read back, and the run directories that don't. */
export interface RunListing {
  runs: RunMeta[];
  unreadable: Array<{ runId: string; reason: string }>;
}

export class LocalRunStore implements RunStore {
  /**
   * Seeds and meta of the runs read most recently (both are written once, when the run is created); a worker serves
   * few runs at a time, and each instruction workflow reads both.
   */
  private readonly seedCache = new Map<string, Promise<LoadedSeeds>>();
  private readonly metaCache = new Map<string, Promise<RunMeta>>();
  private static readonly CACHED_RUNS = 4;

  constructor(readonly root: string) {}

  private runDir(runId: string): string {
    return path.join(this.root, checkRunId(runId));
  }

  private recordPath(runId: string, id: string): string {
    const shard = (hash32(id) & 0xff).toString(16).padStart(2, '0');
    return path.join(this.runDir(runId), 'records', shard, `${encodeURIComponent(id)}.json`);
  }

  async createRun(meta: RunMeta, seeds: readonly SeedRecord[]): Promise<void> {
    const target = this.runDir(meta.runId);
    await fs.mkdir(this.root, { recursive: true });
    if (await this.runExists(meta.runId)) throw new UserError(`run "${meta.runId}" already exists in ${this.root}`);
    const staging = path.join(this.root, `.staging-${meta.runId}-${randomBytes(4).toString('hex')}`);
    await fs.mkdir(path.join(staging, 'records'), { recursive: true });
    try {
      await fs.writeFile(path.join(staging, 'seeds.jsonl'), seeds.map((s) => JSON.stringify(s)).join('\n') + '\n');
      await fs.writeFile(path.join(staging, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
      await fs.rename(staging, target);
    } catch (err) {
      await fs.rm(staging, { recursive: true, force: true });
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTEMPTY')
        throw new UserError(`run "${meta.runId}" already exists in ${this.root}`);
      throw err;
    }
  }

  async runExists(runId: string): Promise<boolean> {
    return fs.stat(path.join(this.runDir(runId), 'meta.json')).then(
      () => true,
      () => false,
    );
  }

  readMeta(runId: string): Promise<RunMeta> {
    return this.cachedPerRun(this.metaCache, runId, async () => {
      const file = path.join(this.runDir(runId), 'meta.json');
      let text: string;
      try {
        text = await fs.readFile(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new UserError(
            `no run "${runId}" in ${this.root}: check the run id (evol runs lists them) or EVOL_DATA_DIR`,
          );
        }
        throw err;
      }
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch (err) {
        throw new UserError(`${file}: not valid JSON (${(err as Error).message}); restore it, or start a new run`);
      }
      return parseRunMeta(raw, file);
    });
  }

  /** Every run in the store, oldest first, and the run directories whose meta.json can't be read, with why. */
  async listRuns(): Promise<RunListing> {
    const entries = await fs.readdir(this.root, { withFileTypes: true }).catch(() => []);
    const read = await Promise.all(
      entries
        .filter((e) => e.isDirectory() && RUN_ID_PATTERN.test(e.name))
        .map(async (e) => {
          try {
            return { meta: await this.readMeta(e.name) };
          } catch (err) {
            return { unreadable: { runId: e.name, reason: await this.whyUnreadable(e.name, err) } };
          }
        }),
    );
    return {
      runs: read.flatMap((r) => (r.meta ? [r.meta] : [])).sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
      unreadable: read
        .flatMap((r) => (r.unreadable ? [r.unreadable] : []))
        .sort((a, b) => a.runId.localeCompare(b.runId)),
    };
  }

  private async whyUnreadable(runId: string, err: unknown): Promise<string> {
    const file = path.join(this.runDir(runId), 'meta.json');
    const exists = await fs.access(file).then(
      () => true,
      () => false,
    );
    if (!exists) return `${file} is missing: the run was not fully created, or the file was removed`;
    return err instanceof Error ? err.message : String(err);
  }

  private loadSeeds(runId: string): Promise<LoadedSeeds> {
    return this.cachedPerRun(this.seedCache, runId, async () => {
      const text = await fs.readFile(path.join(this.runDir(runId), 'seeds.jsonl'), 'utf8');
      const ids: string[] = [];
      const byId = new Map<string, SeedRecord>();
      for (const line of text.split('\n')) {
        if (!line) continue;
        const seed = JSON.parse(line) as SeedRecord;
        ids.push(seed.id);
        byId.set(seed.id, seed);
      }
      return { ids, byId };
    });
  }

  /** One load per run while it is among the {@link CACHED_RUNS} read last; a failed load is tried again next time. */
  private cachedPerRun<T>(cache: Map<string, Promise<T>>, runId: string, load: () => Promise<T>): Promise<T> {
    let loaded = cache.get(runId);
    if (!loaded) {
      loaded = load();
      loaded.catch(() => cache.delete(runId));
      cache.set(runId, loaded);
      while (cache.size > LocalRunStore.CACHED_RUNS) cache.delete(cache.keys().next().value as string);
    }
    return loaded;
  }

  async seedIds(runId: string, offset: number, limit: number): Promise<string[]> {
    return (await this.loadSeeds(runId)).ids.slice(offset, offset + limit);
  }

  async seed(runId: string, id: string): Promise<SeedRecord> {
    const seed = (await this.loadSeeds(runId)).byId.get(id);
    if (!seed) throw new Error(`run "${runId}" has no seed "${id}"`);
    return seed;
  }

  async saveRecord(lineage: Lineage): Promise<'written' | 'exists'> {
    const final = this.recordPath(lineage.runId, lineage.instructionId);
    return writeOnce(final, JSON.stringify(lineage));
  }

  private batchPath(runId: string, kind: 'requests' | 'results', customId: string): string {
    const shard = (hash32(customId) & 0xff).toString(16).padStart(2, '0');
    return path.join(this.runDir(runId), 'batch', kind, shard, `${encodeURIComponent(customId)}.json`);
  }

  async saveBatchRequest(runId: string, request: BatchRequestRecord): Promise<'written' | 'exists'> {
    return writeOnce(this.batchPath(runId, 'requests', request.customId), JSON.stringify(request));
  }

  async batchRequest(runId: string, customId: string): Promise<BatchRequestRecord | undefined> {
    return readJsonIfThere<BatchRequestRecord>(this.batchPath(runId, 'requests', customId));
  }

  async saveBatchResult(runId: string, result: BatchResultRecord): Promise<'written' | 'exists'> {
    return writeOnce(this.batchPath(runId, 'results', result.customId), JSON.stringify(result));
  }

  async batchResult(runId: string, customId: string): Promise<BatchResultRecord | undefined> {
    return readJsonIfThere<BatchResultRecord>(this.batchPath(runId, 'results', customId));
  }

  async hasRecord(runId: string, id: string): Promise<boolean> {
    return fs.stat(this.recordPath(runId, id)).then(
      () => true,
      () => false,
    );
  }

  async deleteRecord(runId: string, id: string): Promise<void> {
    await fs.rm(this.recordPath(runId, id), { force: true });
  }

  private failedPath(runId: string, id: string): string {
    return path.join(this.runDir(runId), 'failed', `${encodeURIComponent(id)}.json`);
  }

  async saveFailedAttempt(lineage: Lineage): Promise<void> {
    const final = this.failedPath(lineage.runId, lineage.instructionId);
    await fs.mkdir(path.dirname(final), { recursive: true });
    const temp = `${final}.${randomBytes(6).toString('hex')}.tmp`;
    await fs.writeFile(temp, JSON.stringify(lineage));
    await fs.rename(temp, final);
  }

  async failedAttempt(runId: string, id: string): Promise<Lineage | undefined> {
    try {
      return JSON.parse(await fs.readFile(this.failedPath(runId, id), 'utf8')) as Lineage;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  private methodPath(runId: string, version: MethodVersion): string {
    const file = `${encodeURIComponent(version.learningId)}-${String(version.step).padStart(4, '0')}.json`;
    return path.join(this.runDir(runId), 'methods', file);
  }

  async saveMethodVersion(runId: string, version: MethodVersion): Promise<'written' | 'exists'> {
    const final = this.methodPath(runId, version);
    return writeOnce(final, JSON.stringify(version, null, 2) + '\n');
  }

  async methodVersions(runId: string): Promise<MethodVersion[]> {
    const dir = path.join(this.runDir(runId), 'methods');
    const files = (await fs.readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
    const versions = await Promise.all(
      files.map(async (f) => JSON.parse(await fs.readFile(path.join(dir, f), 'utf8')) as MethodVersion),
    );
    return versions.sort((a, b) => (a.savedAt ?? '').localeCompare(b.savedAt ?? '') || a.step - b.step);
  }

  async *records(runId: string): AsyncIterable<Lineage> {
    yield* this.sharded<Lineage>(path.join(this.runDir(runId), 'records'));
  }

  async record(runId: string, id: string): Promise<Lineage | undefined> {
    return readJsonIfThere<Lineage>(this.recordPath(runId, id));
  }

  private scorePath(runId: string, rowId: string): string {
    const shard = (hash32(rowId) & 0xff).toString(16).padStart(2, '0');
    return path.join(this.runDir(runId), 'scores', shard, `${encodeURIComponent(rowId)}.json`);
  }

  async saveScore(runId: string, score: RowScore): Promise<'written' | 'exists'> {
    return writeOnce(this.scorePath(runId, score.rowId), JSON.stringify(score));
  }

  async score(runId: string, rowId: string): Promise<RowScore | undefined> {
    return readJsonIfThere<RowScore>(this.scorePath(runId, rowId));
  }

  async *scores(runId: string): AsyncIterable<RowScore> {
    yield* this.sharded<RowScore>(path.join(this.runDir(runId), 'scores'));
  }

  async saveScorePlan(runId: string, rowIds: readonly string[]): Promise<void> {
    const final = path.join(this.runDir(runId), 'scores', 'plan.json');
    await fs.mkdir(path.dirname(final), { recursive: true });
    const temp = `${final}.${randomBytes(6).toString('hex')}.tmp`;
    await fs.writeFile(temp, JSON.stringify(rowIds));
    await fs.rename(temp, final);
  }

  async scorePlan(runId: string): Promise<string[]> {
    return (await readJsonIfThere<string[]>(path.join(this.runDir(runId), 'scores', 'plan.json'))) ?? [];
  }

  /** The JSON files in the shard directories of a directory, in name order (files beside the shards are skipped). */
  private async *sharded<T>(dir: string): AsyncIterable<T> {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    const subdirs = entries.filter((e) => e.isDirectory()).map((e) => e.name);
    for (const sub of subdirs.sort()) {
      const files = (await fs.readdir(path.join(dir, sub)).catch(() => [] as string[]))
        .filter((f) => f.endsWith('.json'))
        .sort();
      // Read a batch at a time: one file after another leaves the disk idle between small reads.
      for (let at = 0; at < files.length; at += READ_BATCH) {
        const batch = await Promise.all(
          files.slice(at, at + READ_BATCH).map((file) => fs.readFile(path.join(dir, sub, file), 'utf8')),
        );
        for (const text of batch) yield JSON.parse(text) as T;
      }
    }
  }
}

/** Files read at once when a run's records or scores are listed. */
const READ_BATCH = 64;

async function readJsonIfThere<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The run store over any ObjectStore: one layout, whatever holds the objects.
 *   <run>/meta.json          what `evol run` resolved (no secrets); written last, once: the run exists from then on
 *   <run>/seeds.jsonl        the normalized seeds, in input order
 *   <run>/records/<xx>/<id>.json   one lineage per finished instruction (xx: a hash shard), written once
 *   <run>/failed/<id>.json         the last failed attempt of an instruction, for `evol retry`
 *   <run>/scores/<xx>/<row>.json   one difficulty score per scored row (`evol score`), written once
 *   <run>/scores/plan.json         the rows the last `evol score` chose
 *   <run>/methods/<learning>-<step>.json   an Auto Evol-Instruct method version, written once
 *   <run>/batch/requests/<xx>/<custom id>.json   a Batch API row waiting for its batch (--batch), written once
 *   <run>/batch/results/<xx>/<custom id>.json    its answer, once its batch is collected, written once
 * A run appears whole or not at all: its seeds are written first and its meta.json, which makes it exist, last and
 * once. What is written once is written with the store's putOnce, so a retried write changes nothing.
 */
import { hash32 } from '../core/prng';
import type { MethodVersion } from '../core/auto-evol';
import type { BatchRequestRecord, BatchResultRecord } from '../core/batch';
import type { Lineage } from '../core/lineage';
import type { RowScore } from '../core/scoring';
import { UserError } from '../core/validation';
import { parseRunMeta, type RunMeta, type SeedRecord } from '../core/run';
import { readInOrder, type ObjectStore } from './objects';
import type { RunListing, RunStore } from './types';

/** Run ids become object keys and workflow ids: keep them to a safe alphabet. */
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

/** `xx`: one of 256 shards, so no folder (or listing page) holds a whole run. */
function shard(id: string): string {
  return (hash32(id) & 0xff).toString(16).padStart(2, '0');
}

/** A key in a sharded folder: `<folder>/<xx>/<id>.json`. */
function shardedKey(folder: string, id: string): string {
  return `${folder}/${shard(id)}/${encodeURIComponent(id)}.json`;
}

/** Runs whose meta and seeds are kept in memory: a worker serves few runs at a time, and every instruction reads both. */
const CACHED_RUNS = 4;

export class ObjectRunStore implements RunStore {
  private readonly seedCache = new Map<string, Promise<LoadedSeeds>>();
  private readonly metaCache = new Map<string, Promise<RunMeta>>();

  constructor(readonly objects: ObjectStore) {}

  get location(): string {
    return this.objects.location;
  }

  private runKey(runId: string, rest: string): string {
    return `${checkRunId(runId)}/${rest}`;
  }

  private parse<T>(key: string, text: string): T {
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new UserError(
        `${this.objects.describe(key)}: not valid JSON (${(err as Error).message}); restore it, or remove it and run the command again`,
      );
    }
  }

  private async readJson<T>(key: string): Promise<T | undefined> {
    const text = await this.objects.get(key);
    return text === undefined ? undefined : this.parse<T>(key, text);
  }

  /** The JSON objects of a sharded folder (`<folder>/<xx>/<id>.json`), a page of keys at a time. */
  private async *sharded<T>(folder: string): AsyncIterable<T | undefined> {
    const inShard = new RegExp(`^${folder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/[0-9a-f]{2}/[^/]+\\.json$`);
    for await (const page of this.objects.list(`${folder}/`)) {
      const keys = page.filter((key) => inShard.test(key));
      // A key listed and then removed (a record `evol retry` replaces) reads as undefined.
      yield* readInOrder(keys, this.objects.readParallelism, (key) => this.readJson<T>(key));
    }
  }

  async createRun(meta: RunMeta, seeds: readonly SeedRecord[]): Promise<void> {
    const exists = () => new UserError(`run "${meta.runId}" already exists in ${this.location}`);
    if (await this.runExists(meta.runId)) throw exists();
    await this.objects.put(
      this.runKey(meta.runId, 'seeds.jsonl'),
      seeds.map((s) => JSON.stringify(s)).join('\n') + '\n',
    );
    const written = await this.objects.putOnce(
      this.runKey(meta.runId, 'meta.json'),
      JSON.stringify(meta, null, 2) + '\n',
    );
    if (written === 'exists') throw exists();
  }

  async runExists(runId: string): Promise<boolean> {
    return this.objects.exists(this.runKey(runId, 'meta.json'));
  }

  readMeta(runId: string): Promise<RunMeta> {
    return this.cachedPerRun(this.metaCache, runId, async () => {
      const key = this.runKey(runId, 'meta.json');
      const text = await this.objects.get(key);
      if (text === undefined) {
        throw new UserError(
          `no run "${runId}" in ${this.location}: check the run id (evol runs lists them), EVOL_STORE or EVOL_DATA_DIR`,
        );
      }
      return parseRunMeta(this.parse(key, text), this.objects.describe(key));
    });
  }

  async listRuns(): Promise<RunListing> {
    const names = (await this.objects.children('')).filter((name) => RUN_ID_PATTERN.test(name));
    const read: Array<{ meta?: RunMeta; unreadable?: { runId: string; reason: string } }> = [];
    for await (const one of readInOrder(names, this.objects.readParallelism, async (runId) => {
      try {
        return { meta: await this.readMeta(runId) };
      } catch (err) {
        return { unreadable: { runId, reason: await this.whyUnreadable(runId, err) } };
      }
    }))
      read.push(one);
    return {
      runs: read.flatMap((r) => (r.meta ? [r.meta] : [])).sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
      unreadable: read
        .flatMap((r) => (r.unreadable ? [r.unreadable] : []))
        .sort((a, b) => a.runId.localeCompare(b.runId)),
    };
  }

  private async whyUnreadable(runId: string, err: unknown): Promise<string> {
    const key = this.runKey(runId, 'meta.json');
    if (!(await this.objects.exists(key))) {
      return `${this.objects.describe(key)} is missing: the run was not fully created, or the file was removed`;
    }
    return err instanceof Error ? err.message : String(err);
  }

  private loadSeeds(runId: string): Promise<LoadedSeeds> {
    return this.cachedPerRun(this.seedCache, runId, async () => {
      const key = this.runKey(runId, 'seeds.jsonl');
      const text = await this.objects.get(key);
      if (text === undefined) throw new Error(`${this.objects.describe(key)} is missing: run "${runId}" has no seeds`);
      const ids: string[] = [];
      const byId = new Map<string, SeedRecord>();
      for (const line of text.split('\n')) {
        if (!line) continue;
        const seed = this.parse<SeedRecord>(key, line);
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
      while (cache.size > CACHED_RUNS) cache.delete(cache.keys().next().value as string);
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

  private recordKey(runId: string, id: string): string {
    return this.runKey(runId, shardedKey('records', id));
  }

  async saveRecord(lineage: Lineage): Promise<'written' | 'exists'> {
    return this.objects.putOnce(this.recordKey(lineage.runId, lineage.instructionId), JSON.stringify(lineage));
  }

  async hasRecord(runId: string, id: string): Promise<boolean> {
    return this.objects.exists(this.recordKey(runId, id));
  }

  async *records(runId: string): AsyncIterable<Lineage> {
    for await (const lineage of this.sharded<Lineage>(this.runKey(runId, 'records'))) if (lineage) yield lineage;
  }

  async record(runId: string, id: string): Promise<Lineage | undefined> {
    return this.readJson<Lineage>(this.recordKey(runId, id));
  }

  async deleteRecord(runId: string, id: string): Promise<void> {
    await this.objects.delete(this.recordKey(runId, id));
  }

  private failedKey(runId: string, id: string): string {
    return this.runKey(runId, `failed/${encodeURIComponent(id)}.json`);
  }

  async saveFailedAttempt(lineage: Lineage): Promise<void> {
    await this.objects.put(this.failedKey(lineage.runId, lineage.instructionId), JSON.stringify(lineage));
  }

  async failedAttempt(runId: string, id: string): Promise<Lineage | undefined> {
    return this.readJson<Lineage>(this.failedKey(runId, id));
  }

  private scoreKey(runId: string, rowId: string): string {
    return this.runKey(runId, shardedKey('scores', rowId));
  }

  async saveScore(runId: string, score: RowScore): Promise<'written' | 'exists'> {
    return this.objects.putOnce(this.scoreKey(runId, score.rowId), JSON.stringify(score));
  }

  async score(runId: string, rowId: string): Promise<RowScore | undefined> {
    return this.readJson<RowScore>(this.scoreKey(runId, rowId));
  }

  async *scores(runId: string): AsyncIterable<RowScore> {
    for await (const score of this.sharded<RowScore>(this.runKey(runId, 'scores'))) if (score) yield score;
  }

  async saveScorePlan(runId: string, rowIds: readonly string[]): Promise<void> {
    await this.objects.put(this.runKey(runId, 'scores/plan.json'), JSON.stringify(rowIds));
  }

  async scorePlan(runId: string): Promise<string[]> {
    return (await this.readJson<string[]>(this.runKey(runId, 'scores/plan.json'))) ?? [];
  }

  private methodKey(runId: string, version: MethodVersion): string {
    const name = `${encodeURIComponent(version.learningId)}-${String(version.step).padStart(4, '0')}.json`;
    return this.runKey(runId, `methods/${name}`);
  }

  async saveMethodVersion(runId: string, version: MethodVersion): Promise<'written' | 'exists'> {
    return this.objects.putOnce(this.methodKey(runId, version), JSON.stringify(version, null, 2) + '\n');
  }

  async methodVersions(runId: string): Promise<MethodVersion[]> {
    const versions: MethodVersion[] = [];
    for await (const page of this.objects.list(this.runKey(runId, 'methods/'))) {
      const keys = page.filter((key) => key.endsWith('.json'));
      for await (const version of readInOrder(keys, this.objects.readParallelism, (key) =>
        this.readJson<MethodVersion>(key),
      ))
        if (version) versions.push(version);
    }
    return versions.sort((a, b) => (a.savedAt ?? '').localeCompare(b.savedAt ?? '') || a.step - b.step);
  }

  private batchKey(runId: string, kind: 'requests' | 'results', customId: string): string {
    return this.runKey(runId, shardedKey(`batch/${kind}`, customId));
  }

  async saveBatchRequest(runId: string, request: BatchRequestRecord): Promise<'written' | 'exists'> {
    return this.objects.putOnce(this.batchKey(runId, 'requests', request.customId), JSON.stringify(request));
  }

  async batchRequest(runId: string, customId: string): Promise<BatchRequestRecord | undefined> {
    return this.readJson<BatchRequestRecord>(this.batchKey(runId, 'requests', customId));
  }

  async saveBatchResult(runId: string, result: BatchResultRecord): Promise<'written' | 'exists'> {
    return this.objects.putOnce(this.batchKey(runId, 'results', result.customId), JSON.stringify(result));
  }

  async batchResult(runId: string, customId: string): Promise<BatchResultRecord | undefined> {
    return this.readJson<BatchResultRecord>(this.batchKey(runId, 'results', customId));
  }
}

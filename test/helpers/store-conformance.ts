/**
 * One conformance suite for every run store backend (a local directory, an S3-compatible bucket), so they cannot
 * drift: the same semantics, asserted the same way. `describeStoreConformance` is called by
 * test/unit/store-conformance.test.ts (the local store, no server) and test/s3-store.test.ts (both backends, the
 * second against the real S3 server the integration tier starts).
 */
import type { MethodVersion } from '../../core/auto-evol';
import type { Lineage, LineageStep } from '../../core/lineage';
import type { RunMeta, SeedRecord } from '../../core/run';
import type { RowScore } from '../../core/scoring';
import { ObjectRunStore } from '../../store/object-run-store';
import type { ObjectStore } from '../../store/objects';
import { testRunConfig } from './run-config';
import { EVOLFORGE_RELEASE } from '../../core/release';

export interface StoreUnderTest {
  /** A fresh, empty place: a new directory, or a new prefix in a bucket. */
  objects: ObjectStore;
  cleanup(): Promise<void>;
}

const ZERO = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };

export function lineageOf(runId: string, instructionId: string, final = `final of ${instructionId}`): Lineage {
  const step: LineageStep = {
    round: 1,
    operation: 'add-constraints',
    parent: `seed ${instructionId}`,
    instruction: final,
    response: `answer to ${final}`,
    verdict: { passed: true },
    usage: ZERO,
    costUsd: 0,
  };
  return {
    runId,
    instructionId,
    seed: `seed ${instructionId}`,
    status: 'completed',
    rounds: 1,
    steps: [step],
    final,
    usage: ZERO,
    costUsd: 0,
  };
}

export function metaOf(runId: string, seedCount: number, createdAt = new Date().toISOString()): RunMeta {
  return {
    runId,
    createdAt,
    inputFile: 'inline',
    seedCount,
    invalidRows: 0,
    duplicateRows: 0,
    config: { kind: 'dataset', ...testRunConfig() },
    release: EVOLFORGE_RELEASE,
  };
}

export function seedsOf(count: number): SeedRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `s${i + 1}`,
    text: `Seed instruction number ${i + 1}.`,
    source: { file: 'inline', line: i + 1 },
  }));
}

/** An object store that counts the reads running at once, to hold a store to its promised parallelism. */
function countingReads(objects: ObjectStore) {
  let inFlight = 0;
  let most = 0;
  const counted: ObjectStore = Object.create(objects);
  counted.get = async (key: string) => {
    inFlight++;
    most = Math.max(most, inFlight);
    try {
      return await objects.get(key);
    } finally {
      inFlight--;
    }
  };
  return { objects: counted, most: () => most };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

export function describeStoreConformance(backend: string, open: () => Promise<StoreUnderTest>): void {
  describe(`run store conformance: ${backend}`, () => {
    let place: StoreUnderTest;
    let store: ObjectRunStore;
    beforeEach(async () => {
      place = await open();
      store = new ObjectRunStore(place.objects);
    });
    afterEach(async () => place.cleanup());

    test('a run is created with its seeds, reads back as written, and is listed; its id cannot be taken twice', async () => {
      const meta = metaOf('r1', 3);
      await store.createRun(meta, seedsOf(3));
      expect(await store.runExists('r1')).toBe(true);
      expect(await new ObjectRunStore(place.objects).readMeta('r1')).toEqual(meta);
      expect(await store.seedIds('r1', 0, 2)).toEqual(['s1', 's2']);
      expect(await store.seedIds('r1', 2, 2)).toEqual(['s3']);
      expect((await store.seed('r1', 's2')).text).toBe('Seed instruction number 2.');
      await expect(store.createRun(metaOf('r1', 1), seedsOf(1))).rejects.toThrow(/run "r1" already exists/);
      expect(await new ObjectRunStore(place.objects).seedIds('r1', 0, 10)).toHaveLength(3);
      expect((await store.listRuns()).runs.map((r) => r.runId)).toEqual(['r1']);
    });

    test('a run appears whole or not at all: seeds written without their meta are no run, and the id stays free', async () => {
      await place.objects.put('half/seeds.jsonl', JSON.stringify(seedsOf(1)[0]) + '\n');
      expect(await store.runExists('half')).toBe(false);
      await expect(store.readMeta('half')).rejects.toThrow(/no run "half"/);
      const listing = await store.listRuns();
      expect(listing.runs).toEqual([]);
      expect(listing.unreadable).toEqual([
        { runId: 'half', reason: expect.stringMatching(/half\/meta\.json is missing: the run was not fully created/) },
      ]);
      await store.createRun(metaOf('half', 2), seedsOf(2));
      expect(await store.seedIds('half', 0, 10)).toEqual(['s1', 's2']);
    });

    test('a damaged meta.json is named, with what to do, in the run list and when read', async () => {
      await store.createRun(metaOf('good', 1, '2026-01-01T00:00:00.000Z'), seedsOf(1));
      await store.createRun(metaOf('broken', 1), seedsOf(1));
      await place.objects.put('broken/meta.json', '{"runId": "broken",');
      const fresh = new ObjectRunStore(place.objects);
      await expect(fresh.readMeta('broken')).rejects.toThrow(/broken\/meta\.json: not valid JSON .*restore it/);
      const { runs, unreadable } = await fresh.listRuns();
      expect(runs.map((r) => r.runId)).toEqual(['good']);
      expect(unreadable).toEqual([{ runId: 'broken', reason: expect.stringMatching(/not valid JSON/) }]);
    });

    test('a record is written once: a second write of the same id changes nothing', async () => {
      await store.createRun(metaOf('r1', 1), seedsOf(1));
      expect(await store.hasRecord('r1', 's1')).toBe(false);
      expect(await store.record('r1', 's1')).toBeUndefined();
      expect(await store.saveRecord(lineageOf('r1', 's1', 'first'))).toBe('written');
      expect(await store.saveRecord(lineageOf('r1', 's1', 'second'))).toBe('exists');
      expect(await store.hasRecord('r1', 's1')).toBe(true);
      expect((await store.record('r1', 's1'))?.final).toBe('first');
      await store.deleteRecord('r1', 's1');
      expect(await store.hasRecord('r1', 's1')).toBe(false);
      expect(await store.saveRecord(lineageOf('r1', 's1', 'third'))).toBe('written');
      expect((await collect(store.records('r1'))).map((r) => r.final)).toEqual(['third']);
    });

    test('writers racing for one record: exactly one writes it, and its text is the one kept', async () => {
      await store.createRun(metaOf('r1', 1), seedsOf(1));
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.saveRecord(lineageOf('r1', 's1', `writer ${i}`))),
      );
      expect(outcomes.filter((o) => o === 'written')).toHaveLength(1);
      const winner = outcomes.indexOf('written');
      expect((await store.record('r1', 's1'))?.final).toBe(`writer ${winner}`);
    });

    test('1,100 records are listed a page at a time, each once, read with bounded parallelism', async () => {
      await store.createRun(metaOf('big', 1100), seedsOf(1100));
      const ids = Array.from({ length: 1100 }, (_, i) => `s${i + 1}`);
      for (let at = 0; at < ids.length; at += 50) {
        await Promise.all(ids.slice(at, at + 50).map((id) => store.saveRecord(lineageOf('big', id))));
      }
      await store.saveFailedAttempt({ ...lineageOf('big', 's1'), status: 'failed' });
      const pages: number[] = [];
      for await (const page of place.objects.list('big/records/')) pages.push(page.length);
      expect(Math.max(...pages)).toBeLessThanOrEqual(1000);
      expect(pages.reduce((a, b) => a + b, 0)).toBe(1100);
      const counting = countingReads(place.objects);
      const read = await collect(new ObjectRunStore(counting.objects).records('big'));
      expect(read.map((r) => r.instructionId).sort()).toEqual([...ids].sort());
      expect(counting.most()).toBeGreaterThan(1);
      expect(counting.most()).toBeLessThanOrEqual(place.objects.readParallelism);
    });

    test('a failed attempt is kept for evol retry, replaced by the next one, and is not a record', async () => {
      await store.createRun(metaOf('r1', 1), seedsOf(1));
      expect(await store.failedAttempt('r1', 's1')).toBeUndefined();
      await store.saveFailedAttempt({ ...lineageOf('r1', 's1', 'one'), status: 'failed' });
      await store.saveFailedAttempt({ ...lineageOf('r1', 's1', 'two'), status: 'failed' });
      expect((await store.failedAttempt('r1', 's1'))?.final).toBe('two');
      expect(await store.hasRecord('r1', 's1')).toBe(false);
      expect(await collect(store.records('r1'))).toEqual([]);
    });

    test('scores are written once per row; the plan is replaced and is not a score', async () => {
      await store.createRun(metaOf('r1', 1), seedsOf(1));
      const score = (rowId: string, difficulty: number): RowScore => ({
        rowId,
        seedId: 's1',
        round: 1,
        difficulty,
        complexity: difficulty,
        model: 'm',
      });
      expect(await store.scorePlan('r1')).toEqual([]);
      expect(await store.saveScore('r1', score('s1:1', 4))).toBe('written');
      expect(await store.saveScore('r1', score('s1:1', 9))).toBe('exists');
      expect(await store.saveScore('r1', score('s1:0', 2))).toBe('written');
      await store.saveScorePlan('r1', ['s1:0']);
      await store.saveScorePlan('r1', ['s1:0', 's1:1']);
      expect(await store.scorePlan('r1')).toEqual(['s1:0', 's1:1']);
      expect((await store.score('r1', 's1:1'))?.difficulty).toBe(4);
      expect((await collect(store.scores('r1'))).map((s) => s.rowId).sort()).toEqual(['s1:0', 's1:1']);
    });

    test('method versions are written once per step and read oldest first', async () => {
      await store.createRun(metaOf('r1', 1), seedsOf(1));
      const version = (step: number, savedAt: string, method = `method ${step}`): MethodVersion => ({
        runId: 'r1',
        learningId: 'l1',
        step,
        method,
        failureRate: 0.5,
        failures: 1,
        devSize: 2,
        origin: step === 0 ? 'initial' : 'adopted',
        savedAt,
      });
      expect(await store.saveMethodVersion('r1', version(1, '2026-01-01T00:00:02Z'))).toBe('written');
      expect(await store.saveMethodVersion('r1', version(0, '2026-01-01T00:00:01Z'))).toBe('written');
      expect(await store.saveMethodVersion('r1', version(1, '2026-01-01T00:00:03Z', 'other'))).toBe('exists');
      expect((await store.methodVersions('r1')).map((v) => [v.step, v.method])).toEqual([
        [0, 'method 0'],
        [1, 'method 1'],
      ]);
    });

    test('Batch API rows and their answers are written once each', async () => {
      await store.createRun(metaOf('r1', 1), seedsOf(1));
      const request = { customId: 'c/1 x', workflowId: 'w', role: 'judge' as const, line: '{"custom_id":"c/1 x"}' };
      expect(await store.batchRequest('r1', request.customId)).toBeUndefined();
      expect(await store.saveBatchRequest('r1', request)).toBe('written');
      expect(await store.saveBatchRequest('r1', { ...request, line: 'other' })).toBe('exists');
      expect(await store.batchRequest('r1', request.customId)).toEqual(request);
      const result = { customId: request.customId, batchId: 'b1', body: { choices: [] } } as never;
      expect(await store.saveBatchResult('r1', result)).toBe('written');
      expect(await store.saveBatchResult('r1', { ...(result as object), batchId: 'b2' } as never)).toBe('exists');
      expect(await store.batchResult('r1', request.customId)).toEqual(result);
    });

    test('a run id that is not a safe name is refused before anything is read or written', async () => {
      await expect(store.readMeta('../escape')).rejects.toThrow(/not a usable run id/);
      await expect(store.createRun(metaOf('a/b', 1), seedsOf(1))).rejects.toThrow(/not a usable run id/);
    });

    test('a damaged record is named with the object it came from', async () => {
      await store.createRun(metaOf('r1', 1), seedsOf(1));
      await store.saveRecord(lineageOf('r1', 's1'));
      const [key] = (await collect(place.objects.list('r1/records/'))).flat();
      await place.objects.put(key, '{"runId":');
      await expect(store.record('r1', 's1')).rejects.toThrow(
        new RegExp(`${key.replace(/[.%]/g, '\\$&')}: not valid JSON`),
      );
    });
  });
}

/** Helpers for dataset-run tests: make a run in a store from texts, and wait for its progress. */
import path from 'node:path';
import fs from 'node:fs';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { createDatasetRun, startDatasetRun } from '../../client/api';
import type { DatasetRunConfig, RunProgress } from '../../core/dataset';
import { runWorkflowIds, type RunWorkflowIds } from '../../core/ids';
import type { LlmConfig } from '../../core/endpoints';
import type { SeedRecord } from '../../core/run';
import type { RunStore } from '../../store/types';
import { progressQuery } from '../../core/messages';
import { testRunConfig } from './run-config';
import { eventually } from './temporal';

export { testRunConfig };
export { sharedDataFile } from './shared-data';

/** The workflow ids of a run created now (tests create theirs with the current scheme). */
export function idsOf(runId: string): RunWorkflowIds {
  return runWorkflowIds(runId);
}

export function seedsFromTexts(texts: string[], file = 'inline.jsonl'): SeedRecord[] {
  return texts.map((text, i) => ({ id: `s${i + 1}`, text, source: { file, line: i + 1 } }));
}

/** Distinct, plausible seed instructions. */
export function sampleTexts(n: number, tag: string): string[] {
  const topics = ['tides', 'volcanoes', 'compilers', 'bread baking', 'chess openings', 'tax returns', 'bird migration'];
  // A made-up word unique to each text, first among its salient words: the simulated LLM builds in-breadth
  // rewrites from the first two, so two seeds never get the same new task. (A rewrite may still drop the word, so
  // tests that tell calls apart by instruction also match on text from the records.)
  const name = (i: number) =>
    `vel${[2, 1, 0].map((p) => String.fromCharCode(97 + (Math.floor(i / 26 ** p) % 26))).join('')}`;
  return Array.from(
    { length: n },
    (_, i) => `Explain the ${name(i)} example of ${topics[i % topics.length]} to a beginner (${tag} ${i + 1}).`,
  );
}

export async function startRun(options: {
  client: Client;
  store: RunStore;
  taskQueue: string;
  runId: string;
  seeds: SeedRecord[];
  llm: LlmConfig;
  config?: Partial<DatasetRunConfig>;
}): Promise<WorkflowHandle> {
  const config = testRunConfig(options.llm, options.config);
  const meta = await createDatasetRun(options.store, {
    runId: options.runId,
    inputFile: 'inline',
    seeds: options.seeds,
    config,
  });
  return startDatasetRun(options.client, options.taskQueue, meta);
}

export function waitForProgress(
  handle: WorkflowHandle,
  predicate: (p: RunProgress) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<RunProgress> {
  return eventually(
    async () => {
      const progress = await handle.query(progressQuery);
      return predicate(progress) ? progress : undefined;
    },
    what,
    timeoutMs,
  );
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Records written so far in a run's records directory (readable while no worker runs). */
export async function recordCount(recordsDir: string): Promise<number> {
  const shards = await fs.promises.readdir(recordsDir).catch(() => [] as string[]);
  let n = 0;
  for (const shard of shards) {
    n += (await fs.promises.readdir(path.join(recordsDir, shard))).filter((f) => f.endsWith('.json')).length;
  }
  return n;
}

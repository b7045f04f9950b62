/**
 * Moves a run between stores (a laptop's directory and a bucket, either way): every object of the run, its
 * meta.json last and once, so the run appears at the destination whole or not at all, and a copy cut short can be
 * run again. Meant for a run whose workers are stopped or paused: what is written meanwhile may be missed.
 */
import { UserError } from '../core/validation';
import { checkRunId } from './object-run-store';
import { readInOrder, type ObjectStore } from './objects';

export interface CopyResult {
  objects: number;
  bytes: number;
}

export async function copyRun(
  from: ObjectStore,
  to: ObjectStore,
  runId: string,
  onProgress: (copied: number) => void = () => undefined,
): Promise<CopyResult> {
  const meta = `${checkRunId(runId)}/meta.json`;
  const metaText = await from.get(meta);
  if (metaText === undefined) throw new UserError(`no run "${runId}" in ${from.location}: \`evol runs\` lists them`);
  if (await to.exists(meta)) {
    throw new UserError(
      `run "${runId}" is already in ${to.location}: nothing copied (remove it there first to copy again)`,
    );
  }
  const parallelism = Math.min(from.readParallelism, to.readParallelism);
  let objects = 0;
  let bytes = 0;
  for await (const page of from.list(`${runId}/`)) {
    const keys = page.filter((key) => key !== meta);
    for await (const size of readInOrder(keys, parallelism, async (key) => {
      const text = await from.get(key);
      if (text === undefined) return 0; // removed since listed (a record `evol retry` replaced)
      await to.put(key, text);
      return Buffer.byteLength(text);
    })) {
      objects++;
      bytes += size;
    }
    onProgress(objects);
  }
  if ((await to.putOnce(meta, metaText)) === 'exists') {
    throw new UserError(`run "${runId}" appeared in ${to.location} while it was being copied: nothing replaced`);
  }
  return { objects: objects + 1, bytes: bytes + Buffer.byteLength(metaText) };
}

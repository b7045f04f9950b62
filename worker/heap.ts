/** The worker process's heap: how far it may grow between full garbage collections. */
import v8 from 'node:v8';
import { UserError } from '../core/validation';

/**
 * How far V8 may let the heap grow past what was live after a full garbage collection, in percent. V8's own choice
 * grows it up to 4x: a worker's RSS peaked anywhere from 420 to 630 MB at 1,000 seeds, mostly garbage waiting for
 * the next collection. At 40 % it stays under 400 MB for a few percent more of the worker's CPU (bench/README.md).
 */
export const DEFAULT_HEAP_GROWING_PERCENT = 40;

/**
 * Bounds the heap's growth for the whole process (main thread and workflow threads: V8 reads the flag at every
 * full collection). EVOL_HEAP_GROWING_PERCENT overrides the default; 0 leaves it to V8.
 */
export function limitHeapGrowth(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.EVOL_HEAP_GROWING_PERCENT?.trim();
  const percent = raw ? Number(raw) : DEFAULT_HEAP_GROWING_PERCENT;
  if (!Number.isInteger(percent) || percent < 0) {
    throw new UserError(
      `EVOL_HEAP_GROWING_PERCENT must be a whole number of percent (0 leaves it to V8), not "${raw}": fix or unset it`,
    );
  }
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}

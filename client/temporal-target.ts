/**
 * Where Temporal is: the standard TEMPORAL_* settings and profiles (via @temporalio/envconfig)
 * when given, else the embedded dev server on 127.0.0.1:7233 that EvolForge starts itself; and how long a command
 * waits for a worker there to answer.
 */
import { loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { UserError } from '../core/validation';

export const EMBEDDED_ADDRESS = '127.0.0.1:7233';

export interface TemporalTarget {
  connectionOptions: NativeConnectionOptions;
  namespace: string;
  /** True when nothing is configured and EvolForge runs its own dev server. */
  embedded: boolean;
}

export function resolveTemporalTarget(): TemporalTarget {
  let profile;
  try {
    profile = loadClientConfigProfile();
  } catch (err) {
    throw new UserError(
      `cannot read the Temporal connection settings (TEMPORAL_* variables or the TEMPORAL_CONFIG_FILE profile): ${(err as Error).message}`,
    );
  }
  const { connectionOptions, namespace } = toClientOptions(profile);
  if (!profile.address) {
    return { connectionOptions: { address: EMBEDDED_ADDRESS }, namespace: namespace ?? 'default', embedded: true };
  }
  return { connectionOptions, namespace: namespace ?? 'default', embedded: false };
}

/** The address without credentials, for messages. */
export function describeTarget(target: TemporalTarget): string {
  return `${target.connectionOptions.address} (namespace ${target.namespace}${target.embedded ? ', embedded dev server' : ''})`;
}

/** How long a command waits for a worker to answer a run's workflow, by default: a worker restart fits in it. */
export const DEFAULT_WORKER_WAIT_SECONDS = 60;

/** EVOL_WORKER_WAIT_SECONDS, checked: how long to wait for a worker before saying none answers. */
export function workerWaitMsOf(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.EVOL_WORKER_WAIT_SECONDS?.trim();
  if (!raw) return DEFAULT_WORKER_WAIT_SECONDS * 1000;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new UserError(
      `EVOL_WORKER_WAIT_SECONDS is "${raw}": give a number of seconds, 0 or more (default ${DEFAULT_WORKER_WAIT_SECONDS})`,
    );
  }
  return seconds * 1000;
}

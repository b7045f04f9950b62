/**
 * Where the run store lives: `--store` where a command takes one, else EVOL_STORE (`s3://bucket/prefix`, or a
 * directory), else EVOL_STORE_DIR, else `runs/` in the data dir (EVOL_DATA_DIR or `.evolforge`).
 */
import path from 'node:path';
import { FileObjects } from './file-objects';
import { ObjectRunStore } from './object-run-store';
import type { ObjectStore, ObjectStoreOptions } from './objects';
import { isS3Url, S3Objects } from './s3-objects';
import type { RunStore } from './types';

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.EVOL_DATA_DIR ?? '.evolforge');
}

export function defaultStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.EVOL_STORE_DIR ?? path.join(defaultDataDir(env), 'runs'));
}

/** The store's location as given (an `s3://` URL) or resolved (a directory). */
export function storeLocation(given?: string, env: NodeJS.ProcessEnv = process.env): string {
  const location = given?.trim() || env.EVOL_STORE?.trim();
  if (!location) return defaultStoreDir(env);
  return isS3Url(location) ? location : path.resolve(location);
}

/** The objects at a location: a directory, or a bucket and prefix (S3 settings from `env`). */
export function openObjectStore(
  location: string,
  env: NodeJS.ProcessEnv = process.env,
  options: ObjectStoreOptions = {},
): ObjectStore {
  return isS3Url(location) ? new S3Objects(location, env, options) : new FileObjects(location);
}

/**
 * Opens the run store at a location (default: {@link storeLocation}); S3 settings come from `env`, and
 * `options.onRequest` hears of each request a bucket is sent.
 */
export function openRunStore(
  location: string = storeLocation(),
  env: NodeJS.ProcessEnv = process.env,
  options: ObjectStoreOptions = {},
): RunStore {
  return new ObjectRunStore(openObjectStore(location, env, options));
}

/** Where the run store lives: EVOL_STORE_DIR, else `runs/` in the data dir (EVOL_DATA_DIR or `.evolforge`). */
import path from 'node:path';

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.EVOL_DATA_DIR ?? '.evolforge');
}

export function defaultStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.EVOL_STORE_DIR ?? path.join(defaultDataDir(env), 'runs'));
}

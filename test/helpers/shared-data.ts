/**
 * The shared seed sets (written by others), for tests of either tier: found through EVOL_SHARED_DATA, default
 * ../shared/data. Imports nothing of Temporal, so the unit tier can use it.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The file's path, or undefined (with a warning) when it is missing outside CI; in CI a missing file fails. */
export function sharedDataFile(name: string): string | undefined {
  const dir = process.env.EVOL_SHARED_DATA ?? path.resolve(__dirname, '..', '..', '..', 'shared', 'data');
  const file = path.join(dir, name);
  if (fs.existsSync(file)) return file;
  const message = `shared data file ${file} is missing (set EVOL_SHARED_DATA to the folder that holds it)`;
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`skipping: ${message}`);
  return undefined;
}

/** Jest global teardown: stops the dev server global setup started and removes its temp files. */
import { promises as fs } from 'node:fs';
import { testGlobals } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const globals = testGlobals();
  try {
    await globals.server?.stop();
  } finally {
    if (globals.tempDir) await fs.rm(globals.tempDir, { recursive: true, force: true });
    globals.server = undefined;
    globals.tempDir = undefined;
  }
}

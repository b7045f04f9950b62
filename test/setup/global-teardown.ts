/** Jest global teardown: stops the servers global setup started (Temporal, S3) and removes their temp files. */
import { promises as fs } from 'node:fs';
import { testGlobals } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const globals = testGlobals();
  try {
    await Promise.all([globals.server?.stop(), globals.s3Server?.stop()]);
  } finally {
    if (globals.tempDir) await fs.rm(globals.tempDir, { recursive: true, force: true });
    globals.server = undefined;
    globals.s3Server = undefined;
    globals.tempDir = undefined;
  }
}

/**
 * Where a worker takes its workflow code from: the bundle `npm run build` wrote (scripts/bundle-workflows.ts), or,
 * when it is missing or older than the compiled workflow code it was made from, a bundle made at start. The bundle's
 * text names the worker's build (worker/versioning.ts).
 */
import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export const WORKFLOWS_ENTRY = require.resolve('../workflows');
/** dist/workflow-bundle.js beside dist/worker. */
export const WORKFLOW_BUNDLE_FILE = path.resolve(__dirname, '..', 'workflow-bundle.js');

/** The code a workflow bundle is made from: workflows/ and the core/ modules they import. */
const SOURCE_DIRS = ['workflows', 'core'].map((dir) => path.resolve(__dirname, '..', dir));

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(file) : statSync(file).mtimeMs);
  }
  return newest;
}

/**
 * How every workflow bundle is made (at build, at a worker's start, in the tests). zod is left out: a worker
 * evaluates the bundle's modules again for each workflow it creates, and zod with the settings schemas cost about a
 * fifth of the workflow thread's time (core/settings-schemas.ts). Workflow code that used zod would find it empty
 * (webpack's "(ignored)" module): every workflow task fails at once, with the error, rather than every workflow
 * running slowly.
 */
export const WORKFLOW_BUNDLER_OPTIONS = { ignoreModules: ['zod'] };

/**
 * The workflow bundle a worker runs: the one `npm run build` wrote, or, when it is missing or older than the compiled
 * workflow code it was made from, one made now (seconds, and about 200 MB that webpack keeps for the worker's life).
 */
export async function loadWorkflowBundle(): Promise<{ code: string }> {
  try {
    const built = statSync(WORKFLOW_BUNDLE_FILE).mtimeMs;
    if (SOURCE_DIRS.every((dir) => newestMtimeMs(dir) <= built)) {
      return { code: await readFile(WORKFLOW_BUNDLE_FILE, 'utf8') };
    }
  } catch {
    // No bundle (running from source, or built without it): bundle now.
  }
  const { bundleWorkflowCode, DefaultLogger } = await import('@temporalio/worker');
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_ENTRY,
    logger: new DefaultLogger('WARN'),
    ...WORKFLOW_BUNDLER_OPTIONS,
  });
  return { code };
}

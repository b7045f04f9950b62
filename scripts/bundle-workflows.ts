/**
 * Bundles the workflow code once, at build time (`npm run build`), into dist/workflow-bundle.js, which workers
 * load instead of bundling at every start: bundling takes seconds and leaves the worker about 200 MB larger for
 * its whole life (webpack's memory is not given back). The worker falls back to bundling at start when the file is
 * missing or older than the compiled workflow code (worker/workflow-source.ts).
 */
import { promises as fs } from 'node:fs';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_FILE, WORKFLOW_BUNDLER_OPTIONS, WORKFLOWS_ENTRY } from '../worker/workflow-source';

async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_ENTRY,
    ...WORKFLOW_BUNDLER_OPTIONS,
    logger: new DefaultLogger('WARN'),
  });
  await fs.writeFile(WORKFLOW_BUNDLE_FILE, code);
  console.log(`wrote ${WORKFLOW_BUNDLE_FILE} (${Math.round(code.length / 1024)} KB)`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

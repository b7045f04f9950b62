/**
 * Jest global setup: one real Temporal dev server (with its Web UI) and one workflow bundle for the whole run.
 * Tests find them through EVOL_TEST_TEMPORAL_ADDRESS, EVOL_TEST_TEMPORAL_UI, EVOL_TEST_TEMPORAL_CLI and
 * EVOL_TEST_WORKFLOW_BUNDLE (a file to load as `workflowBundle: { codePath }`). Only the integration tier runs it
 * (jest.config.js): the unit tier needs neither a server nor the build.
 */
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findFreePorts, startDevServer, type DevServer } from '../../server/dev-server';
import { ensureTemporalCli } from '../../server/temporal-cli';
import { WORKFLOW_BUNDLER_OPTIONS } from '../../worker/workflow-source';

/** What global setup leaves on globalThis for global teardown (they run in the same process). */
export interface EvolTestGlobals {
  server?: DevServer;
  tempDir?: string;
}

/** History length at which the test server suggests continue-as-new. */
export const TEST_SUGGEST_CONTINUE_AS_NEW = 300;

export const GLOBALS_KEY = '__evolforgeTestGlobals';

export function testGlobals(): EvolTestGlobals {
  const holder = globalThis as unknown as Record<string, EvolTestGlobals | undefined>;
  return (holder[GLOBALS_KEY] ??= {});
}

const stderr = (line: string) => process.stderr.write(`${line}\n`);

/** The built CLI the integration tests run as a user would (test/helpers/worker-process.ts). */
const BUILT_CLI = path.resolve(__dirname, '../../dist/client/cli.js');

export default async function globalSetup(): Promise<void> {
  if (!existsSync(BUILT_CLI)) {
    // Fail before a server is started, not test by test with a spawn error.
    throw new Error(`${BUILT_CLI} is missing: the integration tests run the built CLI; run \`npm run build\` first`);
  }
  const globals = testGlobals();
  const tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'evolforge-test-'));
  globals.tempDir = tempDir;
  try {
    await startServer(globals, tempDir);
    const workflowsIndex = path.resolve(__dirname, '../../workflows/index.ts');
    if (existsSync(workflowsIndex)) {
      process.env.EVOL_TEST_WORKFLOW_BUNDLE = await bundleWorkflows(workflowsIndex, tempDir);
    }
  } catch (err) {
    // Jest skips global teardown when global setup throws, so clean up here.
    await globals.server?.stop();
    await fs.rm(tempDir, { recursive: true, force: true });
    throw err;
  }
}

async function startServer(globals: EvolTestGlobals, tempDir: string): Promise<void> {
  const cliPath = await ensureTemporalCli({ log: stderr });
  const [port, uiPort] = await findFreePorts(2);
  const server = await startDevServer({
    cliPath,
    dataDir: path.join(tempDir, 'temporal'),
    port,
    uiPort,
    reuseExisting: false,
    // Low, so dataset runs in tests continue as new several times (an instruction workflow stays far below it).
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': TEST_SUGGEST_CONTINUE_AS_NEW },
  });
  globals.server = server;
  process.env.EVOL_TEST_TEMPORAL_ADDRESS = server.address;
  process.env.EVOL_TEST_TEMPORAL_UI = server.uiUrl ?? '';
  process.env.EVOL_TEST_TEMPORAL_CLI = cliPath;
  stderr(`\nTemporal dev server for tests: ${server.address}, UI ${server.uiUrl}, log ${server.logFile}`);
}

async function bundleWorkflows(workflowsPath: string, tempDir: string): Promise<string> {
  // Loaded only here: it pulls in the native core bridge and webpack, which plain unit-test runs do not need.
  const { bundleWorkflowCode, DefaultLogger } = await import('@temporalio/worker');
  let bundle: Awaited<ReturnType<typeof bundleWorkflowCode>>;
  try {
    bundle = await bundleWorkflowCode({
      workflowsPath,
      logger: new DefaultLogger('WARN'),
      ...WORKFLOW_BUNDLER_OPTIONS,
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`Bundling ${workflowsPath} for the tests failed; fix the workflow code first.\n${message}`);
  }
  const codePath = path.join(tempDir, 'workflow-bundle.js');
  await fs.writeFile(codePath, bundle.code);
  return codePath;
}

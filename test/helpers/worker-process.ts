/** A real `evol worker` in its own process, so tests can SIGKILL it mid-run. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultLogFile } from '../../worker/runtime';

export const CLI = path.resolve(__dirname, '..', '..', 'dist', 'client', 'cli.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `evol ARGS` in a process of its own with only `env` (PATH and HOME added), as a user would from `cwd`; its
 * exit code, not an exception, says how it ended.
 */
export function runCli(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }) {
  return new Promise<CliResult>((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        cwd: options.cwd,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
        timeout: options.timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: unknown }).code as number) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

/** A command started by {@link spawnCli}: what it has printed so far, and how it ends. */
export interface CliProcess {
  /** Its stdout and stderr so far, interleaved. */
  output(): string;
  ended: Promise<CliResult>;
  kill(): void;
}

/**
 * Starts `evol ARGS` as {@link runCli} does, without waiting for it: a test can act while it runs (start a worker,
 * pause the run) and read its output as it comes.
 */
export function spawnCli(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => ((stdout += chunk.toString()), (output += chunk.toString())));
  child.stderr!.on('data', (chunk: Buffer) => ((stderr += chunk.toString()), (output += chunk.toString())));
  const ended = new Promise<CliResult>((resolve) =>
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr })),
  );
  return {
    output: () => output,
    ended,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

export interface WorkerProcess {
  child: ChildProcess;
  /** Its Temporal worker identity (the SDK's default, `pid@host`), as pending activities name it. */
  identity: string;
  /** What it printed to the terminal. */
  output(): string;
  /** Its log file (warnings and stack traces go there, not to the terminal). */
  logFile: string;
  log(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startWorkerProcess(options: {
  address: string;
  taskQueue: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Its working directory. Default: the test's. */
  cwd?: string;
  /**
   * Give it only PATH, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and `env` (which should name HOME), as on a machine of its
   * own, and no EVOL_DATA_DIR: its data dir is then `.evolforge` in `cwd`. Default: the test's environment, plus a
   * data dir of its own.
   */
  cleanEnv?: boolean;
}): Promise<WorkerProcess> {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const temporal = { TEMPORAL_ADDRESS: options.address, TEMPORAL_NAMESPACE: 'default' };
  let env: NodeJS.ProcessEnv;
  let dataDir: string;
  if (options.cleanEnv) {
    env = { PATH: process.env.PATH, ...temporal, ...options.env };
    dataDir = env.EVOL_DATA_DIR ? path.resolve(cwd, env.EVOL_DATA_DIR) : path.join(cwd, '.evolforge');
  } else {
    // Its own data dir (for its log file), unless the test gives one.
    dataDir = options.env?.EVOL_DATA_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-worker-'));
    env = { ...process.env, ...temporal, EVOL_DATA_DIR: dataDir, ...options.env };
  }
  const child = spawn(process.execPath, [CLI, 'worker', '--task-queue', options.taskQueue, '--max-concurrent', '64'], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Collected for the whole life of the process, not only until it polls.
  const onData = (chunk: Buffer) => (output += chunk.toString());
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${output}`)), options.timeoutMs ?? 60_000);
    const onPolling = () => {
      if (output.includes('Worker polling')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onPolling);
    child.stderr!.on('data', onPolling);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before polling:\n${output}`));
    });
  });
  const logFile = defaultLogFile(dataDir);
  return {
    child,
    identity: `${child.pid}@${os.hostname()}`,
    output: () => output,
    logFile,
    log: () => {
      try {
        return fs.readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

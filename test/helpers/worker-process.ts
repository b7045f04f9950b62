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

export interface WorkerProcess {
  child: ChildProcess;
  /** What it printed to the terminal. */
  output(): string;
  /** Its log file (warnings and stack traces go there, not to the terminal). */
  log(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startWorkerProcess(options: {
  address: string;
  taskQueue: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}): Promise<WorkerProcess> {
  // Its own data dir (for its log file), unless the test gives one.
  const dataDir = options.env?.EVOL_DATA_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-worker-'));
  const child = spawn(process.execPath, [CLI, 'worker', '--task-queue', options.taskQueue, '--max-concurrent', '64'], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: options.address,
      TEMPORAL_NAMESPACE: 'default',
      EVOL_DATA_DIR: dataDir,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${output}`)), options.timeoutMs ?? 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Worker polling')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before polling:\n${output}`));
    });
  });
  return {
    child,
    output: () => output,
    log: () => {
      try {
        return fs.readFileSync(defaultLogFile(dataDir), 'utf8');
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

/**
 * Gets a command what it needs to run work: a Temporal connection (starting the embedded dev
 * server in the background when nothing is configured) and, where wanted, a worker in this process.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { defaultLogFile, installQuietRuntime, runtimeLogFile } from '../worker/runtime';
import { dataConverterFor, loadCodecFromEnv } from '../codec/aes-gcm';
import { defaultDataDir } from '../store/location';
import { startDevServer, uiWorkflowsUrl } from '../server/dev-server';
import { ensureTemporalCli } from '../server/temporal-cli';
import { createEvolWorker, DEFAULT_TASK_QUEUE, type EvolWorker } from '../worker';
import type { WorkerWait } from './api';
import { describeTarget, resolveTemporalTarget, workerWaitMsOf, type TemporalTarget } from './temporal-target';
import { becomeCurrent } from './workers';

export interface SessionOptions {
  /** Where the embedded server keeps its SQLite file and logs. Default: `.evolforge` in cwd. */
  dataDir?: string;
  taskQueue?: string;
  /** Run a worker in this process: 'auto' does so on the embedded default only. */
  worker?: 'auto' | 'always' | 'never';
  /** Let the Temporal runtime stop the worker on SIGINT/SIGTERM (false: the command handles Ctrl-C). Default true. */
  handleSignals?: boolean;
  /** Progress lines (stderr by default, so --json output stays clean). */
  log?: (line: string) => void;
  /** Print the worker log to the terminal as well as to its file. */
  verbose?: boolean;
}

export interface Session {
  client: Client;
  target: TemporalTarget;
  taskQueue: string;
  /** How long a query of a run's workflow waits for a worker when none answers (EVOL_WORKER_WAIT_SECONDS). */
  workerWait: WorkerWait;
  /** The Temporal UI, when known (the embedded server's, or TEMPORAL_UI_URL). */
  uiUrl?: string;
  worker?: EvolWorker;
  /** Runs the in-process worker (if any) until `fn` settles. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export { defaultDataDir } from '../store/location';

export async function openSession(options: SessionOptions = {}): Promise<Session> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const target = resolveTemporalTarget();
  // Read before anything starts, so a bad key setting fails the command at once.
  const dataConverter = dataConverterFor(loadCodecFromEnv());
  const taskQueue = options.taskQueue ?? process.env.EVOL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE;
  const workerWaitMs = workerWaitMsOf();
  let uiUrl = process.env.TEMPORAL_UI_URL;
  if (target.embedded) {
    const cli = await ensureTemporalCli({ log });
    const server = await startDevServer({
      dataDir: options.dataDir ?? defaultDataDir(),
      detached: true,
      cliPath: cli,
      log,
    });
    uiUrl ??= server.uiUrl;
    log(
      server.reused
        ? `Using the Temporal dev server already running at ${server.address}.`
        : `Started the Temporal dev server at ${server.address} in the background (data in ${options.dataDir ?? defaultDataDir()}; stop it with \`evol server stop\`).`,
    );
  } else {
    log(`Using Temporal at ${describeTarget(target)}.`);
  }
  const connection = await Connection.connect(target.connectionOptions);
  const client = new Client({ connection, namespace: target.namespace, dataConverter });

  const wantWorker = options.worker === 'always' || (options.worker !== 'never' && target.embedded);
  let worker: EvolWorker | undefined;
  let nativeConnection: NativeConnection | undefined;
  try {
    if (wantWorker) {
      installQuietRuntime({
        handleSignals: options.handleSignals ?? true,
        logFile: defaultLogFile(options.dataDir ?? defaultDataDir()),
        verbose: options.verbose,
      });
      const logFile = runtimeLogFile();
      if (logFile) log(`Worker log (warnings, LLM faults, stack traces): ${logFile}`);
      nativeConnection = await NativeConnection.connect(target.connectionOptions);
      worker = await createEvolWorker({
        connection: nativeConnection,
        namespace: target.namespace,
        taskQueue,
        dataConverter,
      });
    }
  } catch (err) {
    await nativeConnection?.close();
    await connection.close();
    throw err;
  }

  const workerWait: WorkerWait = {
    waitMs: workerWaitMs,
    where: describeTarget(target),
    onWaiting: (queue, waitMs) =>
      log(
        `No worker answers on task queue "${queue}" yet (one restarting?): waiting up to ${Math.round(waitMs / 1000)} s for one (EVOL_WORKER_WAIT_SECONDS).`,
      ),
  };
  return {
    client,
    target,
    taskQueue,
    workerWait,
    uiUrl,
    worker,
    run: async (fn) => {
      if (!worker) return fn();
      const own = worker;
      return own.worker.runUntil(async () => {
        // The embedded server's workers are this process's: its build takes the new workflows. Elsewhere the operator
        // decides (`evol workers current`), unless the deployment has no current build yet.
        await becomeCurrent(client, own.version, { always: target.embedded, taskQueue });
        return fn();
      });
    },
    close: async () => {
      await worker?.shutdown();
      await nativeConnection?.close();
      await connection.close();
    },
  };
}

export function uiLink(session: Session, query?: string): string | undefined {
  return session.uiUrl ? uiWorkflowsUrl(session.uiUrl, session.target.namespace, query) : undefined;
}

/**
 * Follows something until it is done or the user presses Ctrl-C once: `follow` gets a promise that resolves on
 * Ctrl-C (it then stops and returns what it has). Nothing is cancelled: the run goes on without us.
 */
export async function untilCtrlC<T>(follow: (interrupted: Promise<void>) => Promise<T>): Promise<T> {
  let onSigint: () => void = () => undefined;
  const interrupted = new Promise<void>((resolve) => (onSigint = resolve));
  process.once('SIGINT', onSigint);
  try {
    return await follow(interrupted);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

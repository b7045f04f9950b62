/**
 * The Temporal runtime for EvolForge's processes. The terminal is for people: commands send the worker's warnings
 * and stack traces (an LLM fault retried, a workflow task failed) to a log file in the data dir, and print them
 * only with --verbose. Tests and scripts without a log file keep warnings on stderr.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime, type LogEntry, type LogLevel } from '@temporalio/worker';
import { UserError } from '../core/validation';
import type { ObjectRequestHook } from '../store/objects';

export interface RuntimeLogOptions {
  /** Let the runtime shut workers down on SIGINT/SIGTERM (commands that follow a run handle Ctrl-C themselves). */
  handleSignals?: boolean;
  /** Append log lines to this file instead of printing them. */
  logFile?: string;
  /** With a log file: print the lines to stderr as well. */
  verbose?: boolean;
  /** Default: EVOL_LOG_LEVEL, else INFO into a file and WARN onto the terminal. */
  level?: LogLevel;
}

/**
 * Where to serve the SDK's Prometheus metrics (workflow task latencies, task slots, the latency of each call to the
 * Temporal server), from EVOL_METRICS_ADDRESS, or undefined for none. A value that is not IP:port is refused.
 */
function metricsAddressOf(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const address = env.EVOL_METRICS_ADDRESS?.trim();
  if (!address) return undefined;
  if (!/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):\d{1,5}$/.test(address)) {
    throw new UserError(
      `EVOL_METRICS_ADDRESS must be an IP address and port (e.g. 127.0.0.1:9464, or 0.0.0.0:9464 for every interface), not "${address}": fix or unset it`,
    );
  }
  return address;
}

let installed: { logFile?: string } | undefined;

/** The log file of this process's runtime, if it writes one. */
export function runtimeLogFile(): string | undefined {
  return installed?.logFile;
}

/** Where commands keep the worker log: `logs/evol.log` in the data dir. */
export function defaultLogFile(dataDir: string): string {
  return path.join(dataDir, 'logs', 'evol.log');
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.stack ?? `${value.name}: ${value.message}`;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value, (_key, v: unknown) =>
        v instanceof Error ? (v.stack ?? v.message) : typeof v === 'bigint' ? v.toString() : v,
      );
    } catch {
      return String(value);
    }
  }
  return String(value);
}

/** One log entry as text: time, level, message, then its attributes (errors with their stacks). */
export function formatLogEntry(entry: LogEntry): string {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const meta = Object.entries(entry.meta ?? {})
    .map(([key, value]) => `${key}=${describe(value)}`)
    .join(' ');
  return `${time} ${entry.level} ${entry.message}${meta ? ` ${meta}` : ''}\n`;
}

function fileLogFunction(file: string, verbose: boolean): (entry: LogEntry) => void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'a');
  return (entry) => {
    const line = formatLogEntry(entry);
    try {
      fs.writeSync(fd, line);
    } catch {
      // A full disk must not take the worker down with it.
    }
    if (verbose) process.stderr.write(line);
  };
}

/**
 * Node's process warnings (a library's notice that it wants a newer Node, a deprecation) go to the log file, not
 * the terminal: the file is created with the first warning, so a command that has none leaves nothing behind.
 */
export function routeProcessWarnings(file: string): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.appendFileSync(file, `${new Date().toISOString()} WARN ${warning.name}: ${warning.message}\n`);
    } catch {
      // A log that cannot be written must not stop the command.
    }
  });
}

/** Installs the runtime once per process; later calls keep the first one's settings. */
export function installQuietRuntime(options: RuntimeLogOptions = {}): void {
  if (installed) return;
  const envLevel = process.env.EVOL_LOG_LEVEL as LogLevel | undefined;
  const level: LogLevel = options.level ?? envLevel ?? (options.logFile ? 'INFO' : 'WARN');
  const logger = options.logFile
    ? new DefaultLogger(level, fileLogFunction(options.logFile, options.verbose ?? false))
    : new DefaultLogger(level);
  const metricsAddress = metricsAddressOf();
  installed = { ...(options.logFile ? { logFile: options.logFile } : {}) };
  Runtime.install({
    ...(options.handleSignals === false ? { shutdownSignals: [] } : {}),
    logger,
    telemetryOptions: {
      ...(metricsAddress
        ? { metrics: { prometheus: { bindAddress: metricsAddress, useSecondsForDurations: false } } }
        : {}),
      logging: {
        filter: {
          core: level === 'DEBUG' || level === 'TRACE' ? level : options.logFile ? 'WARN' : 'ERROR',
          other: 'ERROR',
        },
        forward: {},
      },
    },
  });
}

/** The counters of the run store's requests, as the worker's Prometheus endpoint names them (see storeRequestCounter). */
export const STORE_REQUESTS_METRIC = 'evol_store_requests';
export const STORE_BYTES_METRIC = 'evol_store_request_bytes';

/**
 * Counts the requests this process sends the run store's bucket, by kind (GET, HEAD, PUT, LIST, DELETE), and their
 * body bytes, on the runtime's metric meter: served with the SDK's own metrics at EVOL_METRICS_ADDRESS (as
 * `evol_store_requests{kind="PUT"}` and `evol_store_request_bytes{kind="PUT"}`), nowhere without it. What a bucket
 * bills, for operators and for the bench.
 */
export function storeRequestCounter(): ObjectRequestHook {
  const meter = Runtime.instance().metricMeter;
  const requests = meter.createCounter(STORE_REQUESTS_METRIC, 'requests', "requests sent to the run store's bucket");
  const bytes = meter.createCounter(
    STORE_BYTES_METRIC,
    'bytes',
    'body bytes of those requests, sent (PUT) or received (GET, LIST)',
  );
  return (kind, n) => {
    requests.add(1, { kind });
    if (n > 0) bytes.add(n, { kind });
  };
}

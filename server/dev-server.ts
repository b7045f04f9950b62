/**
 * Starts (or reuses) the Temporal dev server that EvolForge runs on: `temporal server start-dev` on a SQLite file,
 * so runs survive a restart of the server, with EvolForge's search attributes registered.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs, openSync, closeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { SEARCH_ATTRIBUTES } from '../core/search-attributes';
import { ensureTemporalCli } from './temporal-cli';

export interface DevServerOptions {
  /** The `temporal` binary. Default: whatever {@link ensureTemporalCli} finds (or builds). */
  cliPath?: string;
  /** Holds the state (`temporal.sqlite`) and the server's log (`temporal-server.log`). Default `.evolforge` in cwd. */
  dataDir?: string;
  /** Address the frontend (and the UI) bind to. Default `127.0.0.1`. */
  ip?: string;
  /** Frontend gRPC port. Default 7233. */
  port?: number;
  /** Web UI port. Default `port + 1000`. */
  uiPort?: number;
  /** Run without the Web UI. Default false. */
  headless?: boolean;
  /** Namespace to create (or check, when reusing). Default `default`. */
  namespace?: string;
  /**
   * Each entry becomes `--dynamic-config-value KEY=<value as JSON>`, over {@link DEFAULT_DYNAMIC_CONFIG} (an entry
   * with the same key replaces the default).
   */
  dynamicConfig?: Record<string, unknown>;
  /** Codec server the UI calls to decode payloads (`--ui-codec-endpoint`). Default none. */
  uiCodecEndpoint?: string;
  /**
   * SQLite settings (`--sqlite-pragma`). Default WAL with synchronous=normal: the benchmark measured about
   * 1.3-1.7x the throughput of SQLite's defaults on this 2-core machine, and WAL stays safe across a crash.
   */
  sqlitePragmas?: string[];
  /** Appended to the `temporal server start-dev` command line. Default none. */
  extraArgs?: string[];
  /** Progress lines. Default: silent (except a first-time CLI build, which logs to stderr). */
  log?: (line: string) => void;
  /** How long to wait for a started server to answer. Default 60000. */
  readyTimeoutMs?: number;
  /** Use a Temporal server already answering on ip:port instead of failing to bind it. Default true. */
  reuseExisting?: boolean;
  /**
   * Run the server in the background: in its own process group, so a Ctrl-C in the terminal does not reach it, and
   * without holding this process open, so it outlives it (stop it later with {@link stopBackgroundServer}). Default
   * false: the server is an ordinary child, and Ctrl-C stops both.
   */
  detached?: boolean;
}

export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all. */
  error?: Error;
}

export interface DevServer {
  /** `ip:port` of the frontend, for `Connection.connect({ address })`. */
  address: string;
  /** Web UI base URL; undefined when headless (or, when reused, when no UI answers on the UI port). */
  uiUrl: string | undefined;
  namespace: string;
  /** True when another process's server was already answering: stop() then leaves it alone. */
  reused: boolean;
  pid?: number;
  /** The SQLite file, when this call started the server. */
  dbFile?: string;
  /** The server's stdout/stderr, when this call started the server. */
  logFile?: string;
  /** Records the pid of a server this call started, for {@link stopBackgroundServer}. */
  pidFile?: string;
  /** Settles when a server this call started exits, for whatever reason. */
  exited?: Promise<ServerExit>;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone. A no-op for a reused server. */
  stop(): Promise<void>;
}

const POLL_INTERVAL_MS = 100;
export const DEFAULT_SQLITE_PRAGMAS = ['journal_mode=wal', 'synchronous=normal'];
/**
 * Eager activity execution: the server hands an activity scheduled by a workflow task to the same worker in its reply,
 * instead of through the task queue. EvolForge's activities run on the workflows' own task queue, so every LLM call
 * skips a matching round trip (the benchmark: schedule-to-start p50 28 ms -> 0, +0.07 of the C/L ratio). Temporal
 * Server has it off by default; Temporal Cloud and clusters decide for themselves.
 */
export const DEFAULT_DYNAMIC_CONFIG: Readonly<Record<string, unknown>> = {
  'system.enableActivityEagerExecution': true,
};
const STOP_GRACE_MS = 10_000;
const GRPC_ALREADY_EXISTS = 6;
const GRPC_NOT_FOUND = 5;

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const port = options.port ?? 7233;
  const uiPort = options.uiPort ?? port + 1000;
  const namespace = options.namespace ?? 'default';
  const log = options.log ?? (() => undefined);
  const address = formatAddress(ip, port);
  const uiUrl = options.headless ? undefined : `http://${formatHost(ip)}:${uiPort}`;

  if (await isServerUp(address)) {
    if (!(options.reuseExisting ?? true)) {
      throw new Error(
        `A Temporal server already answers on ${address}. Stop it, pick another port, or allow reusing it.`,
      );
    }
    await withConnection(address, 10_000, (connection) => prepareNamespace(connection, namespace, address));
    return {
      address,
      uiUrl: uiUrl && (await httpAnswers(uiUrl, 2000)) ? uiUrl : undefined,
      namespace,
      reused: true,
      stop: async () => undefined,
    };
  }

  const cliPath = options.cliPath ?? (await ensureTemporalCli({ log: options.log }));
  const dataDir = path.resolve(options.dataDir ?? '.evolforge');
  const dbFile = path.join(dataDir, 'temporal.sqlite');
  const logFile = path.join(dataDir, 'temporal-server.log');
  const pidFile = pidFilePath(dataDir);
  await fs.mkdir(dataDir, { recursive: true });

  const args = devServerArgs({ ...options, ip, port, uiPort, namespace, dbFile });

  // Only this start's part of the log is shown when it fails: the file keeps earlier runs.
  const logOffset = await fs.stat(logFile).then(
    (stat) => stat.size,
    () => 0,
  );
  await fs.appendFile(logFile, `--- ${new Date().toISOString()} ${cliPath} ${args.join(' ')}\n`);
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(cliPath, args, { stdio: ['ignore', logFd, logFd], detached: options.detached ?? false });
  } finally {
    closeSync(logFd);
  }
  const exited = new Promise<ServerExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
  });
  let exit: ServerExit | undefined;
  void exited.then(async (value) => {
    exit = value;
    if (child.pid !== undefined && (await readPidFile(pidFile))?.pid === child.pid) {
      await fs.rm(pidFile, { force: true }).catch(() => undefined);
    }
  });
  if (child.pid !== undefined) {
    const record: PidRecord = { pid: child.pid, address, dbFile, startedAt: new Date().toISOString() };
    await fs.writeFile(pidFile, `${JSON.stringify(record)}\n`);
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null || exit) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
      await fs.rm(pidFile, { force: true });
    })();
    return stopping;
  };

  const started = Date.now();
  log(`Starting Temporal dev server on ${address} (state in ${dbFile}).`);
  try {
    await waitUntilReady({
      address,
      namespace,
      uiUrl,
      deadline: started + (options.readyTimeoutMs ?? 60_000),
      exited,
      logFile,
      describeFailure: async () => {
        const how = exit?.error
          ? `could not be started (${exit.error.message})`
          : `exited (${exit?.signal ?? `code ${exit?.code}`})`;
        return `temporal server start-dev ${how} before it was ready. Last lines of ${logFile}:\n${await logTail(logFile, logOffset)}`;
      },
    });
  } catch (err) {
    await stop();
    throw err;
  }
  log(`Temporal dev server ready on ${address} after ${Date.now() - started} ms.`);
  if (options.detached) child.unref();

  return { address, uiUrl, namespace, reused: false, pid: child.pid, dbFile, logFile, pidFile, exited, stop };
}

interface PidRecord {
  pid: number;
  address: string;
  dbFile: string;
  startedAt: string;
}

function pidFilePath(dataDir: string): string {
  return path.join(dataDir, 'temporal-server.pid');
}

async function readPidFile(file: string): Promise<PidRecord | undefined> {
  try {
    const record = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<PidRecord>;
    return typeof record.pid === 'number' ? (record as PidRecord) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stops a dev server that an earlier process started with `dataDir` (typically in the background, see
 * {@link DevServerOptions.detached}): SIGTERM, then SIGKILL after 10 s. Resolves to its pid, or undefined when no
 * such server is running.
 */
export async function stopBackgroundServer(dataDir: string): Promise<number | undefined> {
  const pidFile = pidFilePath(path.resolve(dataDir));
  const record = await readPidFile(pidFile);
  if (!record || !isAlive(record.pid) || !(await looksLikeOurServer(record))) {
    await fs.rm(pidFile, { force: true });
    return undefined;
  }
  process.kill(record.pid, 'SIGTERM');
  const deadline = Date.now() + STOP_GRACE_MS;
  while (isAlive(record.pid)) {
    if (Date.now() > deadline) {
      process.kill(record.pid, 'SIGKILL');
      break;
    }
    await delay(POLL_INTERVAL_MS);
  }
  await fs.rm(pidFile, { force: true });
  return record.pid;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Guards against a recycled pid: on Linux the command line must be our server's. */
async function looksLikeOurServer(record: PidRecord): Promise<boolean> {
  let cmdline: string;
  try {
    cmdline = await fs.readFile(`/proc/${record.pid}/cmdline`, 'utf8');
  } catch {
    return process.platform !== 'linux';
  }
  return cmdline.includes('start-dev') && cmdline.includes(record.dbFile);
}

interface ReadyCheck {
  address: string;
  namespace: string;
  uiUrl: string | undefined;
  deadline: number;
  exited: Promise<ServerExit>;
  logFile: string;
  describeFailure: () => Promise<string>;
}

/** Polls until the frontend answers, the namespace and search attributes are in place, and the UI serves. */
async function waitUntilReady(check: ReadyCheck): Promise<void> {
  const { host, port } = parseAddress(check.address);
  let waiting = true;
  const earlyExit = check.exited.then(async () => {
    if (waiting) throw new Error(await check.describeFailure());
  });

  const attempt = async (remaining: number) => {
    if (!(await tcpAnswers(host, port, Math.min(1000, remaining)))) throw new Error('frontend port not open yet');
    await withConnection(check.address, Math.min(5000, remaining), async (connection) => {
      await connection.workflowService.getSystemInfo({});
      await prepareNamespace(connection, check.namespace, check.address);
    });
    if (check.uiUrl && !(await httpAnswers(check.uiUrl, 1000))) throw new Error(`UI not answering at ${check.uiUrl}`);
  };
  const poll = async () => {
    let lastError: unknown;
    while (waiting) {
      const remaining = check.deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(
          `The Temporal dev server did not get ready on ${check.address} in time (last error: ` +
            `${errorText(lastError)}). See ${check.logFile}, or raise readyTimeoutMs.`,
        );
      }
      try {
        return await attempt(remaining);
      } catch (err) {
        lastError = err;
      }
      await delay(POLL_INTERVAL_MS);
    }
  };

  try {
    await Promise.race([poll(), earlyExit]);
  } finally {
    waiting = false;
  }
}

/** True when a Temporal frontend answers `GetSystemInfo` on `address` (`host:port`) within `timeoutMs`. */
export async function isServerUp(address: string, timeoutMs = 1000): Promise<boolean> {
  const { host, port } = parseAddress(address);
  // A refused TCP connection is instant, while gRPC would wait out its whole connect timeout.
  if (!(await tcpAnswers(host, port, timeoutMs))) return false;
  try {
    await withConnection(address, timeoutMs, (connection) => connection.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure the given search attributes (default: EvolForge's) are registered on `namespace`, adding the missing
 * ones through the operator service. Throws when one exists with another type, since upserts would then fail.
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  attributes: ReadonlyArray<{ name: string; type: string }> = SEARCH_ATTRIBUTES,
): Promise<void> {
  const registered = await connection.operatorService.listSearchAttributes({ namespace });
  const existing: Record<string, number> = { ...registered.systemAttributes, ...registered.customAttributes };
  const missing: Record<string, number> = {};
  for (const { name, type } of attributes) {
    const wanted = indexedValueType(type);
    const actual = existing[name];
    if (actual === undefined) missing[name] = wanted;
    else if (actual !== wanted) {
      throw new Error(
        `Search attribute ${name} exists on namespace ${namespace} with another type (index type ${actual}) than ` +
          `the ${type} EvolForge needs. Use another namespace, or remove it with ` +
          `\`temporal operator search-attribute remove --name ${name} --namespace ${namespace}\`.`,
      );
    }
  }
  if (Object.keys(missing).length === 0) return;
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  } catch (err) {
    // Someone else registered them between our list and add.
    if (!(isGrpcServiceError(err) && err.code === GRPC_ALREADY_EXISTS)) throw err;
  }
}

/**
 * A link to the namespace's workflow list in Temporal UI 2.x, optionally filtered by a visibility query such as
 * `EvolRunId = "run-1"`.
 */
export function uiWorkflowsUrl(uiUrl: string, namespace: string, query?: string): string {
  const base = `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows`;
  return query ? `${base}?query=${encodeURIComponent(query)}` : base;
}

/** `count` distinct ports that are free on `ip` right now (bound together, so they differ, then released). */
export async function findFreePorts(count: number, ip = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once('error', reject);
          server.listen(0, ip, () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

async function prepareNamespace(connection: Connection, namespace: string, address: string): Promise<void> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch (err) {
    if (isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND) {
      throw new Error(
        `Namespace ${namespace} does not exist on the Temporal server at ${address}. Create it with ` +
          `\`temporal operator namespace create --namespace ${namespace} --address ${address}\`, or use another one.`,
      );
    }
    throw err;
  }
  await ensureSearchAttributes(connection, namespace);
}

async function withConnection<T>(address: string, timeoutMs: number, fn: (c: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address, connectTimeout: timeoutMs });
  try {
    return await connection.withDeadline(Date.now() + timeoutMs, () => fn(connection));
  } finally {
    await connection.close();
  }
}

function indexedValueType(cliType: string): number {
  // The CLI's `KeywordList` is the SDK's `KEYWORD_LIST`.
  const sdkType = cliType.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
  const encoded = encodeSearchAttributeIndexedValueType(
    sdkType as Parameters<typeof encodeSearchAttributeIndexedValueType>[0],
  );
  if (encoded === undefined) throw new Error(`Unknown search attribute type ${cliType}.`);
  return encoded;
}

function tcpAnswers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function httpAnswers(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

async function logTail(file: string, fromOffset: number, lines = 30): Promise<string> {
  try {
    const text = (await fs.readFile(file)).subarray(fromOffset).toString('utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n') || '(empty)';
  } catch (err) {
    return `(could not read it: ${errorText(err)})`;
  }
}

function parseAddress(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (!match) throw new Error(`Expected a host:port address, got ${JSON.stringify(address)}.`);
  return { host: match[1], port: Number(match[2]) };
}

function formatHost(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

function formatAddress(ip: string, port: number): string {
  return `${formatHost(ip)}:${port}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorText(err: unknown): string {
  if (err === undefined) return 'none';
  return err instanceof Error ? err.message : String(err);
}

/** The `temporal` command line of {@link startDevServer}, defaults applied. */
export function devServerArgs(
  options: DevServerOptions & { ip: string; port: number; uiPort: number; namespace: string; dbFile: string },
): string[] {
  const { ip, port, uiPort, namespace, dbFile } = options;
  return [
    'server',
    'start-dev',
    '--db-filename',
    dbFile,
    '--ip',
    ip,
    '--port',
    String(port),
    ...(options.headless ? ['--headless'] : ['--ui-port', String(uiPort)]),
    '--namespace',
    namespace,
    ...SEARCH_ATTRIBUTES.flatMap(({ name, type }) => ['--search-attribute', `${name}=${type}`]),
    ...Object.entries({ ...DEFAULT_DYNAMIC_CONFIG, ...options.dynamicConfig }).flatMap(([key, value]) => [
      '--dynamic-config-value',
      `${key}=${JSON.stringify(value)}`,
    ]),
    ...(options.uiCodecEndpoint ? ['--ui-codec-endpoint', options.uiCodecEndpoint] : []),
    ...(options.sqlitePragmas ?? DEFAULT_SQLITE_PRAGMAS).flatMap((pragma) => ['--sqlite-pragma', pragma]),
    '--log-level',
    'warn',
    ...(options.extraArgs ?? []),
  ];
}

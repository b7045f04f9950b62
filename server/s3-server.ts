/**
 * Starts a real S3-compatible server for tests, CI and benchmarks: SeaweedFS's `weed mini` (master, volume server,
 * filer, S3 gateway and admin in one process) on a data dir, every port on 127.0.0.1 and chosen free at start.
 *
 * Measured here (2 cores): a fresh start is ready in about 4.2 s, a restart on the same dir after SIGKILL in about
 * 3.7 s (ready meaning a ListBuckets answers 200), and a clean stop takes 1-2.5 s. A restart keeps the ports: the
 * master keeps its state in `m<master port>` under the data dir, so it must come back on the same one.
 *
 * Objects survive a SIGKILL with weed's defaults, no flag needed: before a PUT answers, the volume server has written
 * the object and its index entry with pwrite(2), and the filer has put the entry in its LevelDB journal with
 * write(2), so it is all in the kernel's page cache when the process dies (test/s3-server.test.ts kills right after
 * an acknowledged PUT and reads it back). A power loss is another matter: nothing is fsynced unless a filer.conf
 * path rule asks for `fsync`, which tests do not need.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { closeSync, openSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { findFreePorts, type ServerExit } from './dev-server';
import { ensureSeaweedFs } from './seaweedfs';

export interface S3Credentials {
  accessKey: string;
  secretKey: string;
}

export interface S3ServerOptions {
  /** Holds the server's data (`weed mini -dir`) and its log (`weed.log`). Created when missing. */
  dataDir: string;
  /** The `weed` binary. Default: whatever {@link ensureSeaweedFs} finds (or builds). */
  weedPath?: string;
  /**
   * The one identity the server accepts (an admin); anonymous requests then get 403. Without it the server is
   * open: any unsigned request goes through.
   */
  credentials?: S3Credentials;
  /** How long to wait for the S3 port to answer. Default 60000. */
  readyTimeoutMs?: number;
  /** Progress lines. Default: silent. */
  log?: (line: string) => void;
}

/** Every port `weed mini` listens on, all on 127.0.0.1. */
export interface WeedPorts {
  s3: number;
  s3Grpc: number;
  master: number;
  masterGrpc: number;
  volume: number;
  volumeGrpc: number;
  filer: number;
  filerGrpc: number;
  admin: number;
  adminGrpc: number;
}

export interface S3Server {
  /** e.g. `http://127.0.0.1:PORT`: the S3 API, path-style. */
  endpoint: string;
  port: number;
  ports: WeedPorts;
  dataDir: string;
  /** The server's stdout/stderr, every start appended. */
  logFile: string;
  credentials?: S3Credentials;
  /** The running process's pid (a new one after {@link restart}). */
  readonly pid: number | undefined;
  /** Settles when the current process exits, for whatever reason. */
  readonly exited: Promise<ServerExit>;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would; resolves once the process is gone. */
  kill(): Promise<void>;
  /** Stops it if it runs, then starts it again on the same ports, data dir and credentials; resolves when ready. */
  restart(): Promise<void>;
}

const POLL_INTERVAL_MS = 100;
const STOP_GRACE_MS = 10_000;
const PORT_NAMES: ReadonlyArray<keyof WeedPorts> = [
  's3',
  's3Grpc',
  'master',
  'masterGrpc',
  'volume',
  'volumeGrpc',
  'filer',
  'filerGrpc',
  'admin',
  'adminGrpc',
];

/**
 * The `weed` command line. Every port is given (the defaults, 8333, 9333, 8888, ..., and gRPC at port + 10000, would
 * clash between two servers, and a port left to `weed mini` moves when taken, so a restart could land elsewhere);
 * every listener binds 127.0.0.1 (`-ip.bind` defaults to all interfaces); WebDAV, the Iceberg and Lance catalogs and
 * the admin's legacy port are off; no telemetry; the log goes to stderr instead of files in the temp dir.
 */
export function weedMiniArgs(dataDir: string, ports: WeedPorts): string[] {
  return [
    '-logtostderr',
    'mini',
    `-dir=${dataDir}`,
    '-ip=127.0.0.1',
    '-ip.bind=127.0.0.1',
    `-s3.port=${ports.s3}`,
    `-s3.port.grpc=${ports.s3Grpc}`,
    `-master.port=${ports.master}`,
    `-master.port.grpc=${ports.masterGrpc}`,
    `-volume.port=${ports.volume}`,
    `-volume.port.grpc=${ports.volumeGrpc}`,
    `-filer.port=${ports.filer}`,
    `-filer.port.grpc=${ports.filerGrpc}`,
    `-admin.port=${ports.admin}`,
    `-admin.port.grpc=${ports.adminGrpc}`,
    '-admin.port.legacy=0',
    '-s3.port.iceberg=0',
    '-s3.port.lance=0',
    '-webdav=false',
    '-master.telemetry=false',
    // As on AWS: a write to a bucket that does not exist fails (NoSuchBucket), it does not create the bucket.
    '-s3.autoCreateBucket=false',
  ];
}

/** Starts `weed mini` on `options.dataDir` and waits until its S3 API answers. */
export async function startS3Server(options: S3ServerOptions): Promise<S3Server> {
  const log = options.log ?? (() => undefined);
  const weedPath = options.weedPath ?? (await ensureSeaweedFs({ log: options.log }));
  const dataDir = path.resolve(options.dataDir);
  const logFile = path.join(dataDir, 'weed.log');
  const credentials = options.credentials;
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const free = await findFreePorts(PORT_NAMES.length);
  const ports = Object.fromEntries(PORT_NAMES.map((name, i) => [name, free[i]])) as unknown as WeedPorts;
  const endpoint = `http://127.0.0.1:${ports.s3}`;
  const args = weedMiniArgs(dataDir, ports);
  await fs.mkdir(dataDir, { recursive: true });

  let current: { child: ChildProcess; exited: Promise<ServerExit>; exit?: ServerExit } | undefined;

  const start = async (): Promise<void> => {
    const logOffset = await fs.stat(logFile).then(
      (stat) => stat.size,
      () => 0,
    );
    await fs.appendFile(logFile, `--- ${new Date().toISOString()} ${weedPath} ${args.join(' ')}\n`);
    const logFd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      // cwd: weed reads master.toml, security.toml and the like from its working directory first.
      child = spawn(weedPath, args, { cwd: dataDir, env: serverEnv(credentials), stdio: ['ignore', logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
    const state: NonNullable<typeof current> = {
      child,
      exited: new Promise<ServerExit>((resolve) => {
        child.once('exit', (code, signal) => resolve({ code, signal }));
        child.once('error', (error) => resolve({ code: null, signal: null, error }));
      }),
    };
    void state.exited.then((exit) => (state.exit = exit));
    current = state;

    const started = Date.now();
    log(`Starting SeaweedFS S3 on ${endpoint} (data in ${dataDir}).`);
    try {
      await waitUntilReady(endpoint, credentials, started + readyTimeoutMs, state.exited, async () => {
        const how = state.exit?.error
          ? `could not be started (${state.exit.error.message})`
          : `exited (${state.exit?.signal ?? `code ${state.exit?.code}`})`;
        return `weed mini ${how} before it was ready. Last lines of ${logFile}:\n${await logTail(logFile, logOffset)}`;
      });
    } catch (err) {
      await terminate('SIGKILL');
      throw err;
    }
    log(`SeaweedFS S3 ready on ${endpoint} after ${Date.now() - started} ms.`);
  };

  const terminate = async (signal: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    const state = current;
    if (!state) return;
    if (!state.exit && state.child.exitCode === null && state.child.signalCode === null) {
      state.child.kill(signal);
      const timer = signal === 'SIGTERM' ? setTimeout(() => state.child.kill('SIGKILL'), STOP_GRACE_MS) : undefined;
      await state.exited;
      clearTimeout(timer);
    }
    await removeStaleSockets(ports);
  };

  await start();
  const pending = current as unknown as NonNullable<typeof current>;
  return {
    endpoint,
    port: ports.s3,
    ports,
    dataDir,
    logFile,
    credentials,
    get pid() {
      return current?.child.pid;
    },
    get exited() {
      return (current ?? pending).exited;
    },
    stop: () => terminate('SIGTERM'),
    kill: () => terminate('SIGKILL'),
    restart: async () => {
      await terminate('SIGTERM');
      await start();
    },
  };
}

/** The inherited environment without anything that would configure weed behind our back, plus the credentials. */
function serverEnv(credentials: S3Credentials | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // WEED_* set any option; S3_BUCKET and S3_TABLE_BUCKET create buckets at start; AWS_* add an identity.
    if (/^(WEED_|AWS_)/.test(key) || key === 'S3_BUCKET' || key === 'S3_TABLE_BUCKET') continue;
    env[key] = value;
  }
  if (credentials) {
    env.AWS_ACCESS_KEY_ID = credentials.accessKey;
    env.AWS_SECRET_ACCESS_KEY = credentials.secretKey;
  }
  return env;
}

/**
 * Polls until `GET /` (ListBuckets) answers 200: signed when the server has credentials, so that the identity is
 * known too, not just the port open.
 */
async function waitUntilReady(
  endpoint: string,
  credentials: S3Credentials | undefined,
  deadline: number,
  exited: Promise<ServerExit>,
  describeFailure: () => Promise<string>,
): Promise<void> {
  let waiting = true;
  const earlyExit = exited.then(async () => {
    if (waiting) throw new Error(await describeFailure());
  });
  const poll = async () => {
    let last = 'no answer yet';
    while (waiting) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(`SeaweedFS's S3 API did not get ready on ${endpoint} in time (last: ${last}).`);
      }
      try {
        const status = await s3ListBucketsStatus(endpoint, credentials, Math.min(2000, remaining));
        if (status === 200) return;
        last = `HTTP ${status}`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
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

/**
 * The HTTP status of `GET /` (ListBuckets) on `endpoint`, signed with AWS Signature V4 when credentials are given,
 * anonymous otherwise. Enough to tell an S3 API up, and whether it takes (or refuses) a caller.
 */
export async function s3ListBucketsStatus(
  endpoint: string,
  credentials?: S3Credentials,
  timeoutMs = 5000,
): Promise<number> {
  const url = new URL('/', endpoint);
  const headers: Record<string, string> = credentials ? signV4Get(url, credentials) : {};
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  await response.body?.cancel();
  return response.status;
}

/** SigV4 headers for a body-less GET of `url` (region us-east-1, service s3). */
function signV4Get(url: URL, credentials: S3Credentials, now = new Date()): Record<string, string> {
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const day = amzDate.slice(0, 8);
  const scope = `${day}/us-east-1/s3/aws4_request`;
  const payloadHash = sha256Hex('');
  const signedHeaders = 'host;x-amz-content-sha256;x-amz-date';
  const canonicalRequest = [
    'GET',
    url.pathname,
    url.search.slice(1),
    `host:${url.host}`,
    `x-amz-content-sha256:${payloadHash}`,
    `x-amz-date:${amzDate}`,
    '',
    signedHeaders,
    payloadHash,
  ].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let key: Buffer = hmac(`AWS4${credentials.secretKey}`, day);
  for (const part of ['us-east-1', 's3', 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  return {
    'x-amz-content-sha256': payloadHash,
    'x-amz-date': amzDate,
    authorization:
      `AWS4-HMAC-SHA256 Credential=${credentials.accessKey}/${scope}, SignedHeaders=${signedHeaders}, ` +
      `Signature=${signature}`,
  };
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function hmac(key: string | Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest();
}

/** The Unix sockets weed makes in /tmp per port: it removes them on a clean exit, not when killed. */
async function removeStaleSockets(ports: WeedPorts): Promise<void> {
  const names = [
    `seaweedfs-master-grpc-${ports.masterGrpc}.sock`,
    `seaweedfs-volume-grpc-${ports.volumeGrpc}.sock`,
    `seaweedfs-filer-grpc-${ports.filerGrpc}.sock`,
    `seaweedfs-s3-grpc-${ports.s3Grpc}.sock`,
    `seaweedfs-admin-grpc-${ports.adminGrpc}.sock`,
    `seaweedfs-filer-${ports.filer}.sock`,
    `seaweedfs-s3-${ports.s3}.sock`,
  ];
  await Promise.all(names.map((name) => fs.rm(path.join('/tmp', name), { force: true }).catch(() => undefined)));
}

async function logTail(file: string, fromOffset: number, lines = 30): Promise<string> {
  try {
    const text = (await fs.readFile(file)).subarray(fromOffset).toString('utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n') || '(empty)';
  } catch (err) {
    return `(could not read it: ${err instanceof Error ? err.message : String(err)})`;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Finds (or, failing that, builds or downloads) the `temporal` CLI that runs EvolForge's embedded dev server.
 * This file is the one place that pins its version.
 */
import { promises as fs, constants as fsConstants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCommand as run } from './exec';

export const TEMPORAL_CLI_VERSION = '1.5.1';
/** The Temporal Server version bundled in {@link TEMPORAL_CLI_VERSION}. */
export const TEMPORAL_SERVER_VERSION = '1.29.1';

const CLI_MODULE = 'github.com/temporalio/cli';
/** Without the -X stamp a `go install` build reports its version as 0.0.0-DEV. */
const GO_INSTALL_ARGS = [
  'install',
  '-ldflags',
  `-X ${CLI_MODULE}/temporalcli.Version=${TEMPORAL_CLI_VERSION}`,
  `${CLI_MODULE}/cmd/temporal@v${TEMPORAL_CLI_VERSION}`,
];
export const GO_INSTALL_COMMAND = `go install -ldflags "-X ${CLI_MODULE}/temporalcli.Version=${TEMPORAL_CLI_VERSION}" ${CLI_MODULE}/cmd/temporal@v${TEMPORAL_CLI_VERSION}`;

const EXE_NAME = process.platform === 'win32' ? 'temporal.exe' : 'temporal';

export interface EnsureTemporalCliOptions {
  /** Progress and diagnostics, one line at a time. Default: written to stderr. */
  log?: (line: string) => void;
  /** Build the CLI with `go install` when no usable binary is found and Go is on PATH. Default true. */
  allowBuild?: boolean;
  /** Download the official release archive when nothing else worked. Default true. */
  allowDownload?: boolean;
}

export interface TemporalCliVersion {
  /** e.g. `1.5.1`, or `0.0.0-DEV` for an unstamped `go install` build. */
  cli: string;
  /** e.g. `1.29.1`; undefined when `--version` did not name it. */
  server?: string;
}

/** Where EvolForge keeps a CLI it downloaded itself (`$XDG_CACHE_HOME` or `~/.cache`, then `evolforge/bin`). */
export function temporalCliCacheDir(): string {
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheHome, 'evolforge', 'bin');
}

/** Parses `temporal version 1.5.1 (Server 1.29.1, UI 2.42.1)`. */
export function parseTemporalVersion(output: string): TemporalCliVersion | undefined {
  const match = /temporal version (\S+)(?: \(Server ([^,)\s]+))?/.exec(output);
  if (!match) return undefined;
  return { cli: match[1], server: match[2] };
}

/** An unstamped build of the pinned tag is as good as a release: what matters is the server it bundles. */
export function isWantedVersion(version: TemporalCliVersion): boolean {
  return version.cli === TEMPORAL_CLI_VERSION || version.server === TEMPORAL_SERVER_VERSION;
}

/** Found paths, keyed by the TEMPORAL_CLI_PATH they were found under, so changing that variable is honoured. */
const found = new Map<string, Promise<string>>();

/**
 * Returns the path of a `temporal` binary that runs Temporal Server {@link TEMPORAL_SERVER_VERSION}. Looks at
 * `TEMPORAL_CLI_PATH`, then `PATH`, `~/.temporalio/bin`, Go's install dirs and EvolForge's cache dir; then builds it
 * with Go, then downloads it. The answer is cached for the life of the process.
 */
export function ensureTemporalCli(options: EnsureTemporalCliOptions = {}): Promise<string> {
  const key = process.env.TEMPORAL_CLI_PATH ?? '';
  let pending = found.get(key);
  if (!pending) {
    pending = locateOrInstall(options);
    found.set(key, pending);
    // A failure is not cached: the user may fix things and try again in the same process.
    pending.catch(() => found.delete(key));
  }
  return pending;
}

async function locateOrInstall(options: EnsureTemporalCliOptions): Promise<string> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const allowBuild = options.allowBuild ?? true;
  const allowDownload = options.allowDownload ?? true;

  const explicit = process.env.TEMPORAL_CLI_PATH;
  if (explicit) {
    const problem = await checkCandidate(explicit);
    if (problem) {
      throw new Error(
        `TEMPORAL_CLI_PATH=${explicit} is not a usable Temporal CLI: ${problem}. EvolForge needs CLI ` +
          `${TEMPORAL_CLI_VERSION} (or any build bundling Server ${TEMPORAL_SERVER_VERSION}). Point ` +
          `TEMPORAL_CLI_PATH at such a binary, or unset it to let EvolForge find or build one.`,
      );
    }
    return explicit;
  }

  const goBinDirs = await goInstallDirs();
  const candidates = uniq([
    ...(process.env.PATH ?? '')
      .split(path.delimiter)
      .filter(Boolean)
      .map((dir) => path.join(dir, EXE_NAME)),
    path.join(os.homedir(), '.temporalio', 'bin', EXE_NAME),
    ...goBinDirs.map((dir) => path.join(dir, EXE_NAME)),
    path.join(temporalCliCacheDir(), EXE_NAME),
  ]);
  for (const candidate of candidates) {
    if (!(await isExecutableFile(candidate))) continue;
    const problem = await checkCandidate(candidate);
    if (!problem) return candidate;
    log(`Skipping ${candidate}: ${problem}`);
  }

  const failures: string[] = [];
  const hasGo = goBinDirs.length > 0;
  if (allowBuild && hasGo) {
    try {
      return await buildWithGo(log);
    } catch (err) {
      failures.push(errorMessage(err));
    }
  }
  if (allowDownload) {
    try {
      return await download(log);
    } catch (err) {
      failures.push(errorMessage(err));
    }
  }
  throw new Error(
    [
      `No Temporal CLI ${TEMPORAL_CLI_VERSION} found (looked at PATH, ~/.temporalio/bin, Go's bin dirs and ` +
        `${temporalCliCacheDir()}).`,
      ...failures,
      'Install it in one of these ways, then run again:',
      `  - with Go: ${GO_INSTALL_COMMAND}`,
      `  - download ${downloadUrl() ?? `the ${TEMPORAL_CLI_VERSION} release for your platform`}, extract ` +
        `\`temporal\` into ${temporalCliCacheDir()} (or anywhere on PATH)`,
      '  - or set TEMPORAL_CLI_PATH to the path of an existing binary.',
    ].join('\n'),
  );
}

/** Returns why the binary at `file` will not do, or undefined when it will. */
async function checkCandidate(file: string): Promise<string | undefined> {
  if (!(await isExecutableFile(file))) return 'no executable file there';
  let output: string;
  try {
    output = (await run(file, ['--version'], { timeoutMs: 15_000 })).stdout;
  } catch (err) {
    return `\`${file} --version\` failed (${errorMessage(err).split('\n')[0]})`;
  }
  const version = parseTemporalVersion(output);
  if (!version) return `\`--version\` printed ${JSON.stringify(output.trim())}, not a Temporal CLI version`;
  if (!isWantedVersion(version)) {
    return `it is version ${version.cli} (Server ${version.server ?? 'unknown'})`;
  }
  return undefined;
}

/** `$(go env GOBIN)` and each `$(go env GOPATH)/bin`; empty when Go is not installed. */
async function goInstallDirs(): Promise<string[]> {
  let output: string;
  try {
    output = (await run('go', ['env', 'GOBIN', 'GOPATH'], { timeoutMs: 30_000 })).stdout;
  } catch {
    return [];
  }
  const [gobin = '', gopath = ''] = output.split(/\r?\n/);
  const dirs = gopath
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => path.join(dir, 'bin'));
  return uniq(gobin.trim() ? [gobin.trim(), ...dirs] : dirs);
}

async function buildWithGo(log: (line: string) => void): Promise<string> {
  log(`Building Temporal CLI ${TEMPORAL_CLI_VERSION} with Go (${GO_INSTALL_COMMAND}).`);
  log('This takes a few minutes the first time; later runs reuse the binary.');
  const started = Date.now();
  try {
    await run('go', GO_INSTALL_ARGS, { timeoutMs: 30 * 60_000 });
  } catch (err) {
    throw new Error(`Building the Temporal CLI with Go failed:\n${errorMessage(err)}`);
  }
  for (const dir of await goInstallDirs()) {
    const candidate = path.join(dir, EXE_NAME);
    if ((await isExecutableFile(candidate)) && !(await checkCandidate(candidate))) {
      log(`Built ${candidate} in ${Math.round((Date.now() - started) / 1000)} s.`);
      return candidate;
    }
  }
  throw new Error('`go install` succeeded but no usable temporal binary appeared in GOBIN or GOPATH/bin.');
}

function downloadUrl(): string | undefined {
  const platform = ({ linux: 'linux', darwin: 'darwin' } as Record<string, string>)[process.platform];
  const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch];
  if (!platform || !arch) return undefined;
  return `https://temporal.download/cli/archive/v${TEMPORAL_CLI_VERSION}?platform=${platform}&arch=${arch}`;
}

async function download(log: (line: string) => void, timeoutMs = 180_000): Promise<string> {
  const url = downloadUrl();
  if (!url) throw new Error(`No official download of the Temporal CLI for ${process.platform}/${process.arch}.`);
  const dir = temporalCliCacheDir();
  await fs.mkdir(dir, { recursive: true });
  const staging = await fs.mkdtemp(path.join(dir, '.download-'));
  try {
    log(`Downloading Temporal CLI ${TEMPORAL_CLI_VERSION} from ${url}`);
    let archive: Buffer;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
      archive = Buffer.from(await response.arrayBuffer());
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
      throw new Error(`Downloading ${url} failed: ${errorMessage(err)}${cause}`);
    }
    const archivePath = path.join(staging, 'temporal.tar.gz');
    await fs.writeFile(archivePath, archive);
    try {
      await run('tar', ['-xzf', archivePath, '-C', staging], { timeoutMs: 120_000 });
    } catch (err) {
      throw new Error(`Extracting ${url} with tar failed:\n${errorMessage(err)}`);
    }
    const extracted = (await fs.readdir(staging, { recursive: true })).find((f) => path.basename(f) === EXE_NAME);
    if (!extracted) throw new Error(`The archive from ${url} holds no ${EXE_NAME}.`);
    const target = path.join(dir, EXE_NAME);
    await fs.chmod(path.join(staging, extracted), 0o755);
    // Rename is atomic, so a concurrent process never runs a half-written binary.
    await fs.rename(path.join(staging, extracted), target);
    const problem = await checkCandidate(target);
    if (problem) throw new Error(`The downloaded ${target} is not usable: ${problem}`);
    log(`Installed ${target}`);
    return target;
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) return false;
    await fs.access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function uniq(items: string[]): string[] {
  return [...new Set(items.map((item) => path.resolve(item)))];
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

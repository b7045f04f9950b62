/** The actions behind each `evol` command. */
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { loadCodecFromEnv } from '../codec/aes-gcm';
import { DEFAULT_UI_ORIGINS, startCodecServer } from '../codec/server';
import { describeSampling, resolveLlmConfig, resolveQuality, type LlmMode } from '../core/config';
import { EvolRunId } from '../core/search-attributes';
import { UserError } from '../core/validation';
import { runServer } from '../server/serve';
import { stopBackgroundServer } from '../server/dev-server';
import { connectWorker, createEvolWorker, DEFAULT_TASK_QUEUE } from '../worker';
import { defaultLogFile, installQuietRuntime } from '../worker/runtime';
import { instructionIdFor, newRunId, startSingleInstruction } from './api';
import { loadConfigFile } from './config-file';
import { defaultDataDir, openSession, uiLink } from './embedded';
import { formatLineage, stderr } from './format';
import { runReport } from './report';
import { runDataset, runExport } from './run';
import { runScore } from './score';
import { resolveTemporalTarget, describeTarget } from './temporal-target';
import { becomeCurrent, buildsOf, currentBuildOf, formatBuilds, makeCurrent } from './workers';
import { deploymentNameOf } from '../worker/versioning';
import { plural } from '../core/plural';

function resolveLlm(options: { config?: string; llm: LlmMode; unusableRetries?: number }) {
  const { file } = loadConfigFile(options.config);
  const resolved = resolveLlmConfig({ env: process.env, file, mode: options.llm });
  stderr(resolved.description);
  for (const line of describeSampling(resolved.llm)) stderr(line);
  return { ...resolved, quality: resolveQuality(file, options.unusableRetries) };
}

export async function runServerCommand(
  action: string,
  options: { dataDir?: string; port: number; uiPort: number; uiCodecEndpoint?: string },
): Promise<void> {
  // The same default as every command that starts the embedded server, so `evol server stop` finds it.
  const dataDir = options.dataDir ?? defaultDataDir();
  if (action === 'stop') {
    const stopped = await stopBackgroundServer(path.resolve(dataDir));
    stderr(
      stopped
        ? `Stopped the Temporal dev server (pid ${stopped}).`
        : `No background Temporal dev server was found in ${path.resolve(dataDir)}.`,
    );
    return;
  }
  if (action !== 'start') throw new UserError(`unknown server action "${action}": use start or stop`);
  await runServer({
    dataDir,
    port: options.port,
    uiPort: options.uiPort,
    uiCodecEndpoint: options.uiCodecEndpoint,
  });
}

export async function runCodecServerCommand(options: { port: number; host: string; uiOrigin?: string[] }) {
  const codec = loadCodecFromEnv();
  if (!codec) {
    throw new UserError(
      'no encryption key is configured: set EVOL_CODEC_KEY (base64 of 32 bytes) or EVOL_CODEC_KEY_FILE, as for the worker',
    );
  }
  const uiOrigins = options.uiOrigin ?? DEFAULT_UI_ORIGINS;
  const server = await startCodecServer({ codec, port: options.port, host: options.host, uiOrigins });
  stderr(
    `Codec server on ${server.url} (current key "${codec.currentKeyId}"), for Temporal UI at ${uiOrigins.join(', ')}.`,
  );
  stderr(`  evol server --ui-codec-endpoint ${server.url}   starts the dev server with its UI pointed here`);
  stderr(`  temporal workflow show -w ID --codec-endpoint ${server.url}   decodes on the command line`);
  stderr('Ctrl-C stops it.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.close();
}

export async function runWorkerCommand(options: {
  taskQueue: string;
  maxConcurrent: number;
  rateLimit?: number;
  verbose?: boolean;
  makeCurrent?: boolean;
}) {
  const target = resolveTemporalTarget();
  if (options.rateLimit !== undefined && !(options.rateLimit > 0))
    throw new UserError('--rate-limit must be a positive number');
  installQuietRuntime({ logFile: defaultLogFile(defaultDataDir()), verbose: options.verbose });
  const connection = await connectWorker(target.connectionOptions);
  const evolWorker = await createEvolWorker({
    connection,
    namespace: target.namespace,
    taskQueue: options.taskQueue,
    maxConcurrentActivityTaskExecutions: options.maxConcurrent,
    maxTaskQueueActivitiesPerSecond: options.rateLimit,
  });
  const { deploymentName, buildId } = evolWorker.version;
  const clientConnection = await Connection.connect(target.connectionOptions);
  const client = new Client({ connection: clientConnection, namespace: target.namespace });
  const running = evolWorker.worker.run();
  try {
    await becomeCurrent(client, evolWorker.version, {
      always: options.makeCurrent === true,
      taskQueue: options.taskQueue,
    });
    const current = (await currentBuildOf(client, deploymentName)) === buildId;
    stderr(`Worker polling task queue "${options.taskQueue}" on ${describeTarget(target)}. Ctrl-C stops it.`);
    stderr(
      `Build ${buildId} of deployment "${deploymentName}": ${current ? 'current, new workflows come here' : `not current: \`evol workers current ${buildId}\` sends new workflows here`}.`,
    );
    stderr(`Worker log (warnings, LLM faults, stack traces): ${defaultLogFile(defaultDataDir())}`);
    await running;
  } finally {
    if (evolWorker.worker.getState() === 'RUNNING') evolWorker.worker.shutdown();
    await running.catch(() => undefined);
    await evolWorker.shutdown();
    await clientConnection.close();
    await connection.close();
  }
}

export async function runEvolve(
  text: string,
  options: {
    rounds: number;
    seed: number;
    runId?: string;
    json?: boolean;
    config?: string;
    llm: LlmMode;
    taskQueue: string;
    unusableRetries?: number;
    verbose?: boolean;
  },
): Promise<void> {
  if (!text.trim())
    throw new UserError('the instruction to evolve is empty: pass its text, e.g. evol evolve "Explain recursion."');
  const { llm, quality } = resolveLlm(options);
  const session = await openSession({ taskQueue: options.taskQueue, verbose: options.verbose });
  try {
    const runId = options.runId ?? newRunId('evolve');
    const instructionId = instructionIdFor(text);
    const lineage = await session.run(async () => {
      const handle = await startSingleInstruction(session.client, session.taskQueue, {
        runId,
        instructionId,
        instruction: text.trim(),
        rounds: options.rounds,
        seed: options.seed,
        llm,
        quality,
      });
      stderr(`Evolving ${instructionId} for ${plural(options.rounds, 'round')} (workflow ${handle.workflowId})...`);
      return handle.result();
    });
    if (options.json) {
      process.stdout.write(`${JSON.stringify(lineage, null, 2)}\n`);
    } else {
      process.stdout.write(`${formatLineage(lineage)}\n`);
      const link = uiLink(session, `${EvolRunId.name}="${runId}"`);
      if (link) process.stdout.write(`Temporal UI: ${link}\n`);
    }
  } finally {
    await session.close();
  }
}

/** `npm start`: a dataset run over the sample seeds, followed with a progress bar, then exported. */
export async function runDemo(options: {
  rounds: number;
  seed: number;
  config?: string;
  llm: LlmMode;
  batch?: boolean;
}): Promise<void> {
  const input = path.resolve(__dirname, '..', '..', 'samples', 'seeds.jsonl');
  const { runId, finished } = await runDataset({
    input,
    rounds: options.rounds,
    seed: options.seed,
    concurrency: 8,
    method: 'general',
    config: options.config,
    llm: options.llm,
    taskQueue: process.env.EVOL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    runId: newRunId('demo'),
    ...(options.batch ? { batch: true } : {}),
  });
  if (!finished) return;
  const out = path.join(defaultDataDir(), 'exports', `${runId}.json`);
  await runExport(runId, { format: 'alpaca', rounds: 'all', includeSeeds: true, shuffle: true, out });
  process.stdout.write(`Dataset: ${out}\n`);
  await runScore(runId, {
    seed: 0,
    concurrency: 8,
    config: options.config,
    llm: options.llm,
    taskQueue: process.env.EVOL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
  });
  const report = await runReport(runId, { lineages: 6 });
  if (report) process.stdout.write(`Report: ${report}\n`);
}

/** `evol workers`: each build of the deployment, its status, and what still runs on it. */
export async function runWorkersCommand(options: { json?: boolean }): Promise<void> {
  const deploymentName = deploymentNameOf();
  const session = await openSession({ worker: 'never' });
  try {
    const builds = await buildsOf(session.client, deploymentName);
    process.stdout.write(
      options.json
        ? `${JSON.stringify({ deploymentName, builds }, null, 2)}\n`
        : `${formatBuilds(deploymentName, builds)}\n`,
    );
  } finally {
    await session.close();
  }
}

/** `evol workers current BUILD`: new workflows go to that build from now on. */
export async function runMakeCurrentCommand(buildId: string): Promise<void> {
  const deploymentName = deploymentNameOf();
  const session = await openSession({ worker: 'never' });
  try {
    await makeCurrent(session.client, { deploymentName, buildId }, { timeoutMs: 10_000 });
    stderr(`Build ${buildId} is current: new workflows go to it; pinned ones finish where they started.`);
  } finally {
    await session.close();
  }
}

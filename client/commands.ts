/** The actions behind each `evol` command. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveLlmConfig, type LlmMode } from '../core/config';
import type { Lineage } from '../core/schemas';
import { EvolRunId } from '../core/search-attributes';
import { UserError } from '../core/validation';
import { runServer } from '../server/serve';
import { stopBackgroundServer } from '../server/dev-server';
import { connectWorker, createEvolWorker } from '../worker';
import { installQuietRuntime } from '../worker/runtime';
import { instructionIdFor, newRunId, startInstructionEvolution } from './api';
import { loadConfigFile } from './config-file';
import { defaultDataDir, openSession, uiLink } from './embedded';
import { formatLineage, formatLineageSummary } from './format';
import { resolveTemporalTarget, describeTarget } from './temporal-target';

const stderr = (line: string) => process.stderr.write(`${line}\n`);

function resolveLlm(options: { config?: string; llm: LlmMode }) {
  const { file } = loadConfigFile(options.config);
  const resolved = resolveLlmConfig({ env: process.env, file, mode: options.llm });
  stderr(resolved.description);
  return resolved;
}

export async function runServerCommand(
  action: string,
  options: { dataDir: string; port: number; uiPort: number },
): Promise<void> {
  if (action === 'stop') {
    const stopped = await stopBackgroundServer(path.resolve(options.dataDir));
    stderr(
      stopped
        ? `Stopped the Temporal dev server (pid ${stopped}).`
        : 'No background Temporal dev server was found in this data dir.',
    );
    return;
  }
  if (action !== 'start') throw new UserError(`unknown server action "${action}": use start or stop`);
  await runServer({ dataDir: options.dataDir, port: options.port, uiPort: options.uiPort });
}

export async function runWorkerCommand(options: { taskQueue: string; maxConcurrent: number; rateLimit?: number }) {
  const target = resolveTemporalTarget();
  if (options.rateLimit !== undefined && !(options.rateLimit > 0))
    throw new UserError('--rate-limit must be a positive number');
  installQuietRuntime();
  const connection = await connectWorker(target.connectionOptions);
  const evolWorker = await createEvolWorker({
    connection,
    namespace: target.namespace,
    taskQueue: options.taskQueue,
    maxConcurrentActivityTaskExecutions: options.maxConcurrent,
    maxTaskQueueActivitiesPerSecond: options.rateLimit,
  });
  stderr(`Worker polling task queue "${options.taskQueue}" on ${describeTarget(target)}. Ctrl-C stops it.`);
  try {
    await evolWorker.worker.run();
  } finally {
    await evolWorker.shutdown();
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
  },
): Promise<void> {
  if (!text.trim())
    throw new UserError('the instruction to evolve is empty: pass its text, e.g. evol evolve "Explain recursion."');
  const { llm } = resolveLlm(options);
  const session = await openSession({ taskQueue: options.taskQueue });
  try {
    const runId = options.runId ?? newRunId('evolve');
    const instructionId = instructionIdFor(text);
    const lineage = await session.run(async () => {
      const handle = await startInstructionEvolution(session.client, session.taskQueue, {
        runId,
        instructionId,
        instruction: text.trim(),
        rounds: options.rounds,
        seed: options.seed,
        llm,
      });
      stderr(`Evolving ${instructionId} for ${options.rounds} rounds (workflow ${handle.workflowId})...`);
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

interface SampleSeed {
  id: string;
  instruction: string;
}

function readSampleSeeds(): SampleSeed[] {
  const file = path.resolve(__dirname, '..', '..', 'samples', 'seeds.jsonl');
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as SampleSeed);
}

export async function runDemo(options: { rounds: number; seed: number; config?: string; llm: LlmMode }): Promise<void> {
  const { llm } = resolveLlm(options);
  const seeds = readSampleSeeds();
  const session = await openSession({ dataDir: defaultDataDir() });
  try {
    const runId = newRunId('demo');
    stderr(`Run ${runId}: evolving ${seeds.length} sample seeds for ${options.rounds} rounds each...`);
    const lineages: Lineage[] = await session.run(async () => {
      const handles = await Promise.all(
        seeds.map((seed) =>
          startInstructionEvolution(session.client, session.taskQueue, {
            runId,
            instructionId: seed.id,
            instruction: seed.instruction,
            rounds: options.rounds,
            seed: options.seed,
            llm,
          }),
        ),
      );
      return Promise.all(handles.map((h) => h.result()));
    });
    for (const lineage of lineages) process.stdout.write(`${formatLineageSummary(lineage)}\n`);
    const steps = lineages.flatMap((l) => l.steps);
    const eliminated = steps.filter((s) => !s.verdict.passed).length;
    const tokens = lineages.reduce((sum, l) => sum + l.usage.totalTokens, 0);
    process.stdout.write(
      `\n${seeds.length} seeds, ${steps.length} evolutions, ${eliminated} eliminated, ${tokens} tokens.\n`,
    );
    const link = uiLink(session, `${EvolRunId.name}="${runId}"`);
    if (link) process.stdout.write(`Their histories in Temporal UI: ${link}\n`);
  } finally {
    await session.close();
  }
}

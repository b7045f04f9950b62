/**
 * `npm run bench:floor -- --seeds N --rounds R --latency-ms L --concurrency C [--http] [--payload-bytes B] [--json]`
 *
 * What Temporal alone reaches on this machine for the dataset bench's shape: a Temporal dev server started as
 * `evol` starts it (same SQLite pragmas, same dynamic config), one plain worker process, and N workflows, C at a
 * time, each making R rounds of one call and then two at once, every call an activity that waits L ms. No
 * EvolForge code runs: no store, no gates, no dataset workflow, and (without `--http`) no LLM client: with
 * `--http` each call is a chat completion through the `openai` client to the simulated LLM, in its own process
 * as in the dataset bench. Its figures are a ceiling for `npm run bench` with the same N, R, L and C; the gap
 * between the two is what EvolForge adds.
 * See bench/README.md, "The platform's floor".
 */
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { Command } from 'commander';
import { findFreePorts, startDevServer } from '../server/dev-server';
import { ensureTemporalCli } from '../server/temporal-cli';
import {
  Cleanup,
  nonNegativeInt,
  note,
  onInterrupt,
  percentile,
  ProcessSampler,
  round,
  simStats,
  spawnNode,
  startSimProcess,
  waitForOutput,
  withRunShape,
  type RunShape,
} from './proc';
import { meanMsText, meanOf, scrapeWorkers } from './prometheus';
import type { floorInstruction } from './floor-workflows';

const TASK_QUEUE = 'evolforge-floor';
const ROUND_TRIPS_PER_ROUND = 2;

/** The run the floor is measured on: the dataset bench's N, R, L and C, and what each call carries. */
interface FloorShape extends RunShape {
  payloadBytes: number;
  http: boolean;
}

interface FloorOptions extends FloorShape {
  json: boolean;
}

function parseOptions(argv: string[]): FloorOptions {
  return withRunShape(new Command('floor-bench'), 'workflows')
    .description("runs the dataset bench's shape on a bare Temporal worker and prints what the platform reaches")
    .option('--payload-bytes <n>', "bytes in each call's input and in its answer", nonNegativeInt, 2000)
    .option('--http', 'each call asks the simulated LLM (its own process) through the openai client', false)
    .option('--json', 'also print the figures as one JSON object', false)
    .parse(argv)
    .opts<FloorOptions>();
}

/** What the floor bench prints with `--json` (and `npm run bench -- --floor` reads). */
export interface FloorFigures extends FloorShape {
  wallS: number;
  /** Calls the workflows made (each counts its own), and with `--http` the requests the simulated LLM received. */
  calls: number;
  simRequests?: number;
  callsPerS: number;
  roundsPerS: number;
  idealRoundsPerS: number;
  ratio: number;
  spanP50Ms: number;
  spanP99Ms: number;
  idealSpanMs: number;
  cores: Record<'worker' | 'server' | 'sim' | 'bench', number | undefined>;
  cpuMsPerSeed: Record<'worker' | 'server' | 'sim' | 'bench', number | undefined>;
  peakRssMb: Record<'worker' | 'server', number | undefined>;
  /** Means from the worker's own SDK metrics, as the dataset bench prints them for `evol worker`. */
  sdk: FloorSdkFigures;
}

interface FloorSdkFigures {
  /** A workflow task from the worker's receipt to its reply, and its schedule-to-start. */
  workflowTaskMs?: number;
  workflowTaskScheduleToStartMs?: number;
  respondWorkflowTaskCompletedMs?: number;
  respondActivityTaskCompletedMs?: number;
}

async function workerMetrics(port: number): Promise<FloorSdkFigures> {
  const sdk = await scrapeWorkers([port]);
  return {
    workflowTaskMs: meanOf(sdk, 'temporal_workflow_task_execution_latency{floorInstruction}'),
    workflowTaskScheduleToStartMs: meanOf(sdk, 'temporal_workflow_task_schedule_to_start_latency'),
    respondWorkflowTaskCompletedMs: meanOf(sdk, 'temporal_request_latency{RespondWorkflowTaskCompleted}'),
    respondActivityTaskCompletedMs: meanOf(sdk, 'temporal_request_latency{RespondActivityTaskCompleted}'),
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv);
  const cleanup = new Cleanup();
  onInterrupt(cleanup, 'the worker, the simulated LLM and the Temporal server');
  try {
    const tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'evolforge-floor-'));
    cleanup.add(() => fs.rm(tempDir, { recursive: true, force: true }));
    const [port, simPort, metricsPort] = await findFreePorts(3);
    const server = await startDevServer({
      cliPath: await ensureTemporalCli({ log: note }),
      dataDir: tempDir,
      port,
      headless: true,
      reuseExisting: false,
    });
    cleanup.add(() => server.stop());
    const sim = options.http ? await startSimProcess(simPort, options.latencyMs, [], cleanup) : undefined;
    const maxConcurrent = 3 * options.concurrency + 16;
    const workerArgs = [path.join(__dirname, 'floor-worker.js'), server.address, TASK_QUEUE, String(maxConcurrent)];
    if (sim) workerArgs.push(`http://127.0.0.1:${simPort}/v1`);
    const worker = spawnNode(
      'floor worker',
      workerArgs,
      { ...process.env, FLOOR_METRICS_ADDRESS: `127.0.0.1:${metricsPort}` },
      cleanup,
    );
    await waitForOutput(worker, 'floor worker polling', 120_000);
    const connection = await Connection.connect({ address: server.address });
    cleanup.add(() => connection.close());
    const client = new Client({ connection });

    note(
      `floor: ${options.seeds} workflows, ${options.rounds} rounds, L ${options.latencyMs} ms, C ${options.concurrency}`,
    );
    const processes = new ProcessSampler({ worker: worker.pid, server: server.pid, sim: sim?.pid, bench: process.pid });
    const spans: number[] = [];
    let next = 0;
    let calls = 0;
    const startedAt = Date.now();
    const lane = async () => {
      while (next < options.seeds) {
        const i = next++;
        const began = Date.now();
        const made = await client.workflow.execute<typeof floorInstruction>('floorInstruction', {
          taskQueue: TASK_QUEUE,
          workflowId: `floor-${i}`,
          args: [options.rounds, options.latencyMs, options.payloadBytes],
        });
        calls += made;
        spans.push(Date.now() - began);
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, lane));
    const wallS = (Date.now() - startedAt) / 1000;
    await processes.stop();
    const simRequests = sim ? (await simStats(simPort)).total : undefined;
    const sdk = await workerMetrics(metricsPort);

    spans.sort((a, b) => a - b);
    const roundsPerS = (options.seeds * options.rounds) / wallS;
    const idealRoundsPerS = options.concurrency / ((ROUND_TRIPS_PER_ROUND * options.latencyMs) / 1000);
    const cpuMsPerSeed = (label: string) => {
      const cores = processes.cores(label);
      return cores === undefined ? undefined : round((cores * wallS * 1000) / options.seeds, 1);
    };
    const figures: FloorFigures = {
      seeds: options.seeds,
      rounds: options.rounds,
      latencyMs: options.latencyMs,
      concurrency: options.concurrency,
      payloadBytes: options.payloadBytes,
      http: options.http,
      wallS: round(wallS, 1),
      calls,
      ...(simRequests !== undefined ? { simRequests } : {}),
      callsPerS: round(calls / wallS, 1),
      roundsPerS: round(roundsPerS, 2),
      idealRoundsPerS: round(idealRoundsPerS, 2),
      ratio: round(roundsPerS / idealRoundsPerS, 3),
      spanP50Ms: percentile(spans, 50),
      spanP99Ms: percentile(spans, 99),
      idealSpanMs: options.rounds * ROUND_TRIPS_PER_ROUND * options.latencyMs,
      cores: {
        worker: processes.cores('worker'),
        server: processes.cores('server'),
        sim: processes.cores('sim'),
        bench: processes.cores('bench'),
      },
      cpuMsPerSeed: {
        worker: cpuMsPerSeed('worker'),
        server: cpuMsPerSeed('server'),
        sim: cpuMsPerSeed('sim'),
        bench: cpuMsPerSeed('bench'),
      },
      peakRssMb: { worker: processes.peakMb('worker'), server: processes.peakMb('server') },
      sdk,
    };
    const lines = [
      `floor: ${figures.seeds} workflows x ${figures.rounds} rounds, L ${figures.latencyMs} ms, C ${figures.concurrency}, payload ${figures.payloadBytes} B, ${options.http ? 'calls through the openai client to the simulated LLM' : 'calls wait in the activity'} (bare Temporal, no EvolForge code)`,
      `wall time:                ${figures.wallS} s`,
      `calls (activities):       ${figures.calls}, ${figures.callsPerS}/s${simRequests !== undefined ? `; the simulated LLM received ${simRequests}` : ''}`,
      `rounds/s:                 ${figures.roundsPerS}  (ideal C/(k L), k=2: ${figures.idealRoundsPerS}; ratio ${figures.ratio})`,
      `workflow span:            p50 ${figures.spanP50Ms} ms, p99 ${figures.spanP99Ms} ms; ideal ${figures.idealSpanMs} ms (start to result, seen by the client)`,
      `CPU cores used (average): worker ${figures.cores.worker}, server ${figures.cores.server}, sim ${figures.cores.sim ?? '-'}, bench ${figures.cores.bench}`,
      `CPU per workflow:         worker ${figures.cpuMsPerSeed.worker} ms, server ${figures.cpuMsPerSeed.server} ms, sim ${figures.cpuMsPerSeed.sim ?? '-'} ms, bench (the client) ${figures.cpuMsPerSeed.bench} ms`,
      `peak RSS:                 worker ${figures.peakRssMb.worker} MB, server ${figures.peakRssMb.server} MB`,
      `worker's SDK metrics:     workflow task receipt to reply ${meanMsText(sdk.workflowTaskMs)}, schedule-to-start ${meanMsText(sdk.workflowTaskScheduleToStartMs)}; RespondWorkflowTaskCompleted ${meanMsText(sdk.respondWorkflowTaskCompletedMs)}, RespondActivityTaskCompleted ${meanMsText(sdk.respondActivityTaskCompletedMs)} (means)`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (options.json) process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    await cleanup.run();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

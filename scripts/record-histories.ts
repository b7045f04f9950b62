/**
 * Records the workflow histories committed under test/fixtures/histories: this build's own, one or more per workflow
 * type. CI replays them against the current workflow code, so a change that would break this build's running
 * workflows fails the build unless it ships as a new build (docs/versioning.md). Run after a change to workflow code:
 * `npm run build && npm run record-histories`. Names after `--` (e.g. `npm run record-histories --
 * dataset-evolution-final`) write only those fixtures.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowExecutionInfo } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { NativeConnection } from '@temporalio/worker';
import {
  createAutoRun,
  createDatasetRun,
  startAutoRun,
  startDatasetRun,
  startSingleInstruction,
  startScoreRun,
  workflowIdsOf,
} from '../client/api';
import type { DatasetRunConfig } from '../core/dataset';
import { progressQuery, resumeSignal } from '../core/messages';
import { GENERAL_OPERATIONS } from '../core/operations';
import { LocalRunStore } from '../store/local-run-store';
import type { LlmConfig, LlmEndpoint } from '../core/endpoints';
import { findFreePorts, startDevServer } from '../server/dev-server';
import { startSimLlm } from '../sim/llm-server';
import { becomeCurrent } from '../client/workers';
import { createEvolWorker } from '../worker';
import { installQuietRuntime } from '../worker/runtime';

const OUT_DIR = path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'histories');

function llmAt(baseURL: string): LlmConfig {
  const endpoint = (temperature: number): LlmEndpoint => ({
    baseURL,
    model: 'sim-1',
    temperature,
    maxTokens: 256,
    apiKeyEnv: 'EVOL_RECORD_API_KEY',
    requestTimeoutMs: 5_000,
  });
  return { evolver: endpoint(0.7), responder: endpoint(0.7), judge: endpoint(0) };
}

/** A small dataset run that continues as new: its first execution (ending in continue-as-new) and its last. */
async function recordDatasetRun(client: Client, store: LocalRunStore, taskQueue: string, llm: LlmConfig) {
  const runId = 'fixture-dataset';
  const config: DatasetRunConfig = {
    rounds: 1,
    seed: 7,
    llm,
    method: 'general',
    operations: [...GENERAL_OPERATIONS],
    concurrency: 2,
    budget: {},
    prices: {},
    pageSize: 3,
    answerSeeds: true,
    quality: { unusableRetries: 2, gates: {} },
  };
  const texts = [
    'Explain tides.',
    'Describe a volcano.',
    'What is a compiler?',
    'How does bread rise?',
    'Why do birds migrate?',
    'What is inflation?',
    'How do vaccines work?',
    'Why is the sky blue?',
    'What is a prime number?',
    'How do glaciers move?',
    'What causes earthquakes?',
    'How is paper recycled?',
  ];
  const meta = await createDatasetRun(store, {
    runId,
    inputFile: 'fixture',
    seeds: texts.map((text, i) => ({ id: `s${i + 1}`, text, source: { file: 'fixture', line: i + 1 } })),
    config,
  });
  const handle = await startDatasetRun(client, taskQueue, meta);
  await handle.result();
  const executions: WorkflowExecutionInfo[] = [];
  for await (const e of client.workflow.list({ query: `WorkflowId = "${handle.workflowId}"` })) executions.push(e);
  if (executions.length < 2) throw new Error('the dataset run did not continue as new: lower the threshold');
  executions.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
  const history = (e: (typeof executions)[number]) => client.workflow.getHandle(e.workflowId, e.runId).fetchHistory();
  // Its scores: one rating per row of the final mix.
  const { handle: scoring } = await startScoreRun(client, taskQueue, meta, {
    scorer: llm.judge,
    concurrency: 3,
    seed: 0,
    perRound: 2,
  });
  await scoring.result();
  return {
    'score-run': await scoring.fetchHistory(),
    'dataset-evolution-continued': await history(executions[0]),
    'dataset-evolution-final': await history(executions[executions.length - 1]),
    // One of its instructions (`evol evolve`'s own workflow is single-instruction).
    'instruction-evolution': await client.workflow.getHandle(workflowIdsOf(meta).instruction('s1')).fetchHistory(),
  };
}

/**
 * A dataset run with a small token budget and a rate limit on its endpoint: its workflow takes the workers' spend
 * updates and pauses at the budget, an instruction is held by it until the resume, and the endpoint's rateLimiter
 * workflow leases the limit.
 */
async function recordBudgetRun(client: Client, store: LocalRunStore, taskQueue: string, llm: LlmConfig) {
  const limited = Object.fromEntries(
    Object.entries(llm).map(([role, endpoint]) => [role, { ...endpoint, rpm: 120 }]),
  ) as LlmConfig;
  const meta = await createDatasetRun(store, {
    runId: 'fixture-budget',
    inputFile: 'fixture',
    seeds: Array.from({ length: 6 }, (_, i) => ({
      id: `b${i + 1}`,
      text: `Explain how step ${i + 1} of brewing tea works.`,
      source: { file: 'fixture', line: i + 1 },
    })),
    config: {
      rounds: 1,
      seed: 3,
      llm: limited,
      method: 'general',
      operations: [...GENERAL_OPERATIONS],
      concurrency: 4,
      budget: { maxTokens: 300 },
      prices: {},
      pageSize: 10,
      answerSeeds: false,
      quality: { unusableRetries: 2, gates: {} },
    },
  });
  const handle = await startDatasetRun(client, taskQueue, meta);
  for (let i = 0; ; i++) {
    const progress = await handle.query(progressQuery);
    if (progress.status === 'paused') break;
    if (i > 600) throw new Error('the budget run did not pause');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await handle.signal(resumeSignal, { budget: { maxTokens: 1_000_000 } });
  await handle.result();
  // The execution that took the resume (the run continues as new every 60 events here).
  const executions: WorkflowExecutionInfo[] = [];
  for await (const e of client.workflow.list({ query: `WorkflowId = "${handle.workflowId}"` })) executions.push(e);
  let resumed;
  for (const e of executions) {
    const history = await client.workflow.getHandle(e.workflowId, e.runId).fetchHistory();
    const signals = history.events?.filter(
      (event) => event.workflowExecutionSignaledEventAttributes?.signalName === 'resume',
    );
    if (signals?.length) resumed = history;
  }
  if (!resumed) throw new Error('no execution of the budget run took the resume');
  const held = [];
  for (const id of ['b1', 'b2', 'b3', 'b4']) {
    const history = await client.workflow.getHandle(workflowIdsOf(meta).instruction(id)).fetchHistory();
    if (JSON.stringify(historyToJSON(history)).includes('BudgetReached')) held.push(history);
  }
  if (!held.length) throw new Error('no instruction of the budget run was held by its budget');
  const limiters: WorkflowExecutionInfo[] = [];
  for await (const e of client.workflow.list({ query: `WorkflowType = "rateLimiter"` })) limiters.push(e);
  if (!limiters.length) throw new Error('no rateLimiter workflow ran');
  return {
    'dataset-evolution-budget': resumed,
    'instruction-evolution-budget-held': held[0],
    'rate-limiter': await client.workflow.getHandle(limiters[0].workflowId, limiters[0].runId).fetchHistory(),
  };
}

/**
 * A small dataset run in Batch API mode: its batcher's first execution (it continues as new under the low threshold,
 * or ends when idle) and one of its instruction workflows, whose calls went through batch rows.
 */
async function recordBatchRun(client: Client, store: LocalRunStore, taskQueue: string, llm: LlmConfig) {
  const batched = (endpoint: LlmEndpoint): LlmEndpoint => ({ ...endpoint, batch: true });
  const config: DatasetRunConfig = {
    rounds: 1,
    seed: 7,
    llm: { evolver: batched(llm.evolver), responder: batched(llm.responder), judge: batched(llm.judge) },
    method: 'general',
    operations: [...GENERAL_OPERATIONS],
    concurrency: 3,
    budget: {},
    prices: {},
    pageSize: 3,
    answerSeeds: true,
    quality: { unusableRetries: 2, gates: {} },
    batch: { maxWaitMs: 200, pollInitialMs: 200, pollMaxMs: 500, idleExitMs: 1000 },
  };
  const texts = ['Explain how sails work.', 'Describe a coral reef.', 'What is a spreadsheet?'];
  const meta = await createDatasetRun(store, {
    runId: 'fixture-batch',
    inputFile: 'fixture',
    seeds: texts.map((text, i) => ({ id: `b${i + 1}`, text, source: { file: 'fixture', line: i + 1 } })),
    config,
  });
  const handle = await startDatasetRun(client, taskQueue, meta);
  await handle.result();
  const ids = workflowIdsOf(meta);
  // The batcher ends once idle: wait for it, through any continue-as-new.
  await client.workflow.getHandle(ids.batch).result();
  const executions: WorkflowExecutionInfo[] = [];
  for await (const e of client.workflow.list({ query: `WorkflowId = "${ids.batch}"` })) executions.push(e);
  executions.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
  return {
    'batch-evolution': await client.workflow.getHandle(ids.batch, executions[0].runId).fetchHistory(),
    'instruction-evolution-batch': await client.workflow.getHandle(ids.instruction('b1')).fetchHistory(),
  };
}

/** A short Auto Evol-Instruct learning: a baseline and two optimization steps. */
async function recordAutoEvol(client: Client, store: LocalRunStore, taskQueue: string, llm: LlmConfig) {
  const texts = Array.from({ length: 8 }, (_, i) => `Describe step ${i + 1} of making paper by hand.`);
  const meta = await createAutoRun(store, {
    runId: 'fixture-auto',
    inputFile: 'fixture',
    seeds: texts.map((text, i) => ({ id: `a${i + 1}`, text, source: { file: 'fixture', line: i + 1 } })),
    settings: {
      steps: 2,
      candidates: 2,
      batchSize: 2,
      devSize: 3,
      evolutionsPerInstruction: 1,
      concurrency: 4,
      patience: 2,
    },
    llm: {
      evol: { ...llm.evolver, temperature: 0 },
      optimizer: { ...llm.evolver, temperature: 0.6 },
      responder: llm.responder,
    },
  });
  const handle = await startAutoRun(client, taskQueue, meta);
  await handle.result();
  return { 'auto-evol': await handle.fetchHistory() };
}

async function main(): Promise<void> {
  installQuietRuntime();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'evolforge-record-'));
  const [port] = await findFreePorts(1);
  // A low threshold, so the dataset workflow's recorded history includes a continue-as-new.
  const server = await startDevServer({
    dataDir,
    port,
    headless: true,
    reuseExisting: false,
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 60 },
  });
  // One unusable verdict, one judged-equal round and one rate-limited call, so the history holds a re-ask, an
  // elimination and a retry.
  const sim = await startSimLlm({
    batchCompletionDelayMs: 300,
    rules: [
      { match: { kind: 'judge' }, content: 'Hard to say which is harder.', times: 1 },
      { match: { kind: 'judge' }, content: 'EQUAL', times: 1 },
      { match: { kind: 'respond' }, status: 429, headers: { 'retry-after': '1' }, times: 1 },
    ],
  });
  const connection = await Connection.connect({ address: server.address });
  const native = await NativeConnection.connect({ address: server.address });
  const taskQueue = 'record-histories';
  const store = new LocalRunStore(path.join(dataDir, 'runs'));
  const evolWorker = await createEvolWorker({ connection: native, taskQueue, store });
  try {
    const client = new Client({ connection });
    const histories = await evolWorker.worker.runUntil(async () => {
      // The recording server's only build: new workflows go to it.
      await becomeCurrent(client, evolWorker.version, { always: true, taskQueue });
      const handle = await startSingleInstruction(client, taskQueue, {
        runId: 'fixture',
        instructionId: 'rainbow',
        instruction: 'Explain how a rainbow forms.',
        rounds: 4,
        seed: 42,
        llm: llmAt(sim.url),
      });
      await handle.result();
      return {
        'single-instruction': await handle.fetchHistory(),
        ...(await recordDatasetRun(client, store, taskQueue, llmAt(sim.url))),
        ...(await recordAutoEvol(client, store, taskQueue, llmAt(sim.url))),
        ...(await recordBudgetRun(client, store, taskQueue, llmAt(sim.url))),
        ...(await recordBatchRun(client, store, taskQueue, llmAt(sim.url))),
      };
    });
    await fs.mkdir(OUT_DIR, { recursive: true });
    const only = process.argv.slice(2);
    for (const [name, history] of Object.entries(histories)) {
      if (only.length && !only.includes(name)) continue;
      const file = path.join(OUT_DIR, `${name}.json`);
      await fs.writeFile(file, `${historyToJSON(history)}\n`);
      console.log(`wrote ${path.relative(process.cwd(), file)} (${history.events?.length ?? 0} events)`);
    }
  } finally {
    await evolWorker.shutdown();
    await native.close();
    await connection.close();
    await sim.close();
    await server.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

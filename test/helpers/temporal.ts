/**
 * Test harness: connects to the dev server the global setup started, runs real workers on the
 * workflow bundle it built, and points every LLM role at a simulated OpenAI-compatible server.
 */
import { Client, Connection } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { installQuietRuntime } from '../../worker/runtime';
import { LocalRunStore } from '../../store/local-run-store';
import type { RunStore } from '../../store/types';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createActivities, LlmGateway } from '../../activities';
import type { LlmConfig, LlmEndpoint } from '../../core/endpoints';
import { dataConverterFor } from '../../codec/aes-gcm';
import { becomeCurrent } from '../../client/workers';
import { buildIdOf } from '../../worker/versioning';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the jest global setup should have started a dev server`);
  return value;
}

export const testAddress = () => required('EVOL_TEST_TEMPORAL_ADDRESS');
export const workflowBundle = () => ({ codePath: required('EVOL_TEST_WORKFLOW_BUNDLE') });

/** @param codec payload codec of the client (encryption); default none. */
export async function connectClient(codec?: PayloadCodec): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: testAddress() });
  return {
    client: new Client({ connection, namespace: 'default', dataConverter: dataConverterFor(codec) }),
    connection,
  };
}

/** The Worker Deployment of the tests' in-process workers (worker processes use the default one). */
export const TEST_DEPLOYMENT = 'evolforge-tests';

let queueCounter = 0;
export function uniqueTaskQueue(label: string): string {
  return `test-${label}-${process.pid}-${Date.now().toString(36)}-${queueCounter++}`;
}

export interface TestWorker {
  worker: Worker;
  connection: NativeConnection;
  /** Shuts the worker down, waits for it to stop, closes its connection. */
  close(): Promise<void>;
}

export async function startWorker(options: {
  taskQueue: string;
  env?: () => NodeJS.ProcessEnv;
  /** Default: a LocalRunStore in a fresh temp dir. */
  store?: RunStore;
  maxConcurrentActivityTaskExecutions?: number;
  /** Payload codec (encryption); default none, whatever the environment says. */
  codec?: PayloadCodec;
}): Promise<TestWorker> {
  installQuietRuntime();
  const connection = await NativeConnection.connect({ address: testAddress() });
  const bundle = workflowBundle();
  // Every worker that runs EvolForge's workflows is versioned (they declare their versioning behaviour): the tests'
  // workers are builds of a deployment of their own.
  const version = { deploymentName: TEST_DEPLOYMENT, buildId: buildIdOf(fs.readFileSync(bundle.codePath, 'utf8')) };
  const worker = await Worker.create({
    connection,
    taskQueue: options.taskQueue,
    workflowBundle: bundle,
    workerDeploymentOptions: { version, useWorkerVersioning: true, defaultVersioningBehavior: 'PINNED' },
    activities: createActivities({
      llm: new LlmGateway({ env: options.env }),
      store: options.store ?? new LocalRunStore(fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-store-'))),
    }),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 20,
    dataConverter: dataConverterFor(options.codec),
  });
  const running = worker.run();
  const { client, connection: clientConnection } = await connectClient();
  try {
    await becomeCurrent(client, version, { always: true, taskQueue: options.taskQueue });
  } finally {
    await clientConnection.close();
  }
  return {
    worker,
    connection,
    close: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

/** Every role at the given OpenAI-compatible base URL; short timeouts so faults resolve fast. */
export function llmAt(baseURL: string, overrides: Partial<LlmEndpoint> = {}): LlmConfig {
  const endpoint = (temperature: number): LlmEndpoint => ({
    baseURL,
    model: 'sim-1',
    temperature,
    maxTokens: 256,
    apiKeyEnv: 'EVOL_TEST_API_KEY',
    requestTimeoutMs: 5_000,
    ...overrides,
  });
  return { evolver: endpoint(0.7), responder: endpoint(0.7), judge: endpoint(0) };
}

/** Polls `probe` until it returns a value, or fails after the deadline. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

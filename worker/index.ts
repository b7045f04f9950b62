/**
 * Wires a Temporal worker: connection, task queue, tuning and EvolForge's activities.
 * Tuning that matters against rate-limited LLM APIs:
 * - maxConcurrentActivityTaskExecutions bounds in-flight LLM calls per worker;
 * - maxTaskQueueActivitiesPerSecond is enforced by the server across every worker of the queue,
 *   so one provider limit holds however many workers run;
 * - the heap's growth between full garbage collections is bounded (see limitHeapGrowth).
 */
import type { DataConverter, WorkerDeploymentVersion } from '@temporalio/common';
import { NativeConnection, Worker, type NativeConnectionOptions } from '@temporalio/worker';
import { createActivities, LlmGateway } from '../activities';
import { dataConverterFor, loadCodecFromEnv } from '../codec/aes-gcm';
import { lazySimulatedLlm } from '../sim/lazy';
import { openRunStore, storeLocation } from '../store/location';
import type { RunStore } from '../store/types';
import { limitHeapGrowth } from './heap';
import { storeRequestCounter } from './runtime';
import { deploymentVersionOf } from './versioning';
import { loadWorkflowBundle } from './workflow-source';

export const DEFAULT_TASK_QUEUE = 'evolforge';

export interface EvolWorkerOptions {
  connection: NativeConnection;
  /** Default: 'default'. */
  namespace?: string;
  /** Default: DEFAULT_TASK_QUEUE ('evolforge'). */
  taskQueue?: string;
  /**
   * The run store the activities use. Default: the store EVOL_STORE names (store/location.ts), else .evolforge/runs;
   * a bucket's requests are then counted in the worker's metrics (storeRequestCounter).
   */
  store?: RunStore;
  /** In-flight activities (LLM calls) per worker. Default: 100. */
  maxConcurrentActivityTaskExecutions?: number;
  /** Server-side limit of activity starts per second for the whole task queue. Default: none. */
  maxTaskQueueActivitiesPerSecond?: number;
  /** Payload codecs (encryption). Default: the AES-GCM codec EVOL_CODEC_KEY / EVOL_CODEC_KEY_FILE configure, if any. */
  dataConverter?: DataConverter;
  /** The workflow code. Default: the bundle `npm run build` wrote (worker/workflow-source.ts). */
  workflowBundle?: { code: string };
  /** Its Worker Deployment. Default: EVOL_DEPLOYMENT_NAME, else `evolforge`. */
  deploymentName?: string;
}

export interface EvolWorker {
  worker: Worker;
  /** Its deployment and build (worker/versioning.ts). */
  version: WorkerDeploymentVersion;
  /** Stops polling, lets running activities finish, closes the simulated LLM if one was started. */
  shutdown(): Promise<void>;
}

export async function createEvolWorker(options: EvolWorkerOptions): Promise<EvolWorker> {
  limitHeapGrowth();
  const sim = lazySimulatedLlm();
  const activities = createActivities({
    llm: new LlmGateway({ simulatedBaseUrl: sim.baseUrl }),
    store: options.store ?? openRunStore(storeLocation(), process.env, { onRequest: storeRequestCounter() }),
  });
  const workflowBundle = options.workflowBundle ?? (await loadWorkflowBundle());
  const version = {
    ...deploymentVersionOf(workflowBundle.code),
    ...(options.deploymentName ? { deploymentName: options.deploymentName } : {}),
  };
  const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
    workflowBundle,
    // Workflows without a behaviour of their own stay on the build they started on (docs/versioning.md).
    workerDeploymentOptions: { version, useWorkerVersioning: true, defaultVersioningBehavior: 'PINNED' },
    activities,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 100,
    maxTaskQueueActivitiesPerSecond: options.maxTaskQueueActivitiesPerSecond,
    dataConverter: options.dataConverter ?? dataConverterFor(loadCodecFromEnv()),
  });
  return {
    worker,
    version,
    shutdown: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await sim.close();
    },
  };
}

export async function connectWorker(options: NativeConnectionOptions): Promise<NativeConnection> {
  return NativeConnection.connect(options);
}

/**
 * The builds of EvolForge's Worker Deployment and what runs on each: `evol workers`, `evol workers current BUILD`,
 * and making a worker's build current (which `evol` does itself on the embedded server, and `evol worker` does for
 * the first build of a deployment). See docs/versioning.md for how a release rolls out.
 */
import { isGrpcServiceError, type Client } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { UserError } from '../core/validation';

/** The workflow types EvolForge runs, in the order `evol workers` lists them. */
export const WORKFLOW_TYPES = [
  'datasetEvolution',
  'instructionEvolution',
  'singleInstructionEvolution',
  'batchEvolution',
  'rateLimiter',
  'autoEvol',
  'scoreRun',
] as const;

export interface BuildSummary {
  buildId: string;
  /** current, ramping, draining (pinned workflows still on it), drained, inactive. */
  status: string;
  createdAt?: Date;
  /** Running workflows on this build, by type (types with none left out). */
  running: Partial<Record<(typeof WORKFLOW_TYPES)[number], number>>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function statusName(status: temporal.api.enums.v1.WorkerDeploymentVersionStatus | null | undefined): string {
  const name = temporal.api.enums.v1.WorkerDeploymentVersionStatus[status ?? 0] ?? 'UNSPECIFIED';
  return name.replace('WORKER_DEPLOYMENT_VERSION_STATUS_', '').toLowerCase();
}

/** The deployment's versions, or none when the server has no such deployment yet. */
async function describeDeployment(client: Client, deploymentName: string) {
  try {
    const { workerDeploymentInfo } = await client.workflowService.describeWorkerDeployment({
      namespace: client.options.namespace,
      deploymentName,
    });
    return workerDeploymentInfo ?? undefined;
  } catch (err) {
    if (isGrpcServiceError(err) && err.code === 5 /* NOT_FOUND */) return undefined;
    throw err;
  }
}

/** The build new workflows go to now, if the deployment has one. */
export async function currentBuildOf(client: Client, deploymentName: string): Promise<string | undefined> {
  const info = await describeDeployment(client, deploymentName);
  return info?.routingConfig?.currentDeploymentVersion?.buildId ?? undefined;
}

/**
 * Makes a build current: new workflows of its task queues go to it, pinned workflows stay where they started, and
 * auto-upgrading ones move to it at their next workflow task. The server knows a build once one of its workers has
 * polled, which takes a moment after it starts: asked again until then, within `timeoutMs`.
 */
export async function makeCurrent(
  client: Client,
  version: WorkerDeploymentVersion,
  { timeoutMs = 30_000 }: { timeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.workflowService.setWorkerDeploymentCurrentVersion({
        namespace: client.options.namespace,
        deploymentName: version.deploymentName,
        buildId: version.buildId,
        identity: client.options.identity,
      });
      return;
    } catch (err) {
      const notYetKnown = isGrpcServiceError(err) && (err.code === 5 || err.code === 9); // NOT_FOUND, FAILED_PRECONDITION
      if (!notYetKnown || Date.now() > deadline) {
        throw new UserError(
          `could not make build ${version.buildId} of deployment "${version.deploymentName}" current: ${(err as Error).message}. Is a worker of that build running on this task queue?`,
        );
      }
      await sleep(250);
    }
  }
}

/**
 * Waits until the server counts `taskQueue` among the build's task queues (its worker's first poll there): a
 * workflow started on the queue before that would not be routed to the build.
 */
export async function awaitTaskQueue(
  client: Client,
  version: WorkerDeploymentVersion,
  taskQueue: string,
  { timeoutMs = 30_000 }: { timeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { workerDeploymentVersionInfo } = await client.workflowService.describeWorkerDeploymentVersion({
        namespace: client.options.namespace,
        deploymentVersion: version,
      });
      if (workerDeploymentVersionInfo?.taskQueueInfos?.some((q) => q.name === taskQueue)) return;
    } catch (err) {
      if (!(isGrpcServiceError(err) && err.code === 5)) throw err;
    }
    if (Date.now() > deadline) {
      throw new UserError(
        `build ${version.buildId} of deployment "${version.deploymentName}" has not polled task queue "${taskQueue}" within ${timeoutMs / 1000} s: is its worker connected to this Temporal server?`,
      );
    }
    await sleep(100);
  }
}

/**
 * Makes this worker's build current when asked to (`always`: the embedded server, or `evol worker --make-current`),
 * or when the deployment has no current build yet (its first workers): nothing would run otherwise. Returns once the
 * build polls `taskQueue`, so that a workflow started next is routed to it.
 */
export async function becomeCurrent(
  client: Client,
  version: WorkerDeploymentVersion,
  { always, taskQueue }: { always: boolean; taskQueue: string },
): Promise<void> {
  await awaitTaskQueue(client, version, taskQueue);
  const current = await currentBuildOf(client, version.deploymentName);
  if (current === version.buildId) return;
  if (always || current === undefined) await makeCurrent(client, version);
}

/** Running workflows on one build, by type (those of one run, with `runId`). */
async function runningOn(
  client: Client,
  deploymentName: string,
  buildId: string,
  runId?: string,
): Promise<BuildSummary['running']> {
  const running: BuildSummary['running'] = {};
  const ofRun = runId ? ` AND EvolRunId = "${runId}"` : '';
  await Promise.all(
    WORKFLOW_TYPES.map(async (type) => {
      const { count } = await client.workflow.count(
        `TemporalWorkerDeploymentVersion = "${deploymentName}:${buildId}" AND ExecutionStatus = "Running" AND WorkflowType = "${type}"${ofRun}`,
      );
      if (count > 0) running[type] = count;
    }),
  );
  return running;
}

/** Every build of the deployment, newest first, with what still runs on it (of one run, with `runId`). */
export async function buildsOf(client: Client, deploymentName: string, runId?: string): Promise<BuildSummary[]> {
  const info = await describeDeployment(client, deploymentName);
  const summaries = info?.versionSummaries ?? [];
  const builds = await Promise.all(
    summaries.map(async (summary): Promise<BuildSummary> => {
      const buildId = summary.deploymentVersion?.buildId ?? '';
      const seconds = summary.createTime?.seconds;
      return {
        buildId,
        status: statusName(summary.status),
        ...(seconds != null ? { createdAt: new Date(Number(seconds) * 1000) } : {}),
        running: await runningOn(client, deploymentName, buildId, runId),
      };
    }),
  );
  return builds.sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0));
}

/** `evol workers` as text: one line per build. */
export function formatBuilds(deploymentName: string, builds: readonly BuildSummary[]): string {
  if (builds.length === 0) return `No worker of deployment "${deploymentName}" has polled this Temporal server yet.`;
  return [
    `Deployment "${deploymentName}":`,
    ...builds.map((b) => {
      const running = Object.entries(b.running)
        .map(([type, n]) => `${n} ${type}`)
        .join(', ');
      return `  ${b.buildId}  ${b.status}${b.createdAt ? `  since ${b.createdAt.toISOString()}` : ''}  running: ${running || 'nothing'}`;
    }),
  ].join('\n');
}

/** For `evol status`: the builds a run's workflows run on now, one line each (none when nothing runs). */
export function formatRunBuilds(builds: readonly BuildSummary[]): string[] {
  return builds
    .filter((b) => Object.keys(b.running).length > 0)
    .map(
      (b) =>
        `  build ${b.buildId} (${b.status}): ${Object.entries(b.running)
          .map(([type, n]) => `${n} ${type}`)
          .join(', ')}`,
    );
}

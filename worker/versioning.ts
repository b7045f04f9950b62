/**
 * Worker Deployment Versioning: every worker declares its deployment and its build, and each workflow runs on the
 * build its versioning behaviour says (docs/versioning.md): instructions stay on the build they started on
 * (pinned), long-lived workflows move to the current build (auto-upgrade).
 */
import { createHash } from 'node:crypto';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { EVOLFORGE_RELEASE } from '../core/release';
import { UserError } from '../core/validation';

export const DEFAULT_DEPLOYMENT_NAME = 'evolforge';

/** The deployment a worker belongs to: EVOL_DEPLOYMENT_NAME, default `evolforge`. */
export function deploymentNameOf(env: NodeJS.ProcessEnv = process.env): string {
  const name = env.EVOL_DEPLOYMENT_NAME?.trim() || DEFAULT_DEPLOYMENT_NAME;
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(name)) {
    throw new UserError(
      `EVOL_DEPLOYMENT_NAME must be 1-128 letters, digits, dashes or underscores, not "${name}": fix or unset it`,
    );
  }
  return name;
}

/**
 * A build id from the release and the workflow bundle: `0.2.0-<12 hex>`. Two different bundles never share one,
 * and workers built from the same code (the same install layout) always do, on any machine.
 */
export function buildIdOf(bundleCode: string): string {
  return `${EVOLFORGE_RELEASE}-${createHash('sha256').update(bundleCode).digest('hex').slice(0, 12)}`;
}

export function deploymentVersionOf(bundleCode: string, env: NodeJS.ProcessEnv = process.env): WorkerDeploymentVersion {
  return { deploymentName: deploymentNameOf(env), buildId: buildIdOf(bundleCode) };
}

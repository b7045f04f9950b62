/**
 * Which release of EvolForge this is, and which runs it can run. A run's meta records the release that created it;
 * runs created before worker versioning (0.1.0) record none, and their workflows only run on that release's workers
 * (docs/versioning.md). A unit test holds this to package.json's version.
 */
import { UserError } from './validation';

export const EVOLFORGE_RELEASE = '0.2.0';

/** The release before worker versioning, and its last commit, for the message that sends such a run there. */
export const UNVERSIONED_RELEASE = { version: '0.1.0', commit: 'a4ec839' } as const;

/**
 * Refuses to start or touch the workflows of a run created before worker versioning: they were started on workers
 * without a build id, which only that release runs. Reading its store (export, report) stays possible.
 */
export function requireVersionedRun(meta: { runId: string; release?: string }): void {
  if (meta.release) return;
  const { version, commit } = UNVERSIONED_RELEASE;
  throw new UserError(
    `run "${meta.runId}" was created by EvolForge ${version}, before worker versioning: this release (${EVOLFORGE_RELEASE}) does not run its workflows. ` +
      `Finish it with ${version} (\`git checkout ${commit} && npm ci && npm run build\`, then its evol commands), ` +
      `or take what it has: \`evol export ${meta.runId}\`, \`evol report ${meta.runId}\`.`,
  );
}

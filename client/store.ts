/** `evol store check` and `evol store copy`: is a store usable, and moving a run from one store to another. */
import { randomBytes } from 'node:crypto';
import { UserError } from '../core/validation';
import { copyRun } from '../store/copy';
import { openObjectStore, storeLocation } from '../store/location';
import { S3Objects } from '../store/s3-objects';
import { stderr } from './format';
import { plural } from '../core/plural';
import { EXIT } from './errors';

/**
 * Checks that the store can be read and written, and that a write-once object really is written once: a second
 * conditional write of the same key must be refused (S3: `If-None-Match: *` answered with 412).
 */
export async function runStoreCheck(location: string | undefined, options: { createBucket?: boolean }): Promise<void> {
  const where = storeLocation(location);
  const objects = openObjectStore(where);
  try {
    if (objects instanceof S3Objects) {
      if (!(await objects.bucketExists())) {
        if (!options.createBucket) {
          throw new UserError(
            `the bucket "${objects.bucket}" does not exist: create it, or run \`evol store check ${where} --create-bucket\``,
          );
        }
        await objects.createBucket();
        stderr(`Created the bucket "${objects.bucket}".`);
      }
    }
    const probe = `.evolforge-check/${randomBytes(6).toString('hex')}`;
    const first = await objects.putOnce(probe, 'first');
    const second = await objects.putOnce(probe, 'second');
    const kept = await objects.get(probe);
    await objects.delete(probe);
    if (first !== 'written')
      throw new UserError(`${where}: a new object was reported as existing; is something else writing there?`);
    process.stdout.write(`${where}: reads, writes, lists and removes objects.\n`);
    if (second === 'exists' && kept === 'first') {
      process.stdout.write('Write-once objects are written once: a second conditional write is refused.\n');
    } else {
      process.stdout.write(
        'Warning: this server ignores conditional writes (If-None-Match). A retried write then replaces an object with the same text, so runs stay correct, but a record written twice is not told apart from one written once.\n',
      );
      process.exitCode = EXIT.writeOnceIgnored;
    }
  } finally {
    if (objects instanceof S3Objects) objects.close();
  }
}

/** Copies a run to another store (`--to`), from the current one or `--from`. */
export async function runStoreCopy(runId: string, options: { from?: string; to: string }): Promise<void> {
  const fromLocation = storeLocation(options.from);
  const toLocation = storeLocation(options.to);
  if (fromLocation === toLocation)
    throw new UserError(`--to is the store the run is in (${fromLocation}): nothing to copy`);
  const from = openObjectStore(fromLocation);
  const to = openObjectStore(toLocation);
  try {
    stderr(`Copying run ${runId} from ${fromLocation} to ${toLocation}...`);
    const started = Date.now();
    const copied = await copyRun(
      from,
      to,
      runId,
      (n) => process.stderr.isTTY && process.stderr.write(`\r${plural(n, 'object')}`),
    );
    if (process.stderr.isTTY) process.stderr.write('\n');
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    stderr(
      `Copied run ${runId}: ${plural(copied.objects, 'object')}, ${(copied.bytes / 1024).toFixed(0)} KB in ${seconds} s. Workers with EVOL_STORE=${toLocation} can go on with it.`,
    );
  } finally {
    for (const objects of [from, to]) if (objects instanceof S3Objects) objects.close();
  }
}

/**
 * Files a command reads or writes that may be in a bucket: `evol run --input s3://…`, `evol export --out s3://…`,
 * `evol report --out s3://…`. An object is fetched to a temporary file to be read, and a file written locally first
 * is put whole, so a reader of the bucket never sees half of it.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../core/validation';
import { isS3Url, parseS3Url, S3Objects } from '../store/s3-objects';

export { isS3Url } from '../store/s3-objects';

/** The bucket (with no prefix) and the key of an `s3://bucket/key` URL. */
function objectAt(url: string): { objects: S3Objects; key: string } {
  const { bucket, prefix } = parseS3Url(url);
  if (!prefix) throw new UserError(`"${url}" names a bucket, not a file in it: write s3://${bucket}/PATH/FILE`);
  return { objects: new S3Objects(`s3://${bucket}`), key: prefix };
}

async function inTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'evolforge-object-'));
  try {
    return await fn(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Calls `read` with a local path holding the file at `location` (itself, or a fetched copy of an object). */
export async function withLocalCopy<T>(location: string, read: (file: string) => Promise<T>): Promise<T> {
  if (!isS3Url(location)) return read(location);
  const { objects, key } = objectAt(location);
  try {
    return await inTempDir(async (dir) => {
      const bytes = await objects.getBytes(key);
      if (bytes === undefined) throw new UserError(`${location} does not exist: check the bucket and the path`);
      const file = path.join(dir, path.basename(key));
      await fs.writeFile(file, bytes);
      return read(file);
    });
  } finally {
    objects.close();
  }
}

/**
 * Writes an output at `location`: `write` gets a local path to write (the location itself, or a temporary file that
 * is then put in the bucket whole). Returns what to show the user: the absolute path or the URL.
 */
export async function writeOutput(
  location: string,
  write: (file: string) => Promise<unknown>,
  contentType?: string,
): Promise<string> {
  if (!isS3Url(location)) {
    await write(location);
    return path.resolve(location);
  }
  const { objects, key } = objectAt(location);
  try {
    await inTempDir(async (dir) => {
      const file = path.join(dir, path.basename(key));
      await write(file);
      await objects.putBytes(key, await fs.readFile(file), contentType);
    });
  } finally {
    objects.close();
  }
  return location;
}

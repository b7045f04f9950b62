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

/**
 * A folder an output of several files is published to (`evol export --dataset`): a directory, or a prefix in a bucket.
 * Files are written locally first, in `staging`, then put in whole, one by one.
 */
export interface OutputFolder {
  /** The folder as the user named it: an absolute path or the URL. */
  readonly location: string;
  /** A local directory to write files in before they are put (on the folder's own disk, so a put is a rename). */
  readonly staging: string;
  /** The text of a file of the folder (`README.md`), or undefined when there is none. */
  read(name: string): Promise<string | undefined>;
  /** The names of the files right in a sub-folder (`data`). */
  list(folder: string): Promise<string[]>;
  /** Puts a staged file in as `name` (`data/x.parquet`), replacing any. */
  put(name: string, file: string, contentType?: string): Promise<void>;
  remove(name: string): Promise<void>;
}

/** Calls `publish` with the folder at `location`; its staging directory is removed afterwards, whatever happens. */
export async function withOutputFolder<T>(location: string, publish: (folder: OutputFolder) => Promise<T>): Promise<T> {
  return isS3Url(location) ? withBucketFolder(location, publish) : withLocalFolder(path.resolve(location), publish);
}

async function withLocalFolder<T>(dir: string, publish: (folder: OutputFolder) => Promise<T>): Promise<T> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (stat && !stat.isDirectory()) throw new UserError(`${dir} is a file, not a folder: name a folder to export into`);
  await fs.mkdir(dir, { recursive: true });
  const staging = await fs.mkdtemp(path.join(dir, '.evol-staging-'));
  const folder: OutputFolder = {
    location: dir,
    staging,
    read: async (name) =>
      fs.readFile(path.join(dir, name), 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      }),
    list: async (sub) => (await fs.readdir(path.join(dir, sub)).catch(() => [] as string[])).sort(),
    put: async (name, file) => {
      await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await fs.rename(file, path.join(dir, name));
    },
    remove: (name) => fs.rm(path.join(dir, name), { force: true }),
  };
  try {
    return await publish(folder);
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

async function withBucketFolder<T>(url: string, publish: (folder: OutputFolder) => Promise<T>): Promise<T> {
  const objects = new S3Objects(url.replace(/\/+$/, ''));
  try {
    return await inTempDir((staging) =>
      publish({
        location: objects.location,
        staging,
        read: (name) => objects.get(name),
        list: async (sub) => {
          const names: string[] = [];
          for await (const page of objects.list(`${sub}/`)) names.push(...page.map((key) => key.slice(sub.length + 1)));
          return names.filter((name) => !name.includes('/')).sort();
        },
        put: async (name, file, contentType) => objects.putBytes(name, await fs.readFile(file), contentType),
        remove: (name) => objects.delete(name),
      }),
    );
  } finally {
    objects.close();
  }
}

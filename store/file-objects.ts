/**
 * Objects as files under one directory (the embedded default, `.evolforge/runs`): a key's parts are its path.
 * Writes are atomic: a file is written beside its final name under a hidden temporary name, then renamed into place
 * (put) or hard-linked there, which fails if the name is taken (putOnce). Hidden names are never listed.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { StoreAccessError } from './errors';
import type { ObjectStore } from './objects';

const PAGE_SIZE = 1000;

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** What a person must do about a disk that refuses: these do not pass by themselves. */
const NEEDS_A_PERSON: Record<string, string> = {
  EACCES: 'this user may not write there: fix its permissions, or point EVOL_STORE (or EVOL_DATA_DIR) elsewhere',
  EPERM: 'this user may not write there: fix its permissions, or point EVOL_STORE (or EVOL_DATA_DIR) elsewhere',
  EROFS: 'the disk is read-only: point EVOL_STORE (or EVOL_DATA_DIR) at a writable one',
  ENOSPC: 'the disk is full: free some space',
  EDQUOT: "the user's disk quota is used up: free some space",
};

/** An error a person must fix, as a StoreAccessError that says so; any other as it is. */
export function explain(err: unknown, file: string): unknown {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const fix = NEEDS_A_PERSON[code];
  return fix ? new StoreAccessError(`the run store cannot use ${file} (${code}): ${fix}`) : err;
}

export class FileObjects implements ObjectStore {
  readonly readParallelism = 64;

  constructor(readonly root: string) {}

  get location(): string {
    return this.root;
  }

  describe(key: string): string {
    return this.pathOf(key);
  }

  private pathOf(key: string): string {
    const parts = key.split('/').filter(Boolean);
    if (parts.some((part) => part === '.' || part === '..')) throw new Error(`not a usable object key: "${key}"`);
    return path.join(this.root, ...parts);
  }

  async get(key: string): Promise<string | undefined> {
    const file = this.pathOf(key);
    try {
      return await fs.readFile(file, 'utf8');
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw explain(err, file);
    }
  }

  async exists(key: string): Promise<boolean> {
    return fs.stat(this.pathOf(key)).then(
      (stat) => stat.isFile(),
      () => false,
    );
  }

  /** Writes `body` to a hidden file beside `final`, hands it to `place`, and removes it if it is still there. */
  private async staged<T>(final: string, body: string, place: (temp: string) => Promise<T>): Promise<T> {
    const temp = path.join(path.dirname(final), `.${path.basename(final)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await fs.mkdir(path.dirname(final), { recursive: true });
      await fs.writeFile(temp, body);
      return await place(temp);
    } catch (err) {
      throw explain(err, final);
    } finally {
      await fs.rm(temp, { force: true });
    }
  }

  async put(key: string, body: string): Promise<void> {
    const final = this.pathOf(key);
    await this.staged(final, body, (temp) => fs.rename(temp, final));
  }

  async putOnce(key: string, body: string): Promise<'written' | 'exists'> {
    const final = this.pathOf(key);
    return this.staged(final, body, async (temp) => {
      try {
        await fs.link(temp, final);
        return 'written' as const;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'exists' as const;
        throw err;
      }
    });
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.pathOf(key), { force: true });
  }

  async *list(prefix: string): AsyncIterable<string[]> {
    let page: string[] = [];
    for await (const key of this.walk(prefix ? prefix.replace(/\/?$/, '/') : '')) {
      page.push(key);
      if (page.length === PAGE_SIZE) {
        yield page;
        page = [];
      }
    }
    if (page.length) yield page;
  }

  /** The files under a key prefix, depth first, names in order; hidden names (temporary files) skipped. */
  private async *walk(prefix: string): AsyncIterable<string> {
    const entries = await fs.readdir(this.pathOf(prefix), { withFileTypes: true }).catch((err: unknown) => {
      if (isMissing(err)) return [];
      throw err;
    });
    for (const entry of entries.filter((e) => !e.name.startsWith('.')).sort(byName)) {
      if (entry.isDirectory()) yield* this.walk(`${prefix}${entry.name}/`);
      else if (entry.isFile()) yield `${prefix}${entry.name}`;
    }
  }

  async children(prefix: string): Promise<string[]> {
    const entries = await fs.readdir(this.pathOf(prefix), { withFileTypes: true }).catch((err: unknown) => {
      if (isMissing(err)) return [];
      throw err;
    });
    return entries
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  }
}

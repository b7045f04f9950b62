/**
 * What a run store needs of the place it keeps its files: whole objects under string keys, written once or
 * replaced whole, listed a page at a time. A directory on a local disk and an S3-compatible bucket both give this;
 * everything else (the layout of a run, JSON, caching) is written once, in store/object-run-store.ts.
 */

/** The kinds of request an object store is billed by (a bucket's HEAD and create count as HEAD and PUT). */
export const OBJECT_REQUEST_KINDS = ['GET', 'HEAD', 'PUT', 'LIST', 'DELETE'] as const;
export type ObjectRequestKind = (typeof OBJECT_REQUEST_KINDS)[number];

/**
 * Told of every request a remote object store sends, as it is answered (each HTTP attempt, retries included, whatever
 * the status): its kind and the body bytes it carried (a PUT's object; a GET's object or a LIST's page, when answered).
 */
export type ObjectRequestHook = (kind: ObjectRequestKind, bytes: number) => void;

/** Options of the stores that send requests (S3); a directory ignores them. */
export interface ObjectStoreOptions {
  onRequest?: ObjectRequestHook;
}

/** Keys are relative paths with `/` between their parts, e.g. `r1/records/0a/s1.json`. */
export interface ObjectStore {
  /** Where the objects live, for messages: a directory, or `s3://bucket/prefix`. */
  readonly location: string;
  /** How one object is named to a person: a file path, or an `s3://` URL. */
  describe(key: string): string;
  /** The object's text, or undefined when there is none. */
  get(key: string): Promise<string | undefined>;
  exists(key: string): Promise<boolean>;
  /** Writes the object whole, replacing any: a reader sees the old text or the new, never a part. */
  put(key: string, body: string): Promise<void>;
  /** Writes the object whole unless one is there; then it changes nothing and says 'exists'. */
  putOnce(key: string, body: string): Promise<'written' | 'exists'>;
  /** Removes the object; none there is fine. */
  delete(key: string): Promise<void>;
  /** Every key under `prefix` (which ends in `/`), a page at a time, each once, in no promised order. */
  list(prefix: string): AsyncIterable<string[]>;
  /** The names of the "folders" right under `prefix` (`''` for the top): the runs of a store. */
  children(prefix: string): Promise<string[]>;
  /** Objects read at once when many are read (a run's records): a disk likes more than a remote server. */
  readonly readParallelism: number;
}

/** Runs `read` over `items` with at most `parallelism` at once, yielding the results in the items' order. */
export async function* readInOrder<T, R>(
  items: readonly T[],
  parallelism: number,
  read: (item: T) => Promise<R>,
): AsyncIterable<R> {
  for (let at = 0; at < items.length; at += parallelism) {
    const batch = await Promise.all(items.slice(at, at + parallelism).map(read));
    yield* batch;
  }
}

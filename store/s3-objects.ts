/**
 * Objects in an S3-compatible bucket (AWS S3, GCS's S3 API, R2, Ceph, SeaweedFS ...), under a prefix, with the AWS
 * SDK for JavaScript v3 and the standard AWS settings: AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
 * (AWS_SESSION_TOKEN), AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3), or the SDK's other credential sources.
 * - putOnce is a conditional put (`If-None-Match: *`): the server answers 412 when the key exists. A server that
 *   ignores the header stores the second write over the first; every object EvolForge writes once has the same
 *   text on every try (it comes from a workflow's history), so nothing changes but the answer ('written' twice).
 *   `evol store check` says which kind of server a store is on.
 * - Listings are paged (1,000 keys a page) and reads of many objects go 16 at a time.
 * - Errors come out as StoreAccessError (a setting to fix) or StoreUnreachableError (try again), saying what to do.
 * - `onRequest` is told of every HTTP request sent (retries included), its kind and body bytes: what a bucket bills.
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { UserError } from '../core/validation';
import { StoreAccessError, StoreUnreachableError } from './errors';
import type { ObjectRequestHook, ObjectRequestKind, ObjectStore, ObjectStoreOptions } from './objects';

export const S3_URL_PREFIX = 's3://';

export function isS3Url(location: string): boolean {
  return location.startsWith(S3_URL_PREFIX);
}

/** `s3://bucket/some/prefix` → bucket and prefix (no leading or trailing slash; '' for the bucket's top). */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const rest = url.slice(S3_URL_PREFIX.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? '' : rest.slice(slash + 1).replace(/^\/+|\/+$/g, '');
  if (!isS3Url(url) || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new UserError(
      `"${url}" is not an S3 location: write s3://BUCKET or s3://BUCKET/PREFIX (a bucket name is 3-63 lowercase letters, digits, dots or dashes)`,
    );
  }
  return { bucket, prefix };
}

/** Path-style addressing (`http://host/bucket/key`) for endpoints that have no bucket subdomains: an IP or localhost. */
export function needsPathStyle(endpoint: string | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  const set = env.EVOL_S3_PATH_STYLE?.trim().toLowerCase();
  if (set === 'true' || set === '1') return true;
  if (set === 'false' || set === '0') return false;
  if (!endpoint) return false;
  let host: string;
  try {
    host = new URL(endpoint).hostname;
  } catch {
    throw new UserError(`AWS_ENDPOINT_URL="${endpoint}" is not a URL: write it as http(s)://HOST[:PORT]`);
  }
  return (
    host === 'localhost' || host.endsWith('.localhost') || /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith('[')
  );
}

/** The endpoint the AWS settings name, if any. */
export function endpointOf(env: NodeJS.ProcessEnv): string | undefined {
  return env.AWS_ENDPOINT_URL_S3?.trim() || env.AWS_ENDPOINT_URL?.trim() || undefined;
}

/** How long one request may take before it is given up and tried again: EVOL_S3_TIMEOUT_MS, default 30 s. */
function requestTimeoutMs(env: NodeJS.ProcessEnv): number {
  const set = env.EVOL_S3_TIMEOUT_MS?.trim();
  if (!set) return 30_000;
  const ms = Number(set);
  if (!Number.isInteger(ms) || ms < 100) {
    throw new UserError(`EVOL_S3_TIMEOUT_MS must be a whole number of milliseconds, at least 100, not "${set}"`);
  }
  return ms;
}

/** What the S3 client is built from; each process reads its own (keys never travel in histories or the store). */
export function s3ClientConfig(env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const endpoint = endpointOf(env);
  const accessKeyId = env.AWS_ACCESS_KEY_ID?.trim();
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY?.trim();
  return {
    region: env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || 'us-east-1',
    ...(endpoint ? { endpoint } : {}),
    forcePathStyle: needsPathStyle(endpoint, env),
    // Given in full by the environment: used as they are. Otherwise the SDK's own chain (shared files, SSO, roles).
    ...(accessKeyId && secretAccessKey
      ? {
          credentials: {
            accessKeyId,
            secretAccessKey,
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          },
        }
      : {}),
    // A server that is down or hung must fail a call in seconds, so the activity is retried, not stuck.
    requestHandler: { connectionTimeout: 3_000, requestTimeout: requestTimeoutMs(env) },
    maxAttempts: 3,
  };
}

const PAGE_SIZE = 1000;

/** A key prefix as a folder: '' (the top) or ending in `/`. */
const asFolder = (prefix: string) => (prefix ? prefix.replace(/\/?$/, '/') : '');

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

function statusOf(err: unknown): number | undefined {
  return (err as SdkError)?.$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const { name } = (err ?? {}) as SdkError;
  return name === 'NoSuchKey' || name === 'NotFound' || (statusOf(err) === 404 && name !== 'NoSuchBucket');
}

const CREDENTIAL_ERRORS = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'CredentialsProviderError',
  'AuthorizationHeaderMalformed',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);

/** The kind of request each command the store sends is billed as. */
const REQUEST_KINDS: Record<string, ObjectRequestKind> = {
  GetObjectCommand: 'GET',
  HeadObjectCommand: 'HEAD',
  HeadBucketCommand: 'HEAD',
  PutObjectCommand: 'PUT',
  CreateBucketCommand: 'PUT',
  ListObjectsV2Command: 'LIST',
  DeleteObjectCommand: 'DELETE',
};

interface WireRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
}

interface WireResponse {
  statusCode?: number;
  headers?: Record<string, string>;
}

/** A command not in {@link REQUEST_KINDS}, by its HTTP method. */
function kindOfMethod(method: string | undefined): ObjectRequestKind {
  return method === 'GET' || method === 'HEAD' || method === 'DELETE' ? method : 'PUT';
}

function headerBytes(headers: Record<string, string> | undefined): number | undefined {
  const value = headers?.['content-length'] ?? headers?.['Content-Length'];
  const n = value === undefined ? NaN : Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function bodyBytes(body: unknown): number {
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (body instanceof Uint8Array) return body.byteLength;
  return 0;
}

/**
 * Counts every HTTP request the client sends: innermost in its middleware stack (after retries, signing and
 * checksums), so each attempt once, with the bytes of the body it sent (a PUT's object) and of a successful answer's
 * body (a GET's object, a LIST's page).
 */
function countRequests(client: S3Client, onRequest: ObjectRequestHook): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as WireRequest;
      const kind = REQUEST_KINDS[context.commandName ?? ''] ?? kindOfMethod(request.method);
      const sent = kind === 'PUT' ? (headerBytes(request.headers) ?? bodyBytes(request.body)) : 0;
      let answered: WireResponse | undefined;
      try {
        const output = await next(args);
        answered = output.response as WireResponse;
        return output;
      } finally {
        const ok = answered?.statusCode !== undefined && answered.statusCode < 300;
        // A HEAD's content-length is the object's size, not a body it received.
        const received = ok && kind !== 'HEAD' ? (headerBytes(answered?.headers) ?? 0) : 0;
        // A request that got no answer (a reset, a timeout) was sent all the same: a server may bill it.
        try {
          onRequest(kind, sent + received);
        } catch {
          // Counting must never fail a request.
        }
      }
    },
    { step: 'deserialize', priority: 'low', name: 'evolRequestCounter' },
  );
}

export class S3Objects implements ObjectStore {
  readonly readParallelism = 16;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly endpoint: string | undefined;
  private readonly region: string;

  constructor(url: string, env: NodeJS.ProcessEnv = process.env, options: ObjectStoreOptions = {}) {
    ({ bucket: this.bucket, prefix: this.prefix } = parseS3Url(url));
    const config = s3ClientConfig(env);
    this.endpoint = config.endpoint as string | undefined;
    this.region = config.region as string;
    this.client = new S3Client(config);
    if (options.onRequest) countRequests(this.client, options.onRequest);
  }

  get location(): string {
    return `${S3_URL_PREFIX}${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
  }

  describe(key: string): string {
    return `${this.location}/${key}`;
  }

  private full(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  /** Where requests go, for messages: the endpoint, or AWS S3 in the region. */
  private get server(): string {
    return this.endpoint ?? `AWS S3 in ${this.region}`;
  }

  /** An SDK error as a StoreAccessError or StoreUnreachableError where it is one, saying what to do. */
  private explain(err: unknown, what: string): unknown {
    const { name = '', code = '', message = '' } = (err ?? {}) as SdkError;
    const status = statusOf(err);
    const cause = `${name || code || 'error'}${status ? ` ${status}` : ''}: ${message.split('\n')[0]}`.trim();
    if (CREDENTIAL_ERRORS.has(name) || /could not load credentials/i.test(message)) {
      return new StoreAccessError(
        `the run store ${this.location} at ${this.server} refused the credentials to ${what} (${cause}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or another AWS credential source) for this bucket in the environment of every worker and of evol`,
      );
    }
    if (name === 'NoSuchBucket') {
      return new StoreAccessError(
        `the bucket "${this.bucket}" does not exist at ${this.server}: create it (e.g. \`aws s3 mb s3://${this.bucket}\`), or point EVOL_STORE (or AWS_ENDPOINT_URL) at the right one`,
      );
    }
    if (name === 'AccessDenied' || name === 'Forbidden' || status === 403) {
      return new StoreAccessError(
        `the run store ${this.location} at ${this.server} denied access to ${what} (${cause}): give these credentials s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on it`,
      );
    }
    if (name === 'PermanentRedirect' || status === 301) {
      return new StoreAccessError(
        `the bucket "${this.bucket}" is not in ${this.region} (${cause}): set AWS_REGION to the bucket's region`,
      );
    }
    const timedOut = name === 'TimeoutError' || name === 'RequestTimeout' || /timed? ?out/i.test(message);
    // The SDK wraps an error from another realm (a test runner's) in a plain Error that keeps only its text.
    const networkInText = [...NETWORK_CODES].some((c) => message.includes(c));
    if (
      NETWORK_CODES.has(code) ||
      NETWORK_CODES.has(name) ||
      networkInText ||
      timedOut ||
      name === 'SlowDown' ||
      (status !== undefined && status >= 500)
    ) {
      return new StoreUnreachableError(
        `the run store ${this.location} at ${this.server} did not answer a request to ${what} (${cause}): is the server up, and AWS_ENDPOINT_URL right? It is tried again`,
      );
    }
    return err;
  }

  private async send<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      throw this.explain(err, what);
    }
  }

  async get(key: string): Promise<string | undefined> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      return await answer.Body!.transformToString('utf8');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw this.explain(err, `read ${key}`);
    }
  }

  /** The object's bytes (a Parquet file, say), or undefined when there is none. */
  async getBytes(key: string): Promise<Uint8Array | undefined> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      return await answer.Body!.transformToByteArray();
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw this.explain(err, `read ${key}`);
    }
  }

  /** Writes bytes whole, replacing any (an export, a report). */
  async putBytes(key: string, body: Uint8Array, contentType?: string): Promise<void> {
    await this.send(`write ${key}`, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.full(key),
          Body: body,
          ...(contentType ? { ContentType: contentType } : {}),
        }),
      ),
    );
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw this.explain(err, `look for ${key}`);
    }
  }

  async put(key: string, body: string): Promise<void> {
    await this.send(`write ${key}`, () =>
      this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.full(key), Body: body })),
    );
  }

  async putOnce(key: string, body: string): Promise<'written' | 'exists'> {
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.full(key), Body: body, IfNoneMatch: '*' }),
      );
      return 'written';
    } catch (err) {
      if ((err as SdkError)?.name === 'PreconditionFailed' || statusOf(err) === 412) return 'exists';
      // 409 ConditionalRequestConflict: another conditional write of the key was under way; the retry reads 412.
      throw this.explain(err, `write ${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    await this.send(`remove ${key}`, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(key) })),
    );
  }

  private async *pages(prefix: string, delimiter?: string) {
    let token: string | undefined;
    do {
      const page = await this.send(`list ${prefix || '/'}`, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.full(prefix),
            MaxKeys: PAGE_SIZE,
            ...(delimiter ? { Delimiter: delimiter } : {}),
            ...(token ? { ContinuationToken: token } : {}),
          }),
        ),
      );
      yield page;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async *list(prefix: string): AsyncIterable<string[]> {
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    for await (const page of this.pages(asFolder(prefix))) {
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key.slice(strip)] : []));
      if (keys.length) yield keys;
    }
  }

  async children(prefix: string): Promise<string[]> {
    const folder = asFolder(prefix);
    const start = this.full(folder).length;
    const names: string[] = [];
    for await (const page of this.pages(folder, '/')) {
      for (const common of page.CommonPrefixes ?? []) {
        if (common.Prefix) names.push(common.Prefix.slice(start).replace(/\/$/, ''));
      }
    }
    return names.sort();
  }

  /** Whether the bucket is there and these credentials may read it. */
  async bucketExists(): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return true;
    } catch (err) {
      if (statusOf(err) === 404 || (err as SdkError)?.name === 'NotFound') return false;
      throw this.explain(err, 'look for the bucket');
    }
  }

  /** Creates the bucket unless it is there. */
  async createBucket(): Promise<'created' | 'exists'> {
    if (await this.bucketExists()) return 'exists';
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
      return 'created';
    } catch (err) {
      const { name } = (err ?? {}) as SdkError;
      if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists') return 'exists';
      throw this.explain(err, 'create the bucket');
    }
  }

  close(): void {
    this.client.destroy();
  }
}

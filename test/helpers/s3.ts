/**
 * The S3-compatible server the integration tier's global setup starts (SeaweedFS, test/setup/global-setup.ts), for
 * the tests that use a bucket. Without it (not provisioned on this machine) those tests skip with a message; in CI
 * its absence fails them.
 */
import { randomBytes } from 'node:crypto';
import { S3Objects } from '../../store/s3-objects';

export interface S3TestServer {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  /** The standard AWS settings a process needs to use it. */
  env: NodeJS.ProcessEnv;
}

/** The test S3 server's settings, or undefined (with a warning) outside CI when the global setup started none. */
export function s3TestServer(): S3TestServer | undefined {
  const endpoint = process.env.EVOL_TEST_S3_ENDPOINT;
  const accessKey = process.env.EVOL_TEST_S3_ACCESS_KEY;
  const secretKey = process.env.EVOL_TEST_S3_SECRET_KEY;
  if (!endpoint || !accessKey || !secretKey) {
    const message =
      'no S3-compatible test server (run `node dist/scripts/ensure-s3.js` once to provision SeaweedFS, then the tests again)';
    if (process.env.CI === 'true') throw new Error(message);
    console.warn(`skipping: ${message}`);
    return undefined;
  }
  return {
    endpoint,
    accessKey,
    secretKey,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: accessKey,
      AWS_SECRET_ACCESS_KEY: secretKey,
      AWS_REGION: 'us-east-1',
    },
  };
}

/** A bucket of its own for a test file, created on the server; its name is unique. */
export async function newBucket(server: S3TestServer, label: string): Promise<string> {
  const bucket = `evol-${label}-${randomBytes(4).toString('hex')}`.toLowerCase();
  const objects = new S3Objects(`s3://${bucket}`, server.env);
  try {
    await objects.createBucket();
  } finally {
    objects.close();
  }
  return bucket;
}

/** Every key under a store location, read through its own client. */
export async function keysAt(url: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const objects = new S3Objects(url, env);
  try {
    const keys: string[] = [];
    for await (const page of objects.list('')) keys.push(...page);
    return keys;
  } finally {
    objects.close();
  }
}

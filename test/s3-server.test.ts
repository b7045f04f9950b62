/**
 * The S3-compatible server the S3 run store is tested against (SeaweedFS's `weed mini`, server/s3-server.ts): it
 * starts on ports of its own, answers a second `PUT` with `If-None-Match: *` with 412 (the store's conditional
 * create), keeps what it acknowledged across a SIGKILL and a restart on the same data dir, and refuses anonymous
 * callers when it has credentials. The test starts its own servers (it kills one) with the `weed` global setup found
 * (EVOL_TEST_WEED_PATH); it skips with a message when none is provisioned, except in CI.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { s3ListBucketsStatus, startS3Server, type S3Server } from '../server/s3-server';

const weedPath = process.env.EVOL_TEST_WEED_PATH ?? '';
const MISSING = 'no SeaweedFS `weed` is provisioned: run `node dist/scripts/ensure-s3.js` (or set EVOL_WEED_PATH)';
if (!weedPath) {
  if (process.env.CI === 'true') throw new Error(`${MISSING} (CI runs it in .ci/run)`);
  console.warn(`skipping the S3 server tests: ${MISSING}`);
}
const describeS3 = weedPath ? describe : describe.skip;

describeS3('the S3-compatible server for tests (SeaweedFS)', () => {
  let tempDir: string;
  const servers: S3Server[] = [];

  const start = async (name: string, credentials?: { accessKey: string; secretKey: string }) => {
    const server = await startS3Server({ weedPath, dataDir: path.join(tempDir, name), credentials });
    servers.push(server);
    return server;
  };

  beforeAll(async () => {
    tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'evolforge-s3-'));
  });

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    if (tempDir) await fs.rm(tempDir, { recursive: true, force: true });
  });

  test('a conditional create answers 200 then 412, and an acknowledged object survives SIGKILL and restart', async () => {
    const server = await start('open');
    const bucket = `${server.endpoint}/evol-test`;
    const key = `${bucket}/runs/run-1/meta.json`;
    const createOnce = (body: string) => fetch(key, { method: 'PUT', headers: { 'If-None-Match': '*' }, body });

    expect((await fetch(bucket, { method: 'PUT' })).status).toBe(200);
    expect((await createOnce('first')).status).toBe(200);
    const second = await createOnce('second');
    expect(second.status).toBe(412);
    expect(await second.text()).toContain('PreconditionFailed');
    expect(await (await fetch(key)).text()).toBe('first');

    // Killed right after the write was acknowledged, as a crash would.
    expect((await createOnce('just before the kill')).status).toBe(412);
    const last = `${bucket}/runs/run-1/last.json`;
    expect((await fetch(last, { method: 'PUT', body: 'acknowledged' })).status).toBe(200);
    const firstPid = server.pid;
    await server.kill();
    expect(await server.exited).toMatchObject({ signal: 'SIGKILL' });

    await server.restart();
    expect(server.pid).not.toBe(firstPid);
    expect(await (await fetch(key)).text()).toBe('first');
    expect(await (await fetch(last)).text()).toBe('acknowledged');
    expect((await createOnce('after the restart')).status).toBe(412);
  });

  test('with credentials it refuses anonymous requests and takes signed ones', async () => {
    const credentials = { accessKey: 'EVOLTESTKEY123456789', secretKey: 'evol-test-secret-key-of-forty-characters' };
    const server = await start('private', credentials);

    expect(await s3ListBucketsStatus(server.endpoint)).toBe(403);
    expect((await fetch(`${server.endpoint}/evol-test`, { method: 'PUT' })).status).toBe(403);
    expect(await s3ListBucketsStatus(server.endpoint, credentials)).toBe(200);
    expect(await s3ListBucketsStatus(server.endpoint, { ...credentials, secretKey: 'not-the-secret' })).toBe(403);
  });
});

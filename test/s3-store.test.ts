/**
 * The run store on a real S3-compatible server (SeaweedFS, started by the integration tier's global setup): the
 * conformance suite both backends pass, what a wrong setting says, and the commands that read and write buckets.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StoreAccessError, StoreUnreachableError } from '../store/errors';
import { FileObjects } from '../store/file-objects';
import { ObjectRunStore } from '../store/object-run-store';
import { S3Objects } from '../store/s3-objects';
import { describeStoreConformance, lineageOf, metaOf, seedsOf } from './helpers/store-conformance';
import { keysAt, newBucket, s3TestServer } from './helpers/s3';
import { collect } from './helpers/runs';
import { runCli } from './helpers/worker-process';

const server = s3TestServer();
const describeWithS3 = server ? describe : describe.skip;

describeWithS3('the run store in an S3-compatible bucket', () => {
  let bucket: string;
  const opened: S3Objects[] = [];
  const open = (url: string, env: NodeJS.ProcessEnv = server!.env) => {
    const objects = new S3Objects(url, env);
    opened.push(objects);
    return objects;
  };

  beforeAll(async () => {
    bucket = await newBucket(server!, 'store');
  });
  afterAll(() => opened.forEach((o) => o.close()));

  describeStoreConformance('S3-compatible bucket (SeaweedFS)', async () => {
    const prefix = `conformance-${randomBytes(4).toString('hex')}`;
    const objects = open(`s3://${bucket}/${prefix}`);
    return {
      objects,
      cleanup: async () => {
        for await (const page of objects.list('')) await Promise.all(page.map((key) => objects.delete(key)));
      },
    };
  });

  test('onRequest hears of every request once, by kind, with the bodies it sent and received', async () => {
    const heard: Array<[string, number]> = [];
    const objects = new S3Objects(`s3://${bucket}/counted-${randomBytes(4).toString('hex')}`, server!.env, {
      onRequest: (kind, bytes) => heard.push([kind, bytes]),
    });
    opened.push(objects);
    await objects.put('a/x.json', 'héllo'); // 6 bytes in UTF-8
    expect(await objects.putOnce('a/x.json', 'héllo')).toBe('exists'); // a 412 is a request too
    expect(await objects.get('a/x.json')).toBe('héllo');
    expect(await objects.get('a/none.json')).toBeUndefined();
    expect(await objects.exists('a/x.json')).toBe(true);
    for await (const page of objects.list('a/')) expect(page).toEqual(['a/x.json']);
    await objects.delete('a/x.json');
    expect(heard.map(([kind]) => kind)).toEqual(['PUT', 'PUT', 'GET', 'GET', 'HEAD', 'LIST', 'DELETE']);
    const bytes = Object.fromEntries(heard.map(([kind, n], i) => [`${i}:${kind}`, n]));
    expect(bytes).toMatchObject({ '0:PUT': 6, '1:PUT': 6, '2:GET': 6, '3:GET': 0, '4:HEAD': 0, '6:DELETE': 0 });
    expect(heard[5][1]).toBeGreaterThan(0); // the listing's XML
  });

  test('wrong credentials are a setting to fix, named with the store and what to set, never with the key', async () => {
    const secret = `wrong-${randomBytes(8).toString('hex')}`;
    const wrong = open(`s3://${bucket}/p`, { ...server!.env, AWS_SECRET_ACCESS_KEY: secret });
    const failure = await new ObjectRunStore(wrong).readMeta('r1').catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(StoreAccessError);
    expect(String(failure)).toMatch(new RegExp(`s3://${bucket}/p .*refused the credentials.*set AWS_ACCESS_KEY_ID`));
    expect(String(failure)).not.toContain(secret);
  });

  test('a bucket that does not exist is named, with how to create it', async () => {
    const missing = open(`s3://no-such-${randomBytes(4).toString('hex')}/p`);
    await expect(new ObjectRunStore(missing).createRun(metaOf('r1', 1), seedsOf(1))).rejects.toThrow(
      /the bucket "no-such-[0-9a-f]+" does not exist at http:\/\/127\.0\.0\.1:\d+: create it/,
    );
  });

  test('a server that does not answer fails within seconds as unreachable, to be tried again', async () => {
    const down = open(`s3://${bucket}/p`, { ...server!.env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' });
    const started = Date.now();
    await expect(new ObjectRunStore(down).readMeta('r1')).rejects.toBeInstanceOf(StoreUnreachableError);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  describe('the commands', () => {
    let dir: string;
    beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-s3-cli-'))));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    const evol = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      runCli(args, { cwd: dir, env: { ...server!.env, ...env }, timeoutMs: 60_000 });

    test('evol store check says a bucket honours write-once, and --create-bucket makes a missing one', async () => {
      const fresh = `evol-check-${randomBytes(4).toString('hex')}`;
      const refused = await evol(['store', 'check', `s3://${fresh}/runs`]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(new RegExp(`the bucket "${fresh}" does not exist.*--create-bucket`));
      const made = await evol(['store', 'check', `s3://${fresh}/runs`, '--create-bucket']);
      expect(made.stderr).toContain(`Created the bucket "${fresh}"`);
      expect(made.stdout).toMatch(/reads, writes, lists and removes objects/);
      expect(made.stdout).toMatch(/a second conditional write is refused/);
      expect(made.code).toBe(0);
      expect(await keysAt(`s3://${fresh}/runs`, server!.env)).toEqual([]);
    });

    test('evol store copy moves a run from a directory to a bucket and back, whole; evol runs lists it there', async () => {
      const local = new ObjectRunStore(new FileObjects(path.join(dir, 'laptop')));
      await local.createRun(metaOf('moved', 3), seedsOf(3));
      for (const id of ['s1', 's2']) await local.saveRecord(lineageOf('moved', id));
      await local.saveFailedAttempt({ ...lineageOf('moved', 's3'), status: 'failed' });
      const bucketStore = `s3://${bucket}/fleet`;

      const copied = await evol(['store', 'copy', 'moved', '--from', path.join(dir, 'laptop'), '--to', bucketStore]);
      expect(copied.stderr).toMatch(/Copied run moved: 5 objects/);
      expect(copied.code).toBe(0);
      const remote = new ObjectRunStore(open(bucketStore));
      expect(await remote.readMeta('moved')).toEqual(await local.readMeta('moved'));
      expect((await collect(remote.records('moved'))).map((r) => r.instructionId).sort()).toEqual(['s1', 's2']);
      expect((await remote.failedAttempt('moved', 's3'))?.status).toBe('failed');
      const listed = await evol(['runs', '--store', bucketStore]);
      expect(listed.stdout).toMatch(/^moved\t/m);

      const again = await evol(['store', 'copy', 'moved', '--from', path.join(dir, 'laptop'), '--to', bucketStore]);
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/already in s3:\/\/.*nothing copied/);

      const back = await evol(['--store', bucketStore, 'store', 'copy', 'moved', '--to', path.join(dir, 'back')]);
      expect(back.code).toBe(0);
      const returned = new ObjectRunStore(new FileObjects(path.join(dir, 'back')));
      expect((await collect(returned.records('moved'))).length).toBe(2);
      expect(await returned.seedIds('moved', 0, 10)).toEqual(['s1', 's2', 's3']);
    });

    test('a command that only reads says clearly when the store cannot be reached, with no stack trace', async () => {
      for (const args of [['runs'], ['status', 'r1'], ['export', 'r1'], ['report', 'r1', '--text']]) {
        const result = await evol([...args, '--store', `s3://${bucket}/p`], { AWS_ENDPOINT_URL: 'http://127.0.0.1:9' });
        expect(result.code).toBe(2);
        expect(result.stderr).toMatch(/the run store s3:\/\/.* did not answer .*is the server up/);
        expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
      }
    });
  });
});

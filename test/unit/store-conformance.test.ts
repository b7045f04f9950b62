/** The run store's conformance suite against the local store (a directory); the S3 backend runs it in s3-store.test.ts. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StoreAccessError } from '../../store/errors';
import { explain, FileObjects } from '../../store/file-objects';
import { describeStoreConformance } from '../helpers/store-conformance';

describeStoreConformance('local directory', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-conformance-'));
  return { objects: new FileObjects(dir), cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }) };
});

describe('the local store on disk', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-files-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a write in progress (a hidden temporary file) is never listed, read or taken for an object', async () => {
    const objects = new FileObjects(dir);
    await objects.put('r1/records/00/a.json', '{}');
    fs.writeFileSync(path.join(dir, 'r1', 'records', '00', '.b.json.abc.tmp'), '{');
    fs.mkdirSync(path.join(dir, '.staging-r2'));
    const keys: string[] = [];
    for await (const page of objects.list('r1/')) keys.push(...page);
    expect(keys).toEqual(['r1/records/00/a.json']);
    expect(await objects.children('')).toEqual(['r1']);
    expect(fs.readdirSync(path.join(dir, 'r1', 'records', '00')).filter((f) => f.endsWith('.tmp'))).toEqual([
      '.b.json.abc.tmp',
    ]);
  });

  test('a disk that refuses writes is a setting to fix, said with the file and what to do', async () => {
    const refusing = (code: string) => Object.assign(new Error(`${code}: refused`), { code });
    expect(explain(refusing('ENOSPC'), '/data/r1/x.json')).toEqual(
      new StoreAccessError('the run store cannot use /data/r1/x.json (ENOSPC): the disk is full: free some space'),
    );
    expect(String(explain(refusing('EACCES'), '/data/x'))).toMatch(/EACCES.*fix its permissions/);
    const other = refusing('EIO');
    expect(explain(other, '/data/x')).toBe(other);
    if (process.getuid?.() !== 0) {
      // As any user but root, a directory without write permission refuses for real.
      fs.chmodSync(dir, 0o500);
      try {
        await expect(new FileObjects(dir).put('r1/x.json', '{}')).rejects.toThrow(StoreAccessError);
      } finally {
        fs.chmodSync(dir, 0o700);
      }
    }
  });
});

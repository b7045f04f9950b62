/**
 * `npm run bench -- --store s3` runs the dataset bench twice, on a local run store and then on a bucket of a
 * SeaweedFS server of its own, and prints the second's share of the first, the bucket's requests per seed and what
 * the run costs. Here at a tiny size: both runs complete, the requests counted by the workers' metrics add up to
 * what a run must send, and the share is printed. Needs a `weed` binary: without one this skips with a message
 * (in CI it fails), as the other S3 tests do (test/helpers/s3.ts).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const BENCH = path.resolve(__dirname, '..', 'dist', 'bench', 'dataset-bench.js');
type Kind = 'GET' | 'HEAD' | 'PUT' | 'LIST' | 'DELETE';

interface RunFigures {
  store: string;
  seeds: number;
  outcome: { status: string; completed: number; failed: number };
  llmCalls: number;
  roundsPerSecond: number;
  storeRequests?: {
    requests: Record<Kind, number>;
    requestsPerSeed: Record<Kind, number>;
    bytes: Record<Kind, number>;
    creatingTheRun: Record<Kind, number>;
  };
  costs?: { workflows: number; actionsTotal: number; historyBytes: number; cpuMsPerLlmCall: { s3?: number } };
}

/** The `weed` the integration tier's global setup found, or undefined (a warning; in CI an error). */
function weedPath(): string | undefined {
  const found = process.env.EVOL_TEST_WEED_PATH;
  if (!found) {
    const message =
      'no SeaweedFS `weed` binary for the bench (run `node dist/scripts/ensure-s3.js` once to provision it, then the tests again)';
    if (process.env.CI === 'true') throw new Error(message);
    console.warn(`skipping: ${message}`);
  }
  return found;
}

const weed = weedPath();
const testWithWeed = weed ? test : test.skip;

testWithWeed(
  'the bench runs on a local store and on a bucket, counts the bucket requests, and prints the share',
  async () => {
    const seeds = 3;
    const env: NodeJS.ProcessEnv = { ...process.env, EVOL_WEED_PATH: weed };
    // The bench's own servers and keys: none of the test tier's S3 settings may leak into it.
    for (const key of Object.keys(env)) if (key.startsWith('AWS_') || key === 'EVOL_STORE') delete env[key];
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        BENCH,
        '--store',
        's3',
        '--seeds',
        String(seeds),
        '--rounds',
        '1',
        '--latency-ms',
        '20',
        '--concurrency',
        '2',
      ].concat(['--json']),
      { timeout: 240_000, env, maxBuffer: 16 * 1024 * 1024 },
    );
    const json = stdout
      .split('\n')
      .reverse()
      .find((line) => line.startsWith('{'));
    const { local, s3, comparison } = JSON.parse(json ?? 'null') as {
      local: RunFigures;
      s3: RunFigures;
      comparison: { roundsShare: number };
    };

    for (const run of [local, s3]) {
      expect(run.outcome).toEqual({ status: 'completed', completed: seeds, failed: 0 });
      // Each run's costs were read from every one of its histories: the dataset workflow and one per seed.
      expect(run.costs!.workflows).toBe(seeds + 1);
      expect(run.costs!.actionsTotal).toBeGreaterThan(run.llmCalls);
      expect(run.costs!.historyBytes).toBeGreaterThan(0);
    }
    expect(local.store).toBe('local');
    expect(local.storeRequests).toBeUndefined();
    expect(s3.store).toBe('s3');

    const r = s3.storeRequests!;
    // Creating the run: is it there (HEAD), its seeds and its meta.json (PUT).
    expect(r.creatingTheRun).toMatchObject({ HEAD: 1, PUT: 2 });
    // The workers: at least one record written per seed, and the seeds and settings read.
    expect(r.requests.PUT - r.creatingTheRun.PUT).toBeGreaterThanOrEqual(seeds);
    expect(r.requests.GET).toBeGreaterThanOrEqual(2);
    expect(r.requestsPerSeed.PUT).toBeCloseTo(r.requests.PUT / seeds, 3);
    expect(r.bytes.PUT).toBeGreaterThan(0);
    expect(r.bytes.GET).toBeGreaterThan(0);
    expect(r.requests.DELETE).toBe(0);
    expect(s3.costs!.cpuMsPerLlmCall.s3).toBeGreaterThanOrEqual(0);

    expect(comparison.roundsShare).toBeCloseTo(s3.roundsPerSecond / local.roundsPerSecond, 2);
    expect(stdout).toContain(`S3's share of local: ${comparison.roundsShare}`);
    expect(stdout).toMatch(/bucket requests per seed: +GET [\d.]+, HEAD [\d.]+, PUT [\d.]+, LIST 0, DELETE 0/);
  },
);

/**
 * The floor bench (bench/floor-bench.ts) runs the dataset bench's shape on bare Temporal: its own dev server, a
 * plain worker process and, with --http, the simulated LLM. Its figures are what `npm run bench -- --floor`
 * divides by, so they are checked against what the processes themselves saw.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FloorFigures } from '../bench/floor-bench';

const FLOOR = path.resolve(__dirname, '..', 'dist', 'bench', 'floor-bench.js');

test('every call the workflows count reached the simulated LLM, and no figure beats its ideal', async () => {
  const seeds = 4;
  const rounds = 2;
  const latencyMs = 20;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [FLOOR, '--seeds', String(seeds), '--rounds', String(rounds), '--latency-ms', String(latencyMs)].concat([
      '--concurrency',
      '2',
      '--http',
      '--json',
    ]),
    { timeout: 150_000 },
  );
  const json = stdout
    .split('\n')
    .reverse()
    .find((line) => line.startsWith('{'));
  const figures = JSON.parse(json ?? 'null') as FloorFigures;
  // Each round: one call, then two at once.
  expect(figures.calls).toBe(seeds * rounds * 3);
  expect(figures.simRequests).toBe(figures.calls);
  expect(figures.idealSpanMs).toBe(rounds * 2 * latencyMs);
  expect(figures.spanP50Ms).toBeGreaterThanOrEqual(figures.idealSpanMs);
  expect(figures.roundsPerS).toBeLessThanOrEqual(figures.idealRoundsPerS);
  expect(figures.cpuMsPerSeed.worker).toBeGreaterThan(0);
  expect(figures.cpuMsPerSeed.server).toBeGreaterThan(0);
  // The worker's own SDK metrics were read.
  expect(figures.sdk.workflowTaskMs).toBeGreaterThan(0);
  expect(figures.sdk.respondActivityTaskCompletedMs).toBeGreaterThan(0);
  expect(stdout).toContain(`calls (activities):       ${figures.calls}`);
});

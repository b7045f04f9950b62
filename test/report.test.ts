/**
 * `evol score`, `evol export --dedup --decontaminate` and `evol report` on a real dev server and worker, the LLM
 * simulated over HTTP: scores survive a worker SIGKILL without being asked twice, the export drops what it says,
 * and the report opens in headless Chromium with every chart drawn, no console error and no request.
 */
import { plural } from '../core/plural';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { BenchmarkIndex } from '../core/contamination';
import { scorableRows, type RowScore } from '../core/scoring';
import type { Lineage } from '../core/lineage';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import type { ScoreProgress, ScoreRunInput } from '../core/scoring';
import { collect, idsOf, sampleTexts, seedsFromTexts, startRun } from './helpers/runs';
import { connectClient, eventually, llmAt, testAddress, uniqueTaskQueue } from './helpers/temporal';
import { runCli, startWorkerProcess, type WorkerProcess } from './helpers/worker-process';

const CHROMIUM = process.env.EVOL_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.resolve(__dirname, '..', 'test-artifacts');
const missingChromium = fs.existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (apt-get install -y chromium)`;
if (missingChromium && process.env.CI !== 'true')
  console.warn(`skipping the report-in-Chromium test: ${missingChromium}`);
const chromiumTest = missingChromium && process.env.CI !== 'true' ? test.skip : test;

describe('scores, a clean export and the report of a run', () => {
  let sim: SimLlm;
  let client: Client;
  let connection: Connection;
  let dir: string;
  let store: LocalRunStore;
  const workers: WorkerProcess[] = [];
  const runId = `report-${Date.now().toString(36)}`;
  const taskQueue = uniqueTaskQueue('report');

  beforeAll(async () => {
    sim = await startSimLlm({ keepMessages: true });
    ({ client, connection } = await connectClient());
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-report-'));
    store = new LocalRunStore(path.join(dir, 'runs'));
    const env = { EVOL_STORE_DIR: path.join(dir, 'runs'), EVOL_TEST_API_KEY: 'k' };
    workers.push(await startWorkerProcess({ address: testAddress(), taskQueue, env }));
    // Two seeds that are near-copies of each other, so the export has a cluster to fold.
    const rainbow = 'Explain how a rainbow forms after a summer rain shower, using simple words and one drawing for a';
    const texts = [...sampleTexts(14, 'report'), `${rainbow} child.`, `${rainbow} kid.`];
    const handle = await startRun({
      client,
      store,
      taskQueue,
      runId,
      seeds: seedsFromTexts(texts),
      llm: llmAt(sim.url),
      config: { rounds: 3, concurrency: 8, answerSeeds: true },
    });
    await handle.result();
  });

  afterAll(async () => {
    for (const w of workers) await w.kill();
    await connection?.close();
    await sim?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** `evol ARGS` as a user runs it; every command here must succeed. */
  async function evol(args: string[]) {
    const result = await runCli(args, {
      cwd: dir,
      env: { EVOL_STORE_DIR: path.join(dir, 'runs'), EVOL_DATA_DIR: dir },
      timeoutMs: 120_000,
    });
    expect([args.join(' '), result.code, result.stderr]).toEqual([args.join(' '), 0, result.stderr]);
    return result;
  }

  test('scores survive a worker SIGKILL: every row scored once, none finished before the kill asked again', async () => {
    const records = await collect(store.records(runId));
    const rows = scorableRows(records);
    sim.addRule({ match: { kind: 'score' }, latencyMs: 400 });
    sim.resetRequests();
    const input: ScoreRunInput = { runId, scorer: llmAt(sim.url).judge, concurrency: 4, seed: 0 };
    const handle = await client.workflow.start('scoreRun', {
      taskQueue,
      workflowId: idsOf(runId).score,
      args: [input],
    });
    const scoredSoFar = async () => (await collect(store.scores(runId))).length;
    await eventually(async () => ((await scoredSoFar()) >= 16 ? true : undefined), 'sixteen scores written', 60_000);
    await workers[0].kill('SIGKILL');
    const killedAt = Date.now();
    expect(await scoredSoFar()).toBeLessThan(rows.length);
    workers.push(
      await startWorkerProcess({
        address: testAddress(),
        taskQueue,
        env: { EVOL_STORE_DIR: path.join(dir, 'runs'), EVOL_TEST_API_KEY: 'k' },
      }),
    );
    const done = (await handle.result()) as ScoreProgress;
    expect(done.scored + done.cached + done.failed).toBe(rows.length);

    const scores: RowScore[] = await collect(store.scores(runId));
    expect(scores.map((s) => s.rowId).sort()).toEqual(rows.map((r) => r.rowId).sort());
    expect(scores.every((s) => s.difficulty! >= 1 && s.difficulty! <= 10)).toBe(true);
    // One score request per row, but for those in flight at the kill (at most the concurrency) asked once more.
    const asks = sim.requests().filter((r) => r.kind === 'score');
    const count = new Map<string, number>();
    for (const r of asks) count.set(r.key, (count.get(r.key) ?? 0) + 1);
    const repeated = [...count.entries()].filter(([, n]) => n > 1).map(([key]) => key);
    expect(repeated.length).toBeLessThanOrEqual(4);
    // Answered (400 ms) and written well before the kill.
    const settled = asks.filter((r) => r.receivedAt < killedAt - 1500).map((r) => r.key);
    expect(settled.length).toBeGreaterThan(0);
    expect(settled.filter((key) => repeated.includes(key))).toEqual([]);

    // A second scoring asks nothing: every row has its score.
    sim.resetRequests();
    const again = await client.workflow.execute('scoreRun', {
      taskQueue,
      workflowId: `${idsOf(runId).score}-again`,
      args: [input],
    });
    expect(again).toMatchObject({ scored: 0, cached: rows.length });
    expect(sim.requests().filter((r) => r.kind === 'score')).toHaveLength(0);
  });

  test('evol export carries the scores, folds near-duplicates and drops benchmark overlaps, saying how many', async () => {
    const bench = path.join(dir, 'bench.jsonl');
    const records: Lineage[] = await collect(store.records(runId));
    const leaked = records.find((r) => r.steps.some((s) => s.verdict.passed))!;
    const leakedRow = leaked.steps.find((s) => s.verdict.passed)!;
    fs.writeFileSync(bench, `${JSON.stringify({ question: `Q: ${leakedRow.instruction} Answer briefly.` })}\n`);
    const plain = path.join(dir, 'plain.json');
    await evol(['export', runId, '--out', plain]);
    const out = path.join(dir, 'clean.json');
    const { stderr } = await evol(['export', runId, '--out', out, '--dedup', '--decontaminate', bench]);
    const before = JSON.parse(fs.readFileSync(plain, 'utf8')) as Array<{
      instruction: string;
      _evol: { rowId: string; difficulty?: number };
    }>;
    const after = JSON.parse(fs.readFileSync(out, 'utf8')) as typeof before;
    expect(before.every((row) => typeof row._evol.difficulty === 'number')).toBe(true);
    // The leaked row, and any later round that kept its words, share 13 words in a row with the benchmark.
    const index = new BenchmarkIndex([{ source: bench, text: `Q: ${leakedRow.instruction} Answer briefly.` }]);
    const contaminated = before.filter((row) => index.hit(row.instruction)).length;
    expect(contaminated).toBeGreaterThanOrEqual(1);
    expect(stderr).toContain(
      `${plural(contaminated, 'row')} dropped: sharing a run of 13 words with a benchmark prompt.`,
    );
    const folded = /(\d+) near-duplicate rows? dropped \((\d+) clusters?/.exec(stderr);
    expect(folded).not.toBeNull();
    expect(Number(folded![1])).toBeGreaterThanOrEqual(1);
    expect(after).toHaveLength(before.length - contaminated - Number(folded![1]));
    expect(after.map((r) => r.instruction)).not.toContain(leakedRow.instruction);
    // The two near-copy seeds are one row now.
    const rainbowSeeds = after.filter(
      (r) => r.instruction.startsWith('Explain how a rainbow forms') && r._evol.rowId.endsWith('#0'),
    );
    expect(rainbowSeeds).toHaveLength(1);
  });

  chromiumTest('the report opens in headless Chromium: every chart drawn, no console error, no request', async () => {
    const out = path.join(dir, 'report.html');
    const { stderr } = await evol(['report', runId, '--out', out]);
    expect(stderr).toContain(out);
    const html = fs.readFileSync(out, 'utf8');
    expect(html).not.toMatch(/<script|<link|src="http|href="http/);
    const text = await evol(['report', runId, '--text']);
    expect(text.stdout).toMatch(/round 1: \d+ evolved, \d+ passed/);
    expect(text.stdout).toMatch(/round 0: difficulty \d/);

    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
      page.on('pageerror', (err) => errors.push(err.message));
      page.on('request', (request) => request.url() !== `file://${out}` && requests.push(request.url()));
      await page.goto(`file://${out}`);
      const charts = await page.$$eval('[data-chart]', (nodes) =>
        nodes.map((n) => ({
          name: n.getAttribute('data-chart'),
          marks: n.querySelectorAll('svg path, svg rect, svg line').length,
          width: n.querySelector('svg')?.getBoundingClientRect().width ?? 0,
        })),
      );
      expect(charts.map((c) => c.name).sort()).toEqual(
        ['difficulty', 'funnel', 'instructionWords', 'operations', 'responseWords', 'tokens'].sort(),
      );
      for (const chart of charts) {
        expect([chart.name, chart.marks > 3, chart.width > 100]).toEqual([chart.name, true, true]);
      }
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'report.png'), fullPage: true });
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

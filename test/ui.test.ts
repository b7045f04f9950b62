import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import type { RunProgress } from '../core/dataset';
import { instructionSummary } from '../core/summaries';
import { uiWorkflowsUrl } from '../server/dev-server';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import { idsOf, sampleTexts, seedsFromTexts, startRun } from './helpers/runs';
import { connectClient, llmAt, startWorker, uniqueTaskQueue, type TestWorker } from './helpers/temporal';

const CHROMIUM = process.env.EVOL_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.resolve(__dirname, '..', 'test-artifacts');
// Without the background-networking flags Chromium keeps dialling Google's hosts, which this network refuses.
const HEADLESS_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--hide-scrollbars',
  '--virtual-time-budget=10000',
];

const missing = fs.existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) or set EVOL_CHROMIUM`;
const inCi = process.env.CI === 'true';
if (missing && !inCi) console.warn(`skipping the Temporal UI test: ${missing}`);
const uiTest = missing && !inCi ? test.skip : test;

/** One headless Chromium run with a fresh profile; its stdout, or a failure once `timeoutMs` has passed. */
async function chromium(args: string[], timeoutMs = 60_000): Promise<string> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-chromium-'));
  // Its own process group, so a hung page takes its renderer and GPU helpers down with it.
  const child = spawn(CHROMIUM, [...HEADLESS_FLAGS, `--user-data-dir=${profile}`, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (exitCode) => resolve(exitCode));
    });
    if (code !== 0) throw new Error(`chromium ${args.at(-1)} exited with ${code}:\n${stderr.slice(-2000)}`);
    return stdout;
  } finally {
    clearTimeout(timer);
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/** Renders `url` until its DOM holds every one of `texts`, or fails at the deadline with what was missing. */
async function domShowing(url: string, texts: string[], timeoutMs = 90_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let absent = texts;
  while (Date.now() < deadline) {
    const dom = await chromium(['--dump-dom', url], deadline - Date.now());
    absent = texts.filter((t) => !dom.includes(t));
    if (absent.length === 0) return dom;
  }
  throw new Error(`${url} never showed ${absent.join(', ')}`);
}

describe('Temporal UI shows a run', () => {
  let sim: SimLlm;
  let client: Client;
  let connection: Connection;
  let worker: TestWorker;
  let storeDir: string;
  let taskQueue: string;

  beforeAll(async () => {
    if (missing) return;
    sim = await startSimLlm();
    ({ client, connection } = await connectClient());
    storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-ui-'));
    taskQueue = uniqueTaskQueue('ui');
    worker = await startWorker({
      taskQueue,
      store: new LocalRunStore(storeDir),
      env: () => ({ EVOL_TEST_API_KEY: 'k' }),
    });
  });

  afterAll(async () => {
    await worker?.close();
    await connection?.close();
    await sim?.close();
    if (storeDir) fs.rmSync(storeDir, { recursive: true, force: true });
  });

  uiTest('the workflow list filtered to a run lists its instruction workflows, each with its summary', async () => {
    if (missing) throw new Error(missing);
    const ui = process.env.EVOL_TEST_TEMPORAL_UI;
    if (!ui) throw new Error('EVOL_TEST_TEMPORAL_UI is empty: the test dev server must run with its UI');
    const runId = `ui-${process.pid}-${Date.now().toString(36)}`;
    const seeds = seedsFromTexts(sampleTexts(3, 'ui'));
    const handle = await startRun({
      client,
      store: new LocalRunStore(storeDir),
      taskQueue,
      runId,
      seeds,
      llm: llmAt(sim.url),
      config: { rounds: 2 },
    });
    expect(((await handle.result()) as RunProgress).counts.completed).toBe(3);

    const ids = [idsOf(runId).dataset, ...seeds.map((s) => idsOf(runId).instruction(s.id))];
    const list = uiWorkflowsUrl(ui, 'default', `EvolRunId="${runId}"`);
    await domShowing(list, ids);

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const screenshot = path.join(ARTIFACTS, `ui-${runId}.png`);
    await chromium(['--window-size=1400,900', `--screenshot=${screenshot}`, list]);
    const png = fs.readFileSync(screenshot);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(10_000);

    const first = idsOf(runId).instruction(seeds[0].id);
    await domShowing(`${uiWorkflowsUrl(ui, 'default')}/${encodeURIComponent(first)}`, [
      instructionSummary(runId, seeds[0].id, 2),
    ]);
  });
});

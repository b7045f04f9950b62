import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Lineage } from '../core/schemas';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import { startWorker, testAddress, uniqueTaskQueue, type TestWorker } from './helpers/temporal';
import { writeParquet } from './helpers/parquet';
import { runCli, type CliResult } from './helpers/worker-process';

describe('the evol command line', () => {
  let dir: string;
  let sim: SimLlm;
  let worker: TestWorker;
  const taskQueue = uniqueTaskQueue('cli');

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-cli-'));
    sim = await startSimLlm();
    worker = await startWorker({ taskQueue });
  });

  afterAll(async () => {
    await worker?.close();
    await sim?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function evol(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    return runCli(args, {
      cwd: dir,
      env: { TEMPORAL_ADDRESS: testAddress(), EVOL_STORE_DIR: path.join(dir, 'runs'), ...env },
      timeoutMs: 60_000,
    });
  }

  function write(name: string, content: string): string {
    fs.writeFileSync(path.join(dir, name), content);
    return name;
  }

  const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

  test('evol evolve prints the lineage as JSON, using the LLM configured by OPENAI_BASE_URL', async () => {
    const result = await evol(
      ['evolve', 'Explain what a hash table is.', '--rounds', '2', '--json', '--task-queue', taskQueue],
      {
        OPENAI_BASE_URL: sim.url,
      },
    );
    expect(result.stderr).toContain(`at ${sim.url}`);
    expect(result.code).toBe(0);
    const lineage = JSON.parse(result.stdout) as Lineage;
    expect(lineage.seed).toBe('Explain what a hash table is.');
    expect(lineage.steps).toHaveLength(2);
    expect(lineage.status).toBe('completed');
  });

  test('an empty input file is a clear error naming the file, with a non-zero exit and no stack trace', async () => {
    const result = await evol(['run', '--input', write('empty.jsonl', '\n\n'), '--llm', 'sim']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/empty\.jsonl/);
    expect(result.stderr).toMatch(/empty/i);
    noStackTrace(result.stderr);
  });

  test('a missing input file is a clear error', async () => {
    const result = await evol(['run', '--input', 'nowhere.jsonl', '--llm', 'sim']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/nowhere\.jsonl/);
    noStackTrace(result.stderr);
  });

  const mixed = [
    '{"instruction": "Describe a sunrise."}',
    '{"instruction": 42}',
    'not json at all',
    '{"instruction": "Name three rivers in Africa."}',
    '{"instruction": "describe a   sunrise."}',
  ].join('\n');

  test('--strict makes a bad row fatal, naming file and line', async () => {
    const result = await evol(['run', '--input', write('strict.jsonl', mixed), '--strict', '--llm', 'sim']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/strict\.jsonl:2/);
    noStackTrace(result.stderr);
    expect(await new LocalRunStore(path.join(dir, 'runs')).listRuns()).toEqual([]);
  });

  test('bad rows are reported by line and skipped, duplicates folded; the run id is printed first and cannot be reused', async () => {
    const runId = `cli-${Date.now().toString(36)}`;
    const input = write('mixed.jsonl', mixed);
    const first = await evol(['run', '--input', input, '--run-id', runId, '--detach', '--llm', 'sim']);
    expect(first.code).toBe(0);
    expect(first.stdout.split('\n')[0]).toBe(`Run ${runId}`);
    expect(first.stderr).toMatch(/mixed\.jsonl:2/);
    expect(first.stderr).toMatch(/mixed\.jsonl:3/);
    expect(first.stderr).toMatch(/1 duplicate/);
    expect(first.stderr).toMatch(/simulated LLM/);
    const meta = await new LocalRunStore(path.join(dir, 'runs')).readMeta(runId);
    expect(meta).toMatchObject({ seedCount: 2, invalidRows: 2, duplicateRows: 1 });
    expect(JSON.stringify(meta)).not.toMatch(/sk-|apiKey"/);

    const again = await evol(['run', '--input', input, '--run-id', runId, '--llm', 'sim']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
    expect(again.stderr).toContain('--resume');

    const cancelled = await evol(['cancel', runId]);
    expect(cancelled.code).toBe(0);
  });

  test.each([
    [
      'WizardLM test-set rows',
      'wizardlm-testset.jsonl',
      ['--instruction-field', 'Instruction', '--id-field', 'idx'],
      10,
    ],
    ['GSM8K question rows', 'gsm8k.jsonl', [], 3],
  ])('evol run accepts %s, and the same rows as CSV and Parquet', async (_name, fixture, flags, count) => {
    const source = path.resolve(__dirname, 'fixtures', 'input', fixture);
    const rows = fs
      .readFileSync(source, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, string | number>);
    const columns = Object.keys(rows[0]);
    const csv = write(
      `${fixture}.csv`,
      [
        columns.join(','),
        ...rows.map((r) => columns.map((c) => `"${String(r[c]).replace(/"/g, '""')}"`).join(',')),
      ].join('\n'),
    );
    const parquet = path.join(dir, `${fixture}.parquet`);
    const data = columns.map((name) => ({ name, data: rows.map((r) => String(r[name])), type: 'STRING' }));
    writeParquet(parquet, data);
    for (const input of [source, csv, parquet]) {
      const runId = `formats-${Date.now().toString(36)}-${path.extname(input).slice(1)}`;
      const result = await evol(['run', '--input', input, ...flags, '--run-id', runId, '--detach', '--llm', 'sim']);
      expect([input, result.code, result.stderr]).toEqual([input, 0, expect.stringContaining(`${count} seeds from`)]);
      expect(result.stderr).toContain(`(${count} rows, 0 invalid)`);
      noStackTrace(result.stderr);
      await evol(['cancel', runId]);
    }
  });

  test('an unusable run id is refused with what to use instead', async () => {
    const result = await evol(['run', '--input', 'x.jsonl', '--run-id', 'no spaces/allowed']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/not a usable run id/);
  });
});

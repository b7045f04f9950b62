import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Lineage } from '../core/lineage';
import { openAiErrorBody } from '../sim/http';
import { startSimLlm, type SimLlm } from '../sim/llm-server';
import { LocalRunStore } from '../store/local-run-store';
import { createDatasetRun } from '../client/api';
import { resolveLlmConfig } from '../core/config';
import { GENERAL_OPERATIONS } from '../core/operations';
import { lineageOf } from './helpers/store-conformance';
import { startHeaderRecorder } from './helpers/header-recorder';
import { closedRunHistories, historiesText } from './helpers/histories';
import { collect } from './helpers/runs';
import { connectClient, startWorker, testAddress, uniqueTaskQueue, type TestWorker } from './helpers/temporal';
import { writeParquet } from './helpers/parquet';
import { runCli, startWorkerProcess, type CliResult } from './helpers/worker-process';

/** Every file under `dir`, as one text with each file's path before its content. */
function filesText(dir: string): string {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const file = path.join(entry.parentPath, entry.name);
      return `== ${file}\n${fs.readFileSync(file, 'utf8')}`;
    })
    .join('\n');
}

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
    expect(await new LocalRunStore(path.join(dir, 'runs')).listRuns()).toEqual({ runs: [], unreadable: [] });
  });

  test('a run created by 0.1.0 is refused by every command that would run its workflows, naming 0.1.0; export still reads it', async () => {
    const runId = `old-${Date.now().toString(36)}`;
    const store = new LocalRunStore(path.join(dir, 'runs'));
    await createDatasetRun(store, {
      runId,
      inputFile: 'inline',
      seeds: [
        { id: 's1', text: 'Explain tides.', output: 'The moon pulls the sea.', source: { file: 'inline', line: 1 } },
      ],
      config: {
        llm: resolveLlmConfig({ env: {}, mode: 'sim' }).llm,
        method: 'general',
        operations: [...GENERAL_OPERATIONS],
      },
    });
    await store.saveRecord(lineageOf(runId, 's1', 'Explain tides, and how the moon causes them.'));
    // As 0.1.0 wrote it: no release, an id scheme, no kind.
    const file = path.join(dir, 'runs', runId, 'meta.json');
    const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    delete raw.release;
    delete raw.config.kind;
    raw.config.idScheme = '2';
    fs.writeFileSync(file, JSON.stringify(raw));

    for (const args of [
      ['run', '--run-id', runId, '--resume'],
      ['retry', runId],
      ['status', runId],
      ['pause', runId],
      ['score', runId],
    ]) {
      const result = await evol(args);
      expect([args.join(' '), result.code]).toEqual([args.join(' '), 2]);
      expect(result.stderr).toMatch(
        new RegExp(`run "${runId}" was created by EvolForge 0\\.1\\.0, before worker versioning.*git checkout a4ec839`),
      );
      noStackTrace(result.stderr);
    }
    const exported = await evol(['export', runId, '--format', 'alpaca']);
    expect(exported.code).toBe(0);
    expect(
      JSON.parse(exported.stdout)
        .map((row: { instruction: string }) => row.instruction)
        .sort(),
    ).toEqual(['Explain tides, and how the moon causes them.', 'seed s1']);
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

  test('a passage in a field of unknown name is reported once and kept out of the seeds, unless --input-field names it', async () => {
    const rows = [
      { id: 'bees', instruction: 'Summarize the passage.', passage_text: 'Bees make honey from nectar.' },
      { id: 'tides', instruction: 'Give the passage a title.', passage_text: 'Tides follow the moon.' },
      { id: 'nile', instruction: 'Which river is this?', context: 'It flows north into the Mediterranean.' },
    ];
    const input = write('passages.jsonl', rows.map((row) => JSON.stringify(row)).join('\n'));
    const store = new LocalRunStore(path.join(dir, 'runs'));
    const seedTexts = async (runId: string) =>
      Promise.all((await store.seedIds(runId, 0, 10)).map(async (id) => (await store.seed(runId, id)).text));
    const stamp = Date.now().toString(36);

    const plain = await evol(['run', '--input', input, '--run-id', `fields-${stamp}`, '--detach', '--llm', 'sim']);
    expect(plain.code).toBe(0);
    expect(plain.stderr.match(/Not used:/g)).toHaveLength(1);
    expect(plain.stderr).toContain(
      'Not used: text in field "passage_text" (2 of 3 rows). ' +
        'If the instructions refer to it, --input-field passage_text appends it to each instruction as its input.',
    );
    expect(await seedTexts(`fields-${stamp}`)).toEqual([
      'Summarize the passage.',
      'Give the passage a title.',
      'Which river is this?\n\nIt flows north into the Mediterranean.',
    ]);
    await evol(['cancel', `fields-${stamp}`]);

    const named = await evol([
      ...['run', '--input', input, '--input-field', 'passage_text'],
      ...['--run-id', `fields-named-${stamp}`, '--detach', '--llm', 'sim'],
    ]);
    expect(named.code).toBe(0);
    expect(named.stderr).toContain(`3 seeds from ${input} (3 rows, 0 invalid).`);
    // The field named replaces those recognised by name: the third row's context is now the one left out.
    expect(named.stderr).toContain('Not used: text in field "context" (1 of 3 rows).');
    expect(await seedTexts(`fields-named-${stamp}`)).toEqual([
      'Summarize the passage.\n\nBees make honey from nectar.',
      'Give the passage a title.\n\nTides follow the moon.',
      'Which river is this?',
    ]);
    await evol(['cancel', `fields-named-${stamp}`]);

    const typo = await evol([
      ...['run', '--input', input, '--input-field', 'passage'],
      ...['--run-id', `fields-typo-${stamp}`, '--detach', '--llm', 'sim'],
    ]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain(`--input-field "passage": no row of ${input} has a value in that field`);
    noStackTrace(typo.stderr);
    expect((await store.listRuns()).runs.map((run) => run.runId)).not.toContain(`fields-typo-${stamp}`);
  });

  test('an unusable run id is refused with what to use instead', async () => {
    const result = await evol(['run', '--input', 'x.jsonl', '--run-id', 'no spaces/allowed']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/not a usable run id/);
  });

  test('the API key a run is given (OPENAI_API_KEY) reaches the LLM and nothing else: no history, store file, log or terminal', async () => {
    // Not shaped like an OpenAI key (sk-...), so only redaction of the key itself can hide it, not a pattern.
    const secretPart = randomBytes(12).toString('hex');
    const SECRET = `evolforge-cli-secret-${secretPart}`;
    const runId = `key-${Date.now().toString(36)}`;
    const keyQueue = uniqueTaskQueue('cli-key');
    const dataDir = path.join(dir, 'key-worker-data');
    const keyEnv = { OPENAI_API_KEY: SECRET, EVOL_CODEC_KEY: '', EVOL_CODEC_KEY_FILE: '' };
    const front = await startHeaderRecorder(sim.url);
    // The provider fails one call and quotes the key in its error, as real ones do: that error reaches the log.
    sim.addRule({
      match: { kind: 'mutate' },
      times: 1,
      status: 500,
      body: openAiErrorBody(500, `upstream could not bill key ${SECRET}`),
    });
    const keyWorker = await startWorkerProcess({
      address: testAddress(),
      taskQueue: keyQueue,
      env: { ...keyEnv, EVOL_STORE_DIR: path.join(dir, 'runs'), EVOL_DATA_DIR: dataDir },
    });
    const { client, connection } = await connectClient();
    try {
      const input = write(
        'key.jsonl',
        '{"instruction": "Describe a tide pool."}\n{"instruction": "Name two comets."}\n',
      );
      const run = await evol(['run', '--input', input, '--run-id', runId, '--rounds', '1', '--task-queue', keyQueue], {
        ...keyEnv,
        OPENAI_BASE_URL: front.url,
      });
      expect([run.code, run.stderr]).toEqual([0, expect.stringContaining(`at ${front.url}`)]);
      const exported = await evol(['export', runId]);
      expect(exported.code).toBe(0);

      const store = new LocalRunStore(path.join(dir, 'runs'));
      const records = await collect(store.records(runId));
      expect(records).toHaveLength(2);
      // The key was in play: every LLM call carried it, and the provider's error quoting it was met and retried.
      expect(front.authorizations().length).toBeGreaterThan(2);
      expect(new Set(front.authorizations())).toEqual(new Set([`Bearer ${SECRET}`]));
      expect(sim.requests().filter((r) => r.status === 500)).toHaveLength(1);

      const places = {
        histories: historiesText(await closedRunHistories(client, runId, 3)),
        storeFiles: filesText(path.join(dir, 'runs', runId)),
        workerLog: keyWorker.log(),
        terminal: [run.stdout, run.stderr, exported.stdout, exported.stderr, keyWorker.output()].join('\n'),
      };
      // The same search finds what each place is known to hold, so an absence below is no blind spot.
      const evolved = records[0].steps[0].instruction;
      expect({
        histories: [evolved, 'upstream could not bill key'].every((t) => places.histories.includes(t)),
        storeFiles: ['Describe a tide pool.', 'OPENAI_API_KEY'].every((t) => places.storeFiles.includes(t)),
        workerLog: ['Activity failed', 'upstream could not bill key'].every((t) => places.workerLog.includes(t)),
        terminal: [`Run ${runId}`, evolved, 'Worker polling'].every((t) => places.terminal.includes(t)),
      }).toEqual({ histories: true, storeFiles: true, workerLog: true, terminal: true });
      const leaks = Object.entries(places).filter(([, text]) => text.includes(secretPart));
      expect(leaks.map(([place]) => place)).toEqual([]);
    } finally {
      sim.clearRules();
      await connection.close();
      await keyWorker.kill();
      await front.close();
    }
  });
});

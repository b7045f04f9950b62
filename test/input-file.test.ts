import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatProblem, readSeedFile, type InputReport } from '../client/input-file';
import { normalizeRow } from '../core/input-shapes';
import { UserError } from '../core/validation';
import { writeParquet } from './helpers/parquet';
import { userErrorOf } from './helpers/user-error';

const FIXTURES = path.resolve(__dirname, 'fixtures/input');
const fixture = (name: string) => path.join(FIXTURES, name);

const SHARED_DATA = process.env.EVOL_SHARED_DATA ?? path.resolve(__dirname, '../../shared/data');
const SHARED_SEED_TASKS = path.join(SHARED_DATA, 'self_instruct_seed_tasks.jsonl');
const sharedSeedTasksPresent = fs.existsSync(SHARED_SEED_TASKS);
const runInCi = process.env.CI === 'true';
if (!sharedSeedTasksPresent && !runInCi) {
  console.log(`skipping the shared-dataset test: ${SHARED_SEED_TASKS} not found (set EVOL_SHARED_DATA to its folder)`);
}
const sharedDataTest = sharedSeedTasksPresent || runInCi ? test : test.skip;

let scratch: string;

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-input-'));
});

afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** Writes bytes that must not pass through git or an editor (BOMs, CRLF, broken UTF-8) to a scratch file. */
function scratchFile(name: string, content: string | Buffer): string {
  const file = path.join(scratch, name);
  fs.writeFileSync(file, content);
  return file;
}

const textsOf = (report: InputReport) => report.seeds.map((seed) => seed.text);

describe('normalizeRow: each row shape becomes a seed', () => {
  test.each([
    ['Alpaca without input', { instruction: 'Say hi.', output: 'Hi!' }, { text: 'Say hi.', output: 'Hi!' }],
    ['Alpaca with input', { instruction: 'Sum these.', input: '2, 3' }, { text: 'Sum these.\n\n2, 3' }],
    ['Alpaca with a blank input', { instruction: 'Say hi.', input: '  ' }, { text: 'Say hi.' }],
    ['Alpaca with null input and output', { instruction: 'Say hi.', input: null, output: null }, { text: 'Say hi.' }],
    ['plain instruction, trimmed', { instruction: '  Say hi.\n' }, { text: 'Say hi.' }],
    ['plain prompt', { prompt: 'Write a haiku.' }, { text: 'Write a haiku.' }],
    ['bare string', ' Write a haiku. ', { text: 'Write a haiku.' }],
    [
      'self-instruct: first instance',
      {
        instruction: 'Classify.',
        instances: [
          { input: 'a cat', output: 'animal' },
          { input: 'x', output: 'y' },
        ],
      },
      { text: 'Classify.\n\na cat', output: 'animal' },
    ],
    ['self-instruct without instances', { instruction: 'Classify.', instances: [] }, { text: 'Classify.' }],
    [
      'ShareGPT: first human turn and the gpt turn after it',
      {
        conversations: [
          { from: 'gpt', value: 'Hello, how can I help?' },
          { from: 'human', value: 'What is 2+2?' },
          { from: 'system', value: 'Be short.' },
          { from: 'gpt', value: '4' },
        ],
      },
      { text: 'What is 2+2?', output: '4' },
    ],
    [
      'chat: first user message and the assistant reply',
      {
        messages: [
          { role: 'system', content: 'Be short.' },
          { role: 'user', content: 'What is 2+2?' },
          { role: 'assistant', content: '4' },
        ],
      },
      { text: 'What is 2+2?', output: '4' },
    ],
    [
      'chat with content parts',
      { messages: [{ role: 'user', content: [{ type: 'text', text: 'Describe it.' }, { type: 'image_url' }] }] },
      { text: 'Describe it.' },
    ],
  ])('%s', (_name, row, expected) => {
    expect(normalizeRow(row)).toEqual({ ok: true, seed: expected });
  });

  test.each([
    ['a string id', 'abc', 'abc'],
    ['a number id', 12, '12'],
    ['a null id', null, undefined],
  ])('%s', (_name, id, expected) => {
    const result = normalizeRow({ id, instruction: 'Say hi.' });
    expect(result).toMatchObject({ ok: true });
    expect(result.ok && result.seed.id).toBe(expected);
  });

  test.each([
    ['instruction is a number', { instruction: 42 }, 'instruction', /expected a non-empty string/],
    ['instruction is blank', { instruction: ' \t ' }, 'instruction', /expected a non-empty string/],
    ['self-instruct without instruction', { instances: [] }, 'instruction', /non-empty string/],
    ['instances is not an array', { instruction: 'x', instances: 'none' }, 'instances', /array/],
    ['conversations is not an array', { conversations: 'hi' }, 'conversations', /array of \{"from", "value"\}/],
    ['a turn without value', { conversations: [{ from: 'human' }] }, 'conversations.0.value', /string/],
    ['no human turn', { conversations: [{ from: 'gpt', value: 'Hi' }] }, 'conversations', /no user turn/],
    ['no user message', { messages: [{ role: 'system', content: 'x' }] }, 'messages', /no user turn/],
    ['empty user message', { messages: [{ role: 'user', content: ' ' }] }, 'messages.0.content', /non-empty/],
    ['an id that is an object', { id: { a: 1 }, instruction: 'x' }, 'id', /string or a number/],
    ['an id with a newline', { id: 'a\nb', instruction: 'x' }, 'id', /control characters/],
    ['an id too long', { id: 'x'.repeat(129), instruction: 'x' }, 'id', /at most 128/],
  ])('%s is refused, naming the field', (_name, row, field, reason) => {
    const result = normalizeRow(row);
    expect(result).toMatchObject({ ok: false, field });
    expect(result.ok || result.reason).toMatch(reason);
    expect(result.ok || result.reason).toMatch(/Fix or remove the row|or remove the row/);
  });

  test.each([
    ['an array', [1, 2], /got an array/],
    ['a number', 42, /got a number/],
    ['null', null, /got null/],
    ['an empty string', '  ', /non-empty string/],
    [
      'an object of no known shape',
      { query: 'q', reply: 'a' },
      /no recognisable row shape.*"query".*Alpaca.*--instruction-field/,
    ],
  ])('%s is refused with what was expected', (_name, value, reason) => {
    const result = normalizeRow(value);
    expect(result).toMatchObject({ ok: false });
    expect(result.ok || result.reason).toMatch(reason);
  });
});

describe('readSeedFile: the row shapes, from files', () => {
  test.each([
    [
      'alpaca.jsonl',
      [
        {
          id: 'line-1',
          text: 'Give three tips for staying healthy.',
          output: 'Eat well, sleep enough and move every day.',
        },
        {
          id: 'line-2',
          text: 'Translate the sentence into French.\n\nThe cat sleeps on the sofa.',
          output: 'Le chat dort sur le canapé.',
        },
        { id: '7', text: 'Name a primary colour.' },
      ],
    ],
    [
      'self-instruct.jsonl',
      [
        { id: 'seed_task_a', text: 'Suggest a breakfast without eggs.', output: 'Oatmeal with nuts and berries.' },
        {
          id: 'seed_task_b',
          text: 'What is the relation between the given pairs?\n\nNight : Day :: Right : Left',
          output: 'They are opposites.',
        },
      ],
    ],
    [
      'sharegpt.jsonl',
      [
        {
          id: 'conv-1',
          text: 'What is a prime number?',
          output: 'A whole number above 1 with no divisors but 1 and itself.',
        },
        { id: 'line-2', text: 'Write a limerick about a cat.' },
      ],
    ],
    [
      'chat.jsonl',
      [
        {
          id: 'line-1',
          text: 'List the planets of the solar system.',
          output: 'Mercury, Venus, Earth, Mars, Jupiter, Saturn, Uranus, Neptune.',
        },
        { id: 'parts', text: 'Describe this picture.' },
      ],
    ],
    [
      'prompt.jsonl',
      [
        { id: 'line-1', text: 'Write a haiku about rain.' },
        { id: 'line-2', text: 'Summarize the plot of Hamlet in two sentences.' },
      ],
    ],
  ])('%s', async (name, expected) => {
    const report = await readSeedFile(fixture(name));
    expect(report.seeds).toEqual(
      expected.map((seed, index) => ({ ...seed, source: { file: fixture(name), line: index + 1 } })),
    );
    expect(report).toMatchObject({ invalid: [], duplicates: [], totalRows: expected.length, format: 'jsonl' });
  });

  test('source.file is absolute even when the path given is relative', async () => {
    const relative = path.relative(process.cwd(), fixture('prompt.jsonl'));
    const report = await readSeedFile(relative);
    expect(report.seeds[0].source.file).toBe(fixture('prompt.jsonl'));
  });
});

describe('readSeedFile: duplicates and bad rows', () => {
  test('the same text (case and spacing aside) is kept once and the rest reported', async () => {
    const report = await readSeedFile(fixture('duplicates.jsonl'));
    expect(report.seeds.map((seed) => seed.id)).toEqual(['a', 'c', 'd']);
    expect(report.duplicates).toEqual([
      { file: fixture('duplicates.jsonl'), line: 2, duplicateOfLine: 1, id: 'b' },
      { file: fixture('duplicates.jsonl'), line: 5, duplicateOfLine: 3, id: 'e' },
    ]);
    expect(report.totalRows).toBe(5);
  });

  test('each malformed row is reported with its line and field, and the good rows are returned', async () => {
    const report = await readSeedFile(fixture('invalid-rows.jsonl'));
    expect(report.seeds.map((seed) => [seed.id, seed.source.line])).toEqual([
      ['ok-1', 1],
      ['line-11', 11],
    ]);
    expect(report.invalid.map((problem) => [problem.line, problem.field])).toEqual([
      [2, 'instruction'],
      [3, 'instruction'],
      [4, undefined],
      [5, undefined],
      [6, undefined],
      [7, 'conversations'],
      [8, 'messages'],
      [9, 'id'],
      [12, undefined],
    ]);
    const reasons = Object.fromEntries(report.invalid.map((problem) => [problem.line, problem.reason]));
    expect(reasons[4]).toMatch(/^invalid JSON \(.*\)\. Fix the line or remove it\.$/);
    expect(reasons[5]).toMatch(/got an array/);
    expect(reasons[6]).toMatch(/no recognisable row shape/);
    expect(reasons[9]).toMatch(/id "ok-1" already used at line 1/);
    expect(report.totalRows).toBe(11);
    expect(formatProblem(report.invalid[0])).toBe(
      `${fixture('invalid-rows.jsonl')}:2: field "instruction": expected a non-empty string. Fix or remove the row.`,
    );
  });

  test('strict mode refuses the file, naming file:line of the first problems and the count', async () => {
    const file = path.relative(process.cwd(), fixture('invalid-rows.jsonl'));
    const err = await userErrorOf(readSeedFile(file, { strict: true }));
    expect(err.message).toContain(`${file} has 9 invalid rows`);
    expect(err.message).toContain(`${file}:2: field "instruction"`);
    expect(err.message).toContain('... and 4 more');
    expect(err.message).toMatch(/without --strict/);
  });

  test('strict mode accepts a clean file', async () => {
    await expect(readSeedFile(fixture('alpaca.jsonl'), { strict: true })).resolves.toMatchObject({ invalid: [] });
  });

  test('a file with no valid row is refused with its problems', async () => {
    const file = scratchFile('all-bad.jsonl', '{"instruction": ""}\n[]\n');
    const err = await userErrorOf(readSeedFile(file));
    expect(err.message).toContain(`${file} has no valid rows (2 of 2 invalid)`);
    expect(err.message).toContain(`${file}:1: field "instruction"`);
  });
});

describe('readSeedFile: files that cannot be used', () => {
  test.each([
    ['an empty file', () => scratchFile('empty.jsonl', ''), /empty\.jsonl is empty: add one JSON object per line/],
    ['blank lines only', () => scratchFile('blank.jsonl', '\n  \r\n\t\n'), /blank\.jsonl is empty/],
    ['a missing file', () => path.join(scratch, 'missing.jsonl'), /missing\.jsonl not found/],
    ['a directory', () => scratch, /is a directory: give --input a \.jsonl or \.json file/],
    ['an empty JSON array', () => scratchFile('empty.json', '[\n]\n'), /empty\.json has no rows/],
    ['a binary file', () => scratchFile('model.bin', Buffer.from([0x7b, 0, 1, 2, 0x7d])), /looks binary, not JSON/],
    ['a gzip file', () => scratchFile('seeds.jsonl.gz', Buffer.from([0x1f, 0x8b, 8, 0, 0])), /gzip-compressed/],
  ])('%s is a UserError naming the file', async (_name, makeFile, message) => {
    const file = makeFile();
    const err = await userErrorOf(readSeedFile(file));
    expect(err.message).toMatch(message);
    expect(err.message).toContain(path.basename(file));
  });

  test('a JSON document with a syntax error names the line', async () => {
    const file = scratchFile('broken.json', '[\n  {"instruction": "a"},\n  {"instruction": "b",}\n]\n');
    const err = await userErrorOf(readSeedFile(file));
    expect(err.message).toMatch(new RegExp(`broken\\.json:3: invalid JSON`));
  });
});

describe('readSeedFile: encodings, line endings and JSON documents', () => {
  test('a UTF-8 BOM and CRLF line endings are accepted', async () => {
    const file = scratchFile('bom-crlf.jsonl', '\uFEFF{"instruction": "First."}\r\n\r\n{"instruction": "Second."}\r\n');
    const report = await readSeedFile(file);
    expect(textsOf(report)).toEqual(['First.', 'Second.']);
    expect(report.seeds.map((seed) => seed.source.line)).toEqual([1, 3]);
    expect(report.invalid).toEqual([]);
  });

  test('a JSON array file gives each row the line where it starts', async () => {
    const report = await readSeedFile(fixture('rows.json'));
    expect(report.format).toBe('json');
    expect(report.seeds.map((seed) => [seed.id, seed.source.line, seed.text])).toEqual([
      ['first', 2, 'Explain gravity.'],
      ['line-3', 3, 'Summarize the text.\n\nGravity pulls masses together.'],
    ]);
    expect(report.invalid).toMatchObject([{ line: 8, field: 'instruction' }]);
    expect(report.totalRows).toBe(3);
  });

  test('a {"data": [...]} document is read through strings that look like JSON', async () => {
    const report = await readSeedFile(fixture('data-wrapper.json'));
    expect(report.seeds.map((seed) => [seed.source.line, seed.text])).toEqual([
      [5, 'Name a river in Africa.'],
      [6, 'Name a mountain in Asia.'],
      [7, 'Name a desert.'],
    ]);
  });

  test.each([
    ['spanning lines', '[\n  {"instruction": "One."},\n  {"instruction": "Two."}\n]\n', [2, 3], ['line-2', 'line-3']],
    ['on one line', '\n[{"instruction": "One."}, {"instruction": "Two."}]', [2, 2], ['line-2', 'line-2-2']],
  ])('a .jsonl file holding one JSON array %s is read as JSON', async (_name, content, lines, ids) => {
    const report = await readSeedFile(scratchFile('array.jsonl', content));
    expect(report.format).toBe('json');
    expect(textsOf(report)).toEqual(['One.', 'Two.']);
    expect(report.seeds.map((seed) => seed.source.line)).toEqual(lines);
    expect(report.seeds.map((seed) => seed.id)).toEqual(ids);
  });

  test('a JSONL file whose first row is an array stays JSONL', async () => {
    const report = await readSeedFile(scratchFile('first-array.jsonl', '["a", "b"]\n{"instruction": "One."}\n'));
    expect(report.format).toBe('jsonl');
    expect(textsOf(report)).toEqual(['One.']);
    expect(report.invalid).toMatchObject([{ line: 1, reason: expect.stringMatching(/got an array/) }]);
  });

  test('a default id already taken by an explicit one is reported', async () => {
    const content = '{"id": "line-2", "instruction": "One."}\n{"instruction": "Two."}\n';
    const report = await readSeedFile(scratchFile('taken-id.jsonl', content));
    expect(report.invalid).toMatchObject([
      { line: 2, field: 'id', reason: expect.stringMatching(/default id "line-2"/) },
    ]);
  });

  test('a .json file of JSON lines is read as JSONL', async () => {
    const report = await readSeedFile(scratchFile('lines.json', '{"instruction": "One."}\n{"instruction": "Two."}\n'));
    expect(report.format).toBe('jsonl');
    expect(textsOf(report)).toEqual(['One.', 'Two.']);
  });

  test('a line over the limit is reported and skipped without being read', async () => {
    const secret = 'SECRET'.repeat(50);
    const content = `{"instruction": "Short."}\n{"instruction": "${secret}"}\r\n{"instruction": "Also short."}`;
    const report = await readSeedFile(scratchFile('long-line.jsonl', content), { maxLineBytes: 100 });
    expect(textsOf(report)).toEqual(['Short.', 'Also short.']);
    expect(report.invalid).toHaveLength(1);
    expect(report.invalid[0]).toMatchObject({ line: 2, reason: expect.stringMatching(/line too long \(\d+ bytes/) });
    expect(report.invalid[0].reason).not.toContain('SECRET');
  });

  test('a line exactly at the limit, with a CRLF ending, is read', async () => {
    const row = '{"instruction": "Fits."}';
    const report = await readSeedFile(scratchFile('at-limit.jsonl', `${row}\r\n`), { maxLineBytes: row.length });
    expect(textsOf(report)).toEqual(['Fits.']);
  });

  test('invalid UTF-8 in JSONL is reported by line', async () => {
    const bad = Buffer.from([0x7b, 0x22, 0x70, 0x72, 0x6f, 0x6d, 0x70, 0x74, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]);
    const file = scratchFile(
      'latin1.jsonl',
      Buffer.concat([Buffer.from('"Fine \uFFFD row."\n'), bad, Buffer.from('\n')]),
    );
    const report = await readSeedFile(file);
    expect(textsOf(report)).toEqual(['Fine \uFFFD row.']);
    expect(report.invalid).toMatchObject([{ line: 2, reason: expect.stringMatching(/not valid UTF-8/) }]);
  });

  test('invalid UTF-8 in a JSON document is reported at the row that holds it', async () => {
    const content = Buffer.concat([
      Buffer.from('[\n  {"instruction": "Good."},\n  {\n    "instruction": "Caf'),
      Buffer.from([0xe9]),
      Buffer.from('"\n  }\n]\n'),
    ]);
    const report = await readSeedFile(scratchFile('latin1.json', content));
    expect(textsOf(report)).toEqual(['Good.']);
    expect(report.invalid).toMatchObject([{ line: 3, reason: expect.stringMatching(/line 4 is not valid UTF-8/) }]);
  });

  test('10,000 nested arrays on one line are a clear problem, and nesting inside extra fields is harmless', async () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const content = `${deep}\n{"instruction": "Keep me.", "extra": ${deep}}\n`;
    const report = await readSeedFile(scratchFile('deep.jsonl', content));
    expect(textsOf(report)).toEqual(['Keep me.']);
    expect(report.invalid).toMatchObject([{ line: 1, reason: expect.stringMatching(/got an array/) }]);
  });

  test('50,000 rows stream through, duplicates folded', async () => {
    const rows = Array.from({ length: 50_000 }, (_, i) =>
      JSON.stringify({ id: i, instruction: `Task ${i % 40_000}.` }),
    );
    const report = await readSeedFile(scratchFile('large.jsonl', `${rows.join('\n')}\n`));
    expect(report.seeds).toHaveLength(40_000);
    expect(report.duplicates).toHaveLength(10_000);
    expect(report.duplicates[0]).toMatchObject({ line: 40_001, duplicateOfLine: 1, id: '40000' });
    expect(report.totalRows).toBe(50_000);
  });
});

describe('the shared self-instruct seed tasks', () => {
  sharedDataTest('175 seeds, ids seed_task_0.., nothing invalid', async () => {
    if (!sharedSeedTasksPresent) {
      throw new Error(`the shared dataset is missing: ${SHARED_SEED_TASKS} (CI must provide it; set EVOL_SHARED_DATA)`);
    }
    const report = await readSeedFile(SHARED_SEED_TASKS, { strict: true });
    expect(report.seeds).toHaveLength(175);
    expect(report.seeds.map((seed) => seed.id)).toEqual(Array.from({ length: 175 }, (_, i) => `seed_task_${i}`));
    expect(report).toMatchObject({ invalid: [], duplicates: [], totalRows: 175, format: 'jsonl' });
    expect(report.seeds[1].text).toBe('What is the relation between the given pairs?\n\nNight : Day :: Right : Left');
  });
});

// ---------------------------------------------------------------------------------------------
// Any seed file people have: named fields, GSM8K and MATH rows, CSV and Parquet

/** The built reader in a Node process of its own: hyparquet is an ES module, which jest's module system cannot load. */
function readInNode(file: string, fields: Record<string, string> = {}): InputReport & { problems: string[] } {
  const reader = path.resolve(__dirname, '..', 'dist', 'client', 'input-file.js');
  const script = `
    const { readSeedFile, formatProblem } = require(${JSON.stringify(reader)});
    readSeedFile(process.argv[1], { fields: JSON.parse(process.argv[2]) })
      .then((r) => process.stdout.write(JSON.stringify({ ...r, problems: r.invalid.map(formatProblem) })))
      .catch((e) => { process.stdout.write(JSON.stringify({ error: e.message })); });
  `;
  const out = JSON.parse(
    execFileSync(process.execPath, ['-e', script, file, JSON.stringify(fields)], { encoding: 'utf8' }),
  ) as InputReport & { problems: string[]; error?: string };
  if (out.error) throw new UserError(out.error);
  return out;
}

describe('any seed file people have', () => {
  test("WizardLM's test set is read with --instruction-field Instruction and --id-field idx", async () => {
    const report = await readSeedFile(fixture('wizardlm-testset.jsonl'), {
      fields: { instruction: 'Instruction', id: 'idx' },
    });
    expect(report.invalid).toEqual([]);
    expect(report.seeds).toHaveLength(10);
    expect(report.seeds[0]).toMatchObject({ id: '1', text: expect.stringMatching(/^A shop sells pencils/) });
  });

  test('without the flags its "Instruction" is recognised in any case, since no other field has that name', async () => {
    const report = await readSeedFile(fixture('wizardlm-testset.jsonl'));
    expect(report.seeds).toHaveLength(10);
    expect(report.invalid).toEqual([]);
  });

  test('GSM8K rows (question, answer) are seeds with their own answers', async () => {
    const report = await readSeedFile(fixture('gsm8k.jsonl'));
    expect(report.seeds).toHaveLength(3);
    expect(report.seeds[0]).toMatchObject({ text: expect.stringMatching(/^Lena buys 4 notebooks/) });
    expect(report.seeds[0].output).toMatch(/#### 14/);
  });

  test('MATH rows (problem, solution) are seeds with their own answers', () => {
    expect(normalizeRow({ problem: 'Find x if 2x = 6.', solution: 'x = 3' })).toEqual({
      ok: true,
      seed: { text: 'Find x if 2x = 6.', output: 'x = 3' },
    });
  });

  test('--input-field appends a field of the row to the instruction', async () => {
    const file = scratchFile('dolly.jsonl', '{"instruction": "Summarise the text.", "context": "Bees make honey."}\n');
    const report = await readSeedFile(file, { fields: { input: 'context' } });
    expect(report.seeds[0].text).toBe('Summarise the text.\n\nBees make honey.');
  });

  test('a named field that a row lacks is reported with file, line and field', async () => {
    const file = scratchFile('named.jsonl', '{"Instruction": "One."}\n{"instruction": "Two."}\n');
    const report = await readSeedFile(file, { fields: { instruction: 'Instruction' } });
    expect(report.seeds).toHaveLength(1);
    expect(report.invalid.map(formatProblem)).toEqual([
      `${file}:2: field "Instruction": the row has no field "Instruction" (--instruction-field). Fix or remove the row, or name another field.`,
    ]);
  });

  test('two fields that differ only in case are ambiguous: the row says to name the field', () => {
    const result = normalizeRow({ instruction: 'a', Instruction: 'b' });
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/--instruction-field/) });
  });

  test('CSV: a header row, quoted cells with commas and newlines, bad records reported at their line', async () => {
    const file = scratchFile(
      'seeds.csv',
      [
        'instruction,input,output',
        '"Summarize the text.","Long text, with a comma',
        'and a newline",ok',
        ',,',
        '"Translate to French: hello",,',
        '"bad "quote",x,y',
        'Explain tides.,,',
      ].join('\n'),
    );
    const report = await readSeedFile(file);
    expect(report.format).toBe('csv');
    expect(report.seeds.map((s) => [s.id, s.source.line])).toEqual([
      ['line-2', 2],
      ['line-5', 5],
      ['line-7', 7],
    ]);
    expect(report.seeds[0].text).toBe('Summarize the text.\n\nLong text, with a comma\nand a newline');
    expect(report.invalid.map((p) => p.line).sort()).toEqual([4, 6]);
    expect(report.invalid.find((p) => p.line === 6)?.reason).toMatch(/not valid CSV/);
    expect(report.totalRows).toBe(5);
  });

  test('the same rows as JSONL, CSV and Parquet give the same seeds', () => {
    const jsonl = fixture('gsm8k.jsonl');
    const rows = fs
      .readFileSync(jsonl, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { question: string; answer: string });
    const csvFile = scratchFile(
      'gsm8k.csv',
      [
        'question,answer',
        ...rows.map((r) => [r.question, r.answer].map((c) => `"${c.replace(/"/g, '""')}"`).join(',')),
      ].join('\n'),
    );
    const parquetFile = path.join(scratch, 'gsm8k.parquet');
    writeParquet(parquetFile, [
      { name: 'question', data: rows.map((r) => r.question), type: 'STRING' },
      { name: 'answer', data: rows.map((r) => r.answer), type: 'STRING' },
    ]);
    const texts = (report: InputReport) => report.seeds.map((s) => [s.text, s.output]);
    const fromJsonl = readInNode(jsonl);
    expect(texts(readInNode(csvFile))).toEqual(texts(fromJsonl));
    const fromParquet = readInNode(parquetFile);
    expect(fromParquet.format).toBe('parquet');
    expect(texts(fromParquet)).toEqual(texts(fromJsonl));
    expect(fromParquet.seeds.map((s) => s.id)).toEqual(['row-1', 'row-2', 'row-3']);
  });

  test('Parquet: an int64 id column, a named field, and a bad row reported by its row number', () => {
    const file = path.join(scratch, 'wizard.parquet');
    writeParquet(file, [
      { name: 'idx', data: [1, 2, 3], type: 'INT64' },
      { name: 'Instruction', data: ['Name a prime.', '', 'Name an even prime.'], type: 'STRING' },
    ]);
    const report = readInNode(file, { instruction: 'Instruction', id: 'idx' });
    expect(report.seeds.map((s) => [s.id, s.text])).toEqual([
      ['1', 'Name a prime.'],
      ['3', 'Name an even prime.'],
    ]);
    expect(report.problems).toEqual([
      `${file} row 2: field "Instruction": expected a non-empty string (--instruction-field). Fix or remove the row.`,
    ]);
  });

  test('Parquet: a column named with --input-field is taken in; without it, the column is reported', () => {
    const file = path.join(scratch, 'passages.parquet');
    writeParquet(file, [
      { name: 'instruction', data: ['Summarize the passage.', 'Name a river.'], type: 'STRING' },
      { name: 'passage_text', data: ['Bees make honey from nectar.', null], type: 'STRING' },
    ]);
    const plain = readInNode(file);
    expect(plain.seeds.map((s) => s.text)).toEqual(['Summarize the passage.', 'Name a river.']);
    expect(plain.unusedFields).toEqual([{ field: 'passage_text', rows: 1 }]);
    const named = readInNode(file, { input: 'passage_text' });
    expect(named.seeds.map((s) => s.text)).toEqual([
      'Summarize the passage.\n\nBees make honey from nectar.',
      'Name a river.',
    ]);
    expect(named.unusedFields).toEqual([]);
    expect(() => readInNode(file, { input: 'passage' })).toThrow(
      /^--input-field "passage": no row of .*passages\.parquet has a value in that field \(the rows' fields include "instruction", "passage_text"\)/,
    );
  });

  test('a file named .parquet that is not one is a clear error', () => {
    const file = scratchFile('broken.parquet', 'PAR1 this is not really parquet');
    expect(() => readInNode(file)).toThrow(/broken\.parquet is not a readable Parquet file/);
  });
});

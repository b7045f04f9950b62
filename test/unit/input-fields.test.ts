/**
 * The text an instruction refers to, in a field of its own beside it: taken in when the field's name is one we
 * recognise (or the user names it), and reported, once per file, when it is not.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unusedFieldsNotice } from '../../client/format';
import { readSeedFile } from '../../client/input-file';
import { INPUT_FIELDS, normalizeRow } from '../../core/input-shapes';
import { userErrorOf } from '../helpers/user-error';

const PASSAGE = 'Honey bees make honey from nectar, and store it in wax combs.';
const ASK = 'Summarize the passage.';

let scratch: string;

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-input-fields-'));
});

afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

function scratchFile(name: string, content: string): string {
  const file = path.join(scratch, name);
  fs.writeFileSync(file, content);
  return file;
}

const jsonl = (rows: readonly object[]) => `${rows.map((row) => JSON.stringify(row)).join('\n')}\n`;

describe('a field recognised by name is the input of the instruction', () => {
  test.each(INPUT_FIELDS.map((field) => [field]))('"%s" is appended to the instruction', (field) => {
    expect(normalizeRow({ instruction: ASK, [field]: PASSAGE, output: 'Bees make honey.' })).toEqual({
      ok: true,
      seed: { text: `${ASK}\n\n${PASSAGE}`, output: 'Bees make honey.' },
    });
  });

  test.each([
    ['a question (SQuAD)', { id: 'q1', title: 'Bees', question: 'What do bees store honey in?', context: PASSAGE }],
    ['a prompt', { prompt: 'What do bees store honey in?', passage: PASSAGE }],
    ['a chat', { messages: [{ role: 'user', content: 'What do bees store honey in?' }], document: PASSAGE }],
  ])('beside %s too', (_name, row) => {
    const result = normalizeRow(row);
    expect(result.ok && result.seed.text).toBe(`What do bees store honey in?\n\n${PASSAGE}`);
  });

  test('in any case, when no other field has the name', () => {
    const result = normalizeRow({ Instruction: ASK, Context: PASSAGE });
    expect(result).toEqual({ ok: true, seed: { text: `${ASK}\n\n${PASSAGE}` } });
  });

  test('several are appended in the order of the list, blank ones left out', () => {
    const result = normalizeRow({
      article: 'Third.',
      instruction: ASK,
      context: 'Second.',
      input: 'First.',
      passage: ' ',
    });
    expect(result).toEqual({ ok: true, seed: { text: `${ASK}\n\nFirst.\n\nSecond.\n\nThird.` } });
  });

  test('a Dolly row: its context is taken in; its response and category are reported, not taken', () => {
    const row = { instruction: ASK, context: PASSAGE, response: 'Bees make honey.', category: 'summarization' };
    expect(normalizeRow(row)).toEqual({
      ok: true,
      seed: { text: `${ASK}\n\n${PASSAGE}` },
      unusedFields: ['response', 'category'],
    });
  });

  test('with --instruction-field, the recognised fields are still the input, but never the instruction itself', () => {
    expect(normalizeRow({ Task: ASK, context: PASSAGE }, { instruction: 'Task' })).toEqual({
      ok: true,
      seed: { text: `${ASK}\n\n${PASSAGE}` },
    });
    expect(normalizeRow({ context: ASK, passage: PASSAGE }, { instruction: 'context' })).toEqual({
      ok: true,
      seed: { text: `${ASK}\n\n${PASSAGE}` },
    });
  });
});

describe('text, source and reference are not taken by name', () => {
  test('a row whose only field is "text" is a plain instruction', () => {
    expect(normalizeRow({ text: ' Write a haiku about rain. ' })).toEqual({
      ok: true,
      seed: { text: 'Write a haiku about rain.' },
    });
    expect(normalizeRow({ id: 7, text: ASK, context: PASSAGE })).toEqual({
      ok: true,
      seed: { id: '7', text: `${ASK}\n\n${PASSAGE}` },
    });
  });

  test('beside an instruction, "text" (here an Alpaca row rendered whole) is reported, not appended', () => {
    const text = `### Instruction:\n${ASK}\n\n### Input:\n${PASSAGE}\n\n### Response:\nBees make honey.`;
    expect(normalizeRow({ instruction: ASK, input: PASSAGE, output: 'Bees make honey.', text })).toEqual({
      ok: true,
      seed: { text: `${ASK}\n\n${PASSAGE}`, output: 'Bees make honey.' },
      unusedFields: ['text'],
    });
  });

  test('"source" (the dataset a row came from) and "reference" (a reference answer) are reported, not appended', () => {
    const row = {
      messages: [{ role: 'user', content: 'Name a prime.' }],
      source: 'ai2-adapt-dev/oasst1',
      reference: '2',
    };
    expect(normalizeRow(row)).toEqual({
      ok: true,
      seed: { text: 'Name a prime.' },
      unusedFields: ['source', 'reference'],
    });
  });
});

describe('a field of unknown name is kept out and reported', () => {
  test('a text field beside the instruction is not appended, and the row names it', () => {
    expect(normalizeRow({ id: 'a', instruction: ASK, passage_text: PASSAGE })).toEqual({
      ok: true,
      seed: { id: 'a', text: ASK },
      unusedFields: ['passage_text'],
    });
  });

  test('numbers, booleans, lists, objects and blank strings are not text, so they are not reported', () => {
    const row = {
      instruction: ASK,
      difficulty: 3,
      is_classification: false,
      tags: ['bees', 'honey'],
      meta: { passage: PASSAGE },
      notes: '  ',
      missing: null,
    };
    expect(normalizeRow(row)).toEqual({ ok: true, seed: { text: ASK } });
  });

  test("the shape's own fields are never reported: instruction, answer and id, in any shape", () => {
    const rows = [
      { ID: 'x', Instruction: ASK, Output: 'Bees.' },
      { question: 'What do bees make?', answer: 'Honey.' },
      { problem: 'Find x if 2x = 6.', solution: 'x = 3' },
      { prompt: ASK },
      { conversations: [{ from: 'human', value: ASK }] },
    ];
    for (const row of rows) expect(normalizeRow(row)).not.toHaveProperty('unusedFields');
  });

  test('--input-field names it: it is taken in, and no longer reported', () => {
    expect(normalizeRow({ instruction: ASK, passage_text: PASSAGE }, { input: 'passage_text' })).toEqual({
      ok: true,
      seed: { text: `${ASK}\n\n${PASSAGE}` },
    });
  });

  test('--input-field replaces the fields recognised by name, which are then reported', () => {
    expect(
      normalizeRow({ instruction: ASK, input: 'Not this.', passage_text: PASSAGE }, { input: 'passage_text' }),
    ).toEqual({ ok: true, seed: { text: `${ASK}\n\n${PASSAGE}` }, unusedFields: ['input'] });
  });

  test('--input-field reads the field by its exact name, even beside one that differs only in case', () => {
    expect(normalizeRow({ instruction: ASK, Context: 'Not this.', context: PASSAGE }, { input: 'context' })).toEqual({
      ok: true,
      seed: { text: `${ASK}\n\n${PASSAGE}` },
      unusedFields: ['Context'],
    });
  });
});

describe('the file: unused fields counted once per field, and named fields checked', () => {
  const rows = [
    { id: 'r1', instruction: ASK, passage_text: PASSAGE, category: 'summarization' },
    { id: 'r2', instruction: 'Give the passage a title.', passage_text: 'Tides follow the moon.' },
    { id: 'r3', instruction: 'Name a river.', category: 'open_qa' },
    { id: 'r4', instruction: 42, passage_text: 'An invalid row: not counted.' },
  ];

  test('JSONL: each unused field with the rows that had text in it, in the order first seen', async () => {
    const report = await readSeedFile(scratchFile('unused.jsonl', jsonl(rows)));
    expect(report.seeds.map((seed) => seed.text)).toEqual([ASK, 'Give the passage a title.', 'Name a river.']);
    expect(report.unusedFields).toEqual([
      { field: 'passage_text', rows: 2 },
      { field: 'category', rows: 2 },
    ]);
    expect(unusedFieldsNotice(report)).toBe(
      'Not used: text in fields "passage_text" (2 of 4 rows), "category" (2 of 4 rows). ' +
        'If the instructions refer to one of them, --input-field NAME appends it to each instruction as its input.',
    );
  });

  test('JSONL with --input-field: the field is taken in where a row has it', async () => {
    const report = await readSeedFile(scratchFile('named.jsonl', jsonl(rows)), { fields: { input: 'passage_text' } });
    expect(report.seeds.map((seed) => seed.text)).toEqual([
      `${ASK}\n\n${PASSAGE}`,
      'Give the passage a title.\n\nTides follow the moon.',
      'Name a river.',
    ]);
    expect(report.unusedFields).toEqual([{ field: 'category', rows: 2 }]);
  });

  test('CSV: a column named with --input-field is taken in; without it, the column is reported', async () => {
    const csv = scratchFile('seeds.csv', `instruction,passage_text\n"${ASK}","${PASSAGE}"\nName a river.,\n`);
    const plain = await readSeedFile(csv);
    expect(plain.seeds.map((seed) => seed.text)).toEqual([ASK, 'Name a river.']);
    expect(plain.unusedFields).toEqual([{ field: 'passage_text', rows: 1 }]);
    const named = await readSeedFile(csv, { fields: { input: 'passage_text' } });
    expect(named.seeds.map((seed) => seed.text)).toEqual([`${ASK}\n\n${PASSAGE}`, 'Name a river.']);
    expect(named.unusedFields).toEqual([]);
  });

  test('a notice names at most 8 fields, and says how many more; for one field, it gives the flag whole', () => {
    const report = (fields: string[]) => ({
      ...{ seeds: [], invalid: [], duplicates: [], totalRows: 1, format: 'jsonl' as const },
      unusedFields: fields.map((field) => ({ field, rows: 1 })),
    });
    const many = unusedFieldsNotice(report(Array.from({ length: 10 }, (_, i) => `f${i}`)));
    expect(many).toMatch(/"f7" \(1 of 1 rows\) and 2 more\. /);
    expect(many).not.toContain('"f8"');
    expect(unusedFieldsNotice(report(["the passage's text"]))).toBe(
      `Not used: text in field "the passage's text" (1 of 1 rows). ` +
        `If the instructions refer to it, --input-field 'the passage'\\''s text' appends it to each instruction as its input.`,
    );
  });

  test.each([
    ['JSONL', 'typo.jsonl', jsonl(rows)],
    ['CSV', 'typo.csv', `id,instruction,passage_text\nr1,"${ASK}","${PASSAGE}"\n`],
  ])(
    '%s: --input-field naming a field no row has is a clear error, naming the fields there are',
    async (_f, name, content) => {
      const file = scratchFile(name, content);
      const err = await userErrorOf(readSeedFile(file, { fields: { input: 'passage' } }));
      expect(err.message).toBe(
        `--input-field "passage": no row of ${file} has a value in that field (the rows' fields include "id", ` +
          `"instruction", "passage_text"${name.endsWith('.jsonl') ? ', "category"' : ''}). ` +
          'Name a field the rows have, or leave out --input-field.',
      );
    },
  );

  test('a name that differs only in case is suggested; --id-field is checked the same way', async () => {
    const file = scratchFile('case.jsonl', jsonl(rows));
    const input = await userErrorOf(readSeedFile(file, { fields: { input: 'Passage_Text' } }));
    expect(input.message).toContain('--input-field "Passage_Text": no row of');
    expect(input.message).toContain('did you mean "passage_text"? Names match exactly, case included');
    const id = await userErrorOf(readSeedFile(file, { fields: { id: 'idx' } }));
    expect(id.message).toMatch(/^--id-field "idx": no row of .* has a value in that field/);
  });
});

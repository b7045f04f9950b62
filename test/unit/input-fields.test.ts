/**
 * The text an instruction refers to, in a field of its own beside it: taken in when the field's name is one we
 * recognise (or the user names it), and reported, once per file, when it is not.
 */
import { INPUT_FIELDS, normalizeRow } from '../../core/input-shapes';

const PASSAGE = 'Honey bees make honey from nectar, and store it in wax combs.';
const ASK = 'Summarize the passage.';

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

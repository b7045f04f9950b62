import { plural } from '../../core/plural';
import { printInputReport } from '../../client/format';
import type { InputReport } from '../../client/input-file';

/** What `fn` writes to stderr, line by line. */
function stderrOf(fn: () => void): string[] {
  const lines: string[] = [];
  const write = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    lines.push(...String(chunk).trimEnd().split('\n'));
    return true;
  });
  try {
    fn();
  } finally {
    write.mockRestore();
  }
  return lines;
}

describe('counts printed to people', () => {
  test('one of a thing is singular, every other count (0 included) plural', () => {
    expect(plural(1, 'seed')).toBe('1 seed');
    expect(plural(0, 'seed')).toBe('0 seeds');
    expect(plural(2, 'seed')).toBe('2 seeds');
    expect(plural(1, 'LLM call')).toBe('1 LLM call');
    expect(plural(20331, 'token')).toBe('20331 tokens');
  });

  test('a noun whose plural is not its singular and an s is named', () => {
    expect(plural(1, 'batch', 'batches')).toBe('1 batch');
    expect(plural(3, 'batch', 'batches')).toBe('3 batches');
  });

  test('reading a seed file of one row says "1 seed (1 row)", one duplicate "1 duplicate row"', () => {
    const seed = { id: 's1', text: 'Explain tides.', source: { file: 'one.jsonl', line: 1 } };
    const one: InputReport = {
      seeds: [seed],
      invalid: [],
      duplicates: [],
      totalRows: 1,
      format: 'jsonl',
      unusedFields: [],
    };
    expect(stderrOf(() => printInputReport('one.jsonl', one, 'seed'))).toEqual([
      '1 seed from one.jsonl (1 row, 0 invalid).',
    ]);
    const twice: InputReport = {
      ...one,
      duplicates: [{ file: 'one.jsonl', line: 2, duplicateOfLine: 1, id: 'line-2' }],
      totalRows: 2,
    };
    expect(stderrOf(() => printInputReport('one.jsonl', twice, 'instruction'))).toEqual([
      '1 duplicate row kept once (e.g. line 2 repeats line 1).',
      '1 instruction from one.jsonl (2 rows, 0 invalid).',
    ]);
  });
});

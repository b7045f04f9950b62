import { parseRewrite } from '../../core/rewrite';

describe('parsing the evolver rewrite survives the usual wrappers', () => {
  const task = 'Explain how tides work, citing the role of the Moon and the Sun in under 150 words.';

  test.each([
    ['a bare rewrite', task],
    ['a label', `Rewritten Prompt: ${task}`],
    ['a markdown hash label', `#Rewritten Prompt#:\n${task}`],
    ['a bold label', `**New Instruction:** ${task}`],
    ['double quotes', `"${task}"`],
    ['curly quotes', `\u201c${task}\u201d`],
    ['a code fence around everything', `\`\`\`\n${task}\n\`\`\``],
    ['a chatty preamble', `Sure! Here is the harder version:\n\n${task}`],
    ['a preamble, a label and quotes', `Certainly, here's the rewritten task:\nRewritten task: "${task}"`],
    ['our own tags', `<instruction>\n${task}\n</instruction>`],
    ['CRLF line endings', `Here is the new task:\r\n\r\n${task}\r\n`],
  ])('%s', (_name, completion) => {
    expect(parseRewrite(completion)).toEqual({ ok: true, text: task });
  });

  test('a code fence that belongs to the task is kept', () => {
    const withCode =
      'Find the bug in this function:\n```python\ndef add(a, b):\n    return a - b\n```\nExplain the fix.';
    expect(parseRewrite(withCode)).toEqual({ ok: true, text: withCode });
  });

  test('a fenced answer that contains a nested fence is not unwrapped', () => {
    const nested = '```\nUse this:\n```js\nx()\n```\n```';
    const parsed = parseRewrite(nested);
    expect(parsed.ok && parsed.text.includes('```js')).toBe(true);
  });

  test('quotes inside the task stay', () => {
    const quoted = 'Explain the phrase "carpe diem" and give two "modern" examples.';
    expect(parseRewrite(quoted)).toEqual({ ok: true, text: quoted });
  });

  test.each([
    ['empty', ''],
    ['whitespace', '  \n\t '],
    ['only a label', 'Rewritten Prompt:'],
    ['only quotes', '""'],
    ['punctuation', '... ---'],
  ])('%s is not a usable rewrite', (_name, completion) => {
    const parsed = parseRewrite(completion);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(/\w/);
  });
});

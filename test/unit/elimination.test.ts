import {
  checkDeterministicRules,
  checkPunctuationStopwords,
  checkSorryShort,
  checkTemplateWords,
  countWords,
  EQUALITY_VERDICT_SCHEMA,
  buildEqualityMessages,
  judgeVerdict,
  parseEqualityAnswer,
  parseJudgeAnswer,
  type JudgeAnswer,
} from '../../core/elimination';

const words = (n: number, first = 'Sorry') => [first, ...Array.from({ length: n - 1 }, (_, i) => `word${i}`)].join(' ');

describe('rule 2: a short response that says sorry', () => {
  test.each([
    ['79 words with "Sorry"', words(79), false],
    ['80 words with "Sorry"', words(80), true],
    ['81 words with "Sorry"', words(81), true],
    ['a short apology', "I'm sorry, but I can't help with that.", false],
    ['SORRY in capitals', 'SORRY, NO.', false],
    ['"sorry" inside a word of a short answer', 'The sorryest excuse is none.', false],
    ['a short answer without the word', 'Paris is the capital of France.', true],
    ['79 words without it', words(79, 'Indeed'), true],
  ])('%s', (_name, response, passes) => {
    expect(checkSorryShort(response).passed).toBe(passes);
  });

  test('the evidence gives the word count', () => {
    const verdict = checkSorryShort(words(79));
    expect(verdict).toEqual({ passed: false, rule: 'sorry-short', evidence: expect.stringContaining('79 words') });
  });

  test('punctuation does not count as words', () => {
    expect(countWords('Hello , world ! — ok')).toBe(3);
  });
});

describe('rule 3: a response of punctuation and stop words only', () => {
  test.each([
    ['punctuation only', '?!... ---', false],
    ['empty', '', false],
    ['whitespace', '   \n ', false],
    ['stop words only', 'It is what it is, and so on.', false],
    ['stop words in capitals', 'THE AND OF.', false],
    ['stop words with curly apostrophes', 'I\u2019m not.', false],
    ['a real word among stop words', 'It is photosynthesis.', true],
    ['a number', '42', true],
    ['a normal answer', 'Green tea should steep at about 80 degrees for two minutes.', true],
    ['non-Latin text', 'Зелёный чай заваривают при 80 градусах.', true],
  ])('%s', (_name, response, passes) => {
    expect(checkPunctuationStopwords(response).passed).toBe(passes);
  });
});

describe('rule 4: the evolved instruction copies template words', () => {
  test.each([
    ['the paper marker', 'Rewrite the #Rewritten Prompt# so it is harder.', false],
    ['lower case', 'in the given prompt, add a table', false],
    ['mixed case', 'Use the Created Prompt as a base', false],
    ['our own tags', '<instruction> Explain tides', false],
    ['our own wording', 'Here is the rewritten task: explain tides', false],
    ['a clean instruction', 'Explain tides, citing the Moon and the Sun.', true],
    ['a word that merely contains "prompt"', 'Give a prompt reply to the customer email.', true],
  ])('%s', (_name, instruction, passes) => {
    expect(checkTemplateWords(instruction).passed).toBe(passes);
  });
});

describe('the deterministic rules together', () => {
  test('template words are reported before a sorry', () => {
    expect(checkDeterministicRules('the given prompt asks', 'Sorry.')).toMatchObject({ rule: 'template-words' });
  });
  test('a good pair passes', () => {
    expect(checkDeterministicRules('Explain tides.', 'Tides come from the Moon pulling the oceans.')).toEqual({
      passed: true,
    });
  });
});

describe('the equality judge answer', () => {
  test.each([
    ['EQUAL', 'equal'],
    ['equal.', 'equal'],
    ['Equal', 'equal'],
    ['NOT EQUAL', 'not-equal'],
    ['Not equal', 'not-equal'],
    ['NOT_EQUAL', 'not-equal'],
    ['They are different.', 'not-equal'],
    ['The answer is: EQUAL', 'equal'],
    ['I cannot tell', null],
    ['', null],
    // What small real models answer instead of a bare verdict.
    ['not the same', 'not-equal'],
    ['They are not the same: the second adds a deadline.', 'not-equal'],
    ["The first task is indeed similar to the second, but it's not entirely equal.", 'not-equal'],
    ['The second task does not differ from the first.', 'equal'],
    ['**Verdict:** NOT EQUAL', 'not-equal'],
    ['The two tasks are equal.', 'equal'],
    ['The second task is more complex, so they are NOT EQUAL.', 'not-equal'],
    ['They are the same task.', 'equal'],
    ['NOT EQUAL because the second adds a constraint that the first has the same topic.', 'not-equal'],
    ['The first task is designed to be a complex one, and the second task requires', null],
    ['Answer: EQUAL or NOT EQUAL', null],
    ['Equal? No, they are different', null],
    // A structured answer, from a JSON-schema request or a model that chose JSON.
    ['{"verdict": "NOT EQUAL"}', 'not-equal'],
    ['{ "verdict" :"EQUAL"}', 'equal'],
    ['{"equal": false}', 'not-equal'],
  ])('%j reads as %s', (answer, expected) => {
    expect(parseEqualityAnswer(answer)).toBe(expected);
  });
});

describe("the judge's answer beside the verdict: is the rewrite still a task, and still its parent's", () => {
  test('the prompt asks for every field of the schema, by name', () => {
    const prompt = buildEqualityMessages('Explain tides.', 'Explain tides to a child.')[1].content;
    for (const field of Object.keys(EQUALITY_VERDICT_SCHEMA.schema.properties)) expect(prompt).toContain(`"${field}"`);
    expect(EQUALITY_VERDICT_SCHEMA.schema.required).toEqual(Object.keys(EQUALITY_VERDICT_SCHEMA.schema.properties));
  });

  test.each<[string, string, JudgeAnswer | null]>([
    [
      'every field in JSON',
      '{"second_is": "ANSWER", "keeps_task": "YES", "verdict": "NOT EQUAL"}',
      { equality: 'not-equal', kind: 'answer', keepsTask: true },
    ],
    [
      'JSON as a small model spaces it',
      '{ "second_is" : "STATEMENT", "keeps_task" : "NO", "verdict": "NOT EQUAL"}',
      { equality: 'not-equal', kind: 'statement', keepsTask: false },
    ],
    ['the verdict alone: the rest unknown', 'NOT EQUAL', { equality: 'not-equal' }],
    ['the verdict alone, in JSON', '{"verdict": "EQUAL"}', { equality: 'equal' }],
    [
      'labelled lines in prose',
      'NOT EQUAL\nsecond_is: TASK\nkeeps_task: no',
      { equality: 'not-equal', kind: 'task', keepsTask: false },
    ],
    [
      'labels in markdown, spaced',
      '**Verdict:** NOT EQUAL\n**Second is:** Answer.\n**Keeps task:** yes',
      { equality: 'not-equal', kind: 'answer', keepsTask: true },
    ],
    ['a boolean', '{"verdict": "NOT EQUAL", "keeps_task": false}', { equality: 'not-equal', keepsTask: false }],
    // Prose that only talks about answers and tasks, or echoes our description of the fields, says nothing of them.
    [
      'our description echoed',
      'NOT EQUAL\n- "second_is" is TASK when it still asks for something, ANSWER when it answers the first task',
      { equality: 'not-equal' },
    ],
    [
      'a field echoed with a condition after it',
      'NOT EQUAL. second_is: ANSWER if it answers the first task',
      { equality: 'not-equal' },
    ],
    ['prose about an answer', 'NOT EQUAL: the second task asks for an answer in French.', { equality: 'not-equal' }],
    ['two values for one field', 'NOT EQUAL\nsecond_is: TASK\nsecond_is: ANSWER', { equality: 'not-equal' }],
    // Without a verdict the answer is unusable, whatever else it says.
    ['the fields without a verdict', '{"second_is": "TASK", "keeps_task": "YES"}', null],
  ])('%s', (_name, answer, expected) => {
    expect(parseJudgeAnswer(answer)).toEqual(expected);
  });

  test.each<[string, JudgeAnswer, Parameters<typeof judgeVerdict>[1], string | undefined]>([
    ['not equal, a task, kept', { equality: 'not-equal', kind: 'task', keepsTask: true }, {}, undefined],
    ['not equal, the rest unknown', { equality: 'not-equal' }, {}, undefined],
    ['equal, whatever else', { equality: 'equal', kind: 'answer', keepsTask: false }, {}, 'no-information-gain'],
    ['an answer', { equality: 'not-equal', kind: 'answer' }, {}, 'judge-not-a-task'],
    ['a statement', { equality: 'not-equal', kind: 'statement', keepsTask: true }, {}, 'judge-not-a-task'],
    ['not its task', { equality: 'not-equal', kind: 'task', keepsTask: false }, {}, 'judge-lost-task'],
    [
      'an in-depth rewrite not of its task',
      { equality: 'not-equal', keepsTask: false },
      { operationKind: 'in-depth' },
      'judge-lost-task',
    ],
    [
      'a new task of in-breadth mutation',
      { equality: 'not-equal', keepsTask: false },
      { operationKind: 'in-breadth' },
      undefined,
    ],
    ['a new, easier problem', { equality: 'not-equal', keepsTask: false }, { operationKind: 'downward' }, undefined],
    [
      'an in-breadth answer',
      { equality: 'not-equal', kind: 'answer' },
      { operationKind: 'in-breadth' },
      'judge-not-a-task',
    ],
    [
      'an answer, its rule off',
      { equality: 'not-equal', kind: 'answer' },
      { switches: { 'judge-not-a-task': false } },
      undefined,
    ],
    [
      'not its task, its rule off',
      { equality: 'not-equal', keepsTask: false },
      { switches: { 'judge-lost-task': false } },
      undefined,
    ],
  ])('%s: %s', (_name, answer, options, rule) => {
    const verdict = judgeVerdict(answer, options);
    expect(verdict).toEqual(
      rule ? { passed: false, rule, evidence: expect.stringContaining('the judge found') } : { passed: true },
    );
  });

  test('the evidence says which: an answer or a statement', () => {
    const answer = judgeVerdict({ equality: 'not-equal', kind: 'answer' });
    const statement = judgeVerdict({ equality: 'not-equal', kind: 'statement' });
    expect(answer.passed === false && answer.evidence).toContain('an answer to its parent');
    expect(statement.passed === false && statement.evidence).toContain('asks for nothing');
  });
});

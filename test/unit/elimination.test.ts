import {
  checkDeterministicRules,
  checkPunctuationStopwords,
  checkSorryShort,
  checkTemplateWords,
  countWords,
  parseEqualityAnswer,
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

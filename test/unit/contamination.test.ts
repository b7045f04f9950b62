import { BenchmarkIndex } from '../../core/contamination';

const BENCHMARK = [
  {
    source: 'gsm8k.jsonl:1',
    text: 'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?',
  },
  {
    source: 'gsm8k.jsonl:2',
    text: 'Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting.',
  },
];

describe('contamination: a shared run of 13 words with a benchmark prompt', () => {
  const index = new BenchmarkIndex(BENCHMARK);

  test.each([
    [
      'a copy inside a longer task',
      'Solve this: Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. Show your work.',
      'gsm8k.jsonl:1',
    ],
    [
      'a copy with other case and punctuation',
      'NATALIA SOLD CLIPS TO 48 OF HER FRIENDS IN APRIL -- AND THEN SHE SOLD HALF AS MANY',
      'gsm8k.jsonl:1',
    ],
  ])('%s is flagged', (_name, text, source) => {
    expect(index.hit(text)).toMatchObject({ source });
  });

  test.each([
    ['12 words in a row only', 'Natalia sold clips to 48 of her friends in April, and then'],
    ['the same numbers in another story', 'Maria sold 48 pens in April and half as many in May; how many in all?'],
    ['an unrelated task', 'Explain how tides work.'],
  ])('%s is not', (_name, text) => {
    expect(index.hit(text)).toBeUndefined();
  });

  test('the n-gram length is a setting', () => {
    const loose = new BenchmarkIndex(BENCHMARK, 5);
    expect(loose.hit('Yesterday, she just did 50 minutes of work.')).toMatchObject({ source: 'gsm8k.jsonl:2' });
  });
});

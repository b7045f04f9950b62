import { clipAnswer, REASK_ANSWER_CHARS, reaskMessages } from '../../core/reask';

const first = [
  { role: 'system' as const, content: 'You judge.' },
  { role: 'user' as const, content: 'Compare A and B. Answer with EQUAL or NOT EQUAL.' },
];

describe('asking again after an unusable answer', () => {
  test('the model sees its own answer, what was wrong with it and what to send instead', () => {
    const messages = reaskMessages(first, 'judge', { reason: 'it gives neither EQUAL nor NOT EQUAL', answer: 'Hmm.' });
    expect(messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(messages[2].content).toBe('Hmm.');
    expect(messages[3].content).toContain('it gives neither EQUAL nor NOT EQUAL');
    expect(messages[3].content).toContain('EQUAL or NOT EQUAL');
  });

  test('an empty answer gives nothing to correct: the same question is asked again', () => {
    expect(reaskMessages(first, 'evolver', { reason: 'the answer was empty', answer: '' })).toEqual(first);
  });

  test('the first ask is the request as it is', () => {
    expect(reaskMessages(first, 'evolver')).toEqual(first);
  });

  test('a long bad answer is clipped before it is shown again or kept as evidence', () => {
    const clipped = clipAnswer('x'.repeat(REASK_ANSWER_CHARS * 2));
    expect(clipped.length).toBe(REASK_ANSWER_CHARS);
    expect(clipped.endsWith('…')).toBe(true);
  });
});

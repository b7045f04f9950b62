/**
 * Simulated judge: elimination rule 1, and what the rewrite is beside it. It recognises two failed rewrites, so that
 * tests can script them: the simulated responder's answer to the first task given as the rewrite (an answer, not a
 * task), and a rewrite that shares none of the first task's topic words (no longer its task).
 */
import { TASK_FIELDS } from '../core/elimination';
import { hash32 } from '../core/prng';
import { answerRequest } from './respond';
import { between, normaliseForComparison, salientWords } from './text';

/** Share of differing pairs the judge still calls equal, so elimination by rule 1 shows up in demos. */
const FALSE_EQUAL_PER_MILLE = 80;

/** The verdict on its own line, then one labelled line per further field (turned into JSON when one is asked for). */
export function answerEquality(userContent: string): string {
  const first = between(userContent, '<first>', '</first>');
  const second = between(userContent, '<second>', '</second>');
  if (first === null || second === null) return 'NOT EQUAL';
  const a = normaliseForComparison(first);
  const b = normaliseForComparison(second);
  const verdict = a === b ? 'EQUAL' : hash32(`${a}\u0000${b}`) % 1000 < FALSE_EQUAL_PER_MILLE ? 'EQUAL' : 'NOT EQUAL';
  const answered = b === normaliseForComparison(answerRequest(first));
  const topic = new Set(salientWords(first, 100).map((w) => w.toLowerCase()));
  const keeps = topic.size === 0 || salientWords(second, 100).some((w) => topic.has(w.toLowerCase()));
  return [
    verdict,
    `${TASK_FIELDS.kind}: ${answered ? 'ANSWER' : 'TASK'}`,
    `${TASK_FIELDS.keeps}: ${keeps ? 'YES' : 'NO'}`,
  ].join('\n');
}

/** Simulated equality judge (elimination rule 1). */
import { hash32 } from '../core/prng';
import { between, normaliseForComparison } from './text';

/** Share of differing pairs the judge still calls equal, so elimination by rule 1 shows up in demos. */
const FALSE_EQUAL_PER_MILLE = 80;

export function answerEquality(userContent: string): string {
  const first = between(userContent, '<first>', '</first>');
  const second = between(userContent, '<second>', '</second>');
  if (first === null || second === null) return 'NOT EQUAL';
  const a = normaliseForComparison(first);
  const b = normaliseForComparison(second);
  if (a === b) return 'EQUAL';
  return hash32(`${a}\u0000${b}`) % 1000 < FALSE_EQUAL_PER_MILLE ? 'EQUAL' : 'NOT EQUAL';
}

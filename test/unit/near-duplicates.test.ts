import { bandsFor, estimatedSimilarity, nearDuplicateClusters, signature } from '../../core/near-duplicates';

/** Known near-duplicates, each with texts that are not: the clusters must be exactly these. */
const TEXTS = [
  'Explain how photosynthesis works in green plants during the day, step by step.',
  'Explain how photosynthesis works in green plants during the day, step by step, for a child.',
  'Write a short poem about the sea at night under a full moon.',
  'Write a short poem about the sea at night under a full moon and a starry sky.',
  'Describe the main causes of the French Revolution and its effect on Europe.',
  'List three prime numbers greater than one hundred.',
  'Explain how photosynthesis works in green plants during the day, step by step.',
  'Summarise the plot of Hamlet in five sentences.',
];

describe('near-duplicates by MinHash and LSH', () => {
  test('the known near-duplicates cluster, the rest stay apart', () => {
    const clusters = nearDuplicateClusters(TEXTS, (t) => t, 0.7);
    expect(clusters.map((c) => c.members.map((t) => TEXTS.indexOf(t)))).toEqual([
      [0, 1, 0],
      [2, 3],
    ]);
  });

  test('identical texts have identical signatures; unrelated ones share almost nothing', () => {
    expect(estimatedSimilarity(signature(TEXTS[0]), signature(TEXTS[6]))).toBe(1);
    expect(estimatedSimilarity(signature(TEXTS[4]), signature(TEXTS[7]))).toBeLessThan(0.1);
  });

  test('a higher threshold splits what a lower one joins', () => {
    const loose = nearDuplicateClusters(TEXTS, (t) => t, 0.6);
    const strict = nearDuplicateClusters(TEXTS, (t) => t, 0.95);
    expect(loose.length).toBeGreaterThanOrEqual(2);
    // Only the exact copy is left at 0.95.
    expect(strict.map((c) => c.members)).toEqual([[TEXTS[0], TEXTS[6]]]);
  });

  test('the estimate follows the true Jaccard similarity of word 3-grams', () => {
    // 20 distinct words; the second text shares its first 15: 13 of the 18 + 18 - 13 = 23 3-grams in common.
    const words = Array.from({ length: 20 }, (_, i) => `w${i}`);
    const a = words.join(' ');
    const b = [...words.slice(0, 15), 'x1', 'x2', 'x3', 'x4', 'x5'].join(' ');
    const estimate = estimatedSimilarity(signature(a), signature(b));
    expect(estimate).toBeGreaterThan(13 / 23 - 0.2);
    expect(estimate).toBeLessThan(13 / 23 + 0.2);
  });

  test('bands are chosen so that pairs at the threshold become candidates', () => {
    for (const threshold of [0.5, 0.7, 0.8, 0.9]) {
      const { bands, rows } = bandsFor(threshold);
      expect(bands * rows).toBe(64);
      expect((1 / bands) ** (1 / rows)).toBeLessThanOrEqual(threshold);
    }
  });

  test('ten thousand distinct texts give no cluster', () => {
    const texts = Array.from(
      { length: 10_000 },
      (_, i) => `task ${i} ${(i * 7919) % 10007} about ${(i * 104729) % 9973} things`,
    );
    expect(nearDuplicateClusters(texts, (t) => t, 0.9)).toEqual([]);
  });
});

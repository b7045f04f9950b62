/** Counts in text for people: "1 seed", "2 seeds". Free of dependencies so workflow code can use it too. */

/**
 * The count and its noun, singular for exactly 1: `plural(1, 'seed')` is "1 seed", `plural(3, 'seed')` "3 seeds".
 * Nouns whose plural is not the singular and an `s` name it: `plural(n, 'entry', 'entries')`.
 */
export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}

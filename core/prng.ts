/**
 * Deterministic hashing and pseudo-random numbers. Pure functions: safe inside workflow code,
 * where every choice must be reproducible from the run's seed.
 */

/** 32-bit FNV-1a hash of a string. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A small, fast generator (mulberry32) returning floats in [0, 1). */
export function createPrng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A generator seeded from several parts (the run seed and an instruction id, say). */
export function prngFor(...parts: Array<string | number>): () => number {
  return createPrng(hash32(parts.map(String).join('\u0000')));
}

/** Picks an index with probability proportional to its weight. */
export function pickWeighted(weights: readonly number[], random: () => number): number {
  const total = weights.reduce((sum, w) => sum + w, 0);
  if (!(total > 0)) throw new Error('pickWeighted needs at least one positive weight');
  let point = random() * total;
  for (let i = 0; i < weights.length; i++) {
    point -= weights[i];
    if (point < 0) return i;
  }
  return weights.length - 1;
}

/** Fisher-Yates, drawing from the project's seeded generator so a seed always gives the same order. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const result = [...items];
  const random = createPrng(seed);
  for (let i = result.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [result[i], result[j]] = [result[j], result[i]];
  }
  return result;
}

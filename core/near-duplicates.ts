/**
 * Near-duplicate instructions by MinHash with locality-sensitive hashing (Broder 1997; Leskovec et al., Mining of
 * Massive Datasets ch. 3): each text's set of word 3-grams is summarized by 64 minimum hashes; texts that agree in
 * every position of one band of the signature become candidates, and a candidate pair is a duplicate when its
 * signatures agree in at least `threshold` of their positions (an estimate of their Jaccard similarity).
 * Duplicates are joined into clusters. Pure: no I/O.
 */
import { hash32 } from './prng';

/** Signature length; 64 keeps a 250,000-row run's signatures to 64 MB. */
export const MINHASH_PERMUTATIONS = 64;
/** Estimated Jaccard similarity of word 3-grams above which two texts count as near-duplicates. */
export const DEFAULT_DUPLICATE_THRESHOLD = 0.7;
const SHINGLE = 3;

/** Lower-case runs of letters and digits: the words that near-duplicates and contamination compare. */
export function plainWords(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** Word 3-grams (the words themselves for texts shorter than that), hashed. */
export function shingles(text: string): Set<number> {
  const w = plainWords(text);
  const out = new Set<number>();
  if (w.length < SHINGLE) w.forEach((word) => out.add(hash32(word)));
  for (let i = 0; i + SHINGLE <= w.length; i++) out.add(hash32(w.slice(i, i + SHINGLE).join(' ')));
  return out;
}

/** A 32-bit mix (murmur3's finalizer) of x under seed i: one of the permutations. */
function permute(x: number, seed: number): number {
  let h = (x ^ Math.imul(seed + 1, 0x9e3779b9)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function signature(text: string): Uint32Array {
  const sig = new Uint32Array(MINHASH_PERMUTATIONS).fill(0xffffffff);
  for (const s of shingles(text)) {
    for (let i = 0; i < MINHASH_PERMUTATIONS; i++) {
      const h = permute(s, i);
      if (h < sig[i]) sig[i] = h;
    }
  }
  return sig;
}

/** The share of positions where two signatures agree: an estimate of the Jaccard similarity of their texts. */
export function estimatedSimilarity(a: Uint32Array, b: Uint32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

/**
 * Bands and rows per band whose candidate threshold, (1/bands)^(1/rows), is the highest at or below `threshold`:
 * pairs above it become candidates with high probability, and every candidate is checked on the whole signature.
 */
export function bandsFor(threshold: number): { bands: number; rows: number } {
  let best = { bands: MINHASH_PERMUTATIONS, rows: 1 };
  for (let rows = 1; rows <= MINHASH_PERMUTATIONS; rows++) {
    if (MINHASH_PERMUTATIONS % rows !== 0) continue;
    const bands = MINHASH_PERMUTATIONS / rows;
    const at = (1 / bands) ** (1 / rows);
    if (at <= threshold) best = { bands, rows };
  }
  return best;
}

export interface DuplicateCluster<T> {
  /** The members, in the order they were given; the first is the one to keep. */
  members: T[];
  /** The lowest estimated similarity of a member to the one it was joined by. */
  similarity: number;
}

/**
 * Clusters of near-duplicate items (two or more members each), in the order of their first member. Items of the
 * same `groupOf` (a seed and its own evolved rounds, which keep most of their parent's words by design) are never
 * paired with each other.
 */
export function nearDuplicateClusters<T>(
  items: readonly T[],
  textOf: (item: T) => string,
  threshold = DEFAULT_DUPLICATE_THRESHOLD,
  groupOf?: (item: T) => string,
): Array<DuplicateCluster<T>> {
  const sigs = items.map((item) => signature(textOf(item)));
  const { bands, rows } = bandsFor(threshold);
  const parent = items.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const weakest = new Map<number, number>();
  const checked = new Set<number>();
  for (let band = 0; band < bands; band++) {
    const buckets = new Map<string, number[]>();
    sigs.forEach((sig, i) => {
      const key = Array.from(sig.subarray(band * rows, (band + 1) * rows)).join(',');
      const bucket = buckets.get(key);
      if (bucket) bucket.push(i);
      else buckets.set(key, [i]);
    });
    for (const bucket of buckets.values()) {
      for (let a = 0; a < bucket.length; a++) {
        for (let b = a + 1; b < bucket.length; b++) {
          const [i, j] = [bucket[a], bucket[b]];
          if (groupOf && groupOf(items[i]) === groupOf(items[j])) continue;
          const pair = i * items.length + j;
          if (checked.has(pair)) continue;
          checked.add(pair);
          const similarity = estimatedSimilarity(sigs[i], sigs[j]);
          if (similarity < threshold) continue;
          const [ri, rj] = [find(i), find(j)];
          const root = Math.min(ri, rj);
          const lowest = Math.min(weakest.get(ri) ?? 1, weakest.get(rj) ?? 1, similarity);
          parent[ri] = parent[rj] = root;
          weakest.set(root, lowest);
        }
      }
    }
  }
  const clusters = new Map<number, number[]>();
  items.forEach((_, i) => {
    const root = find(i);
    clusters.set(root, [...(clusters.get(root) ?? []), i]);
  });
  return [...clusters.entries()]
    .filter(([, members]) => members.length > 1)
    .sort(([a], [b]) => a - b)
    .map(([root, members]) => ({ members: members.map((i) => items[i]), similarity: weakest.get(root) ?? 1 }));
}

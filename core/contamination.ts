/**
 * Benchmark contamination: a row that shares a long run of words (13 by default, as is usual since GPT-3's
 * decontamination) with any prompt of a benchmark one will evaluate on. Pure: no I/O.
 */

import { plainWords } from './near-duplicates';

export const DEFAULT_CONTAMINATION_NGRAM = 13;

function ngramsOf(text: string, n: number): string[] {
  const w = plainWords(text);
  const out: string[] = [];
  for (let i = 0; i + n <= w.length; i++) out.push(w.slice(i, i + n).join(' '));
  return out;
}

export interface BenchmarkPrompt {
  /** Where it came from, for the report: `file:line`. */
  source: string;
  text: string;
}

export interface ContaminationHit {
  /** The benchmark prompt it overlaps. */
  source: string;
  /** The shared run of words. */
  ngram: string;
}

/** The n-grams of every benchmark prompt, each with the first prompt it came from. */
export class BenchmarkIndex {
  private readonly index = new Map<string, string>();

  constructor(
    prompts: Iterable<BenchmarkPrompt>,
    readonly n = DEFAULT_CONTAMINATION_NGRAM,
  ) {
    for (const prompt of prompts) {
      for (const gram of ngramsOf(prompt.text, n)) if (!this.index.has(gram)) this.index.set(gram, prompt.source);
    }
  }

  get size(): number {
    return this.index.size;
  }

  /** The first long run of words the text shares with a benchmark prompt, if any. */
  hit(text: string): ContaminationHit | undefined {
    for (const gram of ngramsOf(text, this.n)) {
      const source = this.index.get(gram);
      if (source !== undefined) return { source, ngram: gram };
    }
    return undefined;
  }
}

/** Small text helpers the simulated answers are built from. */
import { STOP_WORDS } from '../core/elimination';

/** Words that say what to do rather than what about, plus words of our own templates. */
const NON_TOPIC_WORDS: ReadonlySet<string> = new Set(
  (
    'explain describe write list give provide tell make create discuss summarize summarise please compare using use ' +
    'following answer question questions show find help need want like could would also include including based ' +
    'example examples think know best good thing things something someone way ways much many well really need ' +
    'prompt prompts instruction instructions task tasks given rewritten rewrite created original version harder ' +
    'short brief detailed simple words word sentence sentences paragraph paragraphs main causes cause effects works ' +
    'work working tips steps step important different various common general specific certain several kind kinds ' +
    'type types place reasons reason benefits advantages disadvantages difference differences three four five seven ' +
    'eight nine first second third staying keeping getting making doing being having taking essay essays story ' +
    'poem report article letter summary overview introduction role'
  ).split(' '),
);

/**
 * The instruction's content words in order of first appearance, without duplicates. The first
 * word of the text is lower-cased (it is capitalised only because it starts a sentence).
 */
export function salientWords(text: string, limit = 6): string[] {
  const seen = new Set<string>();
  const words: string[] = [];
  const tokens = text.match(/\p{L}[\p{L}\p{N}'-]*/gu) ?? [];
  tokens.forEach((token, index) => {
    const lower = token.toLowerCase().replace(/['-]+$/, '');
    if (lower.length < 4 || STOP_WORDS.has(lower) || NON_TOPIC_WORDS.has(lower) || seen.has(lower)) return;
    seen.add(lower);
    words.push(index === 0 ? lower : token.replace(/['-]+$/, ''));
  });
  return words.slice(0, limit);
}

/** A short noun phrase naming what the text is about, e.g. "photosynthesis and plants". */
export function topicPhrase(words: readonly string[], fallback = 'this subject'): string {
  if (words.length === 0) return fallback;
  if (words.length === 1) return words[0];
  return `${words[0]} and ${words[1]}`;
}

export function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)];
}

/** `count` distinct items in random order (Fisher-Yates on a copy). */
export function pickDistinct<T>(items: readonly T[], count: number, random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, count);
}

/** Lower case and single spaces, so wording that differs only in layout compares equal. */
export function normaliseForComparison(text: string): string {
  return text.toLowerCase().replace(/\s+/g, ' ').trim();
}

/** The text between the first `open` and the last `close` after it, or null. */
export function between(text: string, open: string, close: string): string | null {
  const start = text.indexOf(open);
  if (start < 0) return null;
  const end = text.lastIndexOf(close);
  if (end < start + open.length) return null;
  return text.slice(start + open.length, end).trim();
}

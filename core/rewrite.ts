/**
 * Extracts the rewritten instruction from an evolver's completion. Models wrap it in labels,
 * quotes, code fences and chatty preambles; a fence or a table that belongs to the task is kept.
 */

export type RewriteParse = { ok: true; text: string } | { ok: false; reason: string };

/** Labels models put before the rewrite ("Rewritten Prompt:", "#New Instruction#:", "**Rewrite:**"). */
const LABEL =
  /^\s*(?:[#*_>\s]*)(?:(?:the\s+)?(?:final\s+|new\s+|evolved\s+|improved\s+|harder\s+|more\s+complex\s+|created\s+|rewritten\s+)+(?:prompt|instruction|task|version|question)|rewrite|rewritten|answer|output)\s*(?:[#*_]*)\s*[:：]\s*(?:[#*_]*)\s*/i;

/** A first line that only announces what follows ("Sure! Here is the rewritten task:"). */
const PREAMBLE = /^\s*(?:sure|certainly|of course|okay|ok|absolutely|here(?:'s| is| are)|below is)\b[^\n]*[:.!]\s*$/i;

const QUOTE_PAIRS: Array<[string, string]> = [
  ['"', '"'],
  ["'", "'"],
  ['\u201c', '\u201d'],
  ['\u2018', '\u2019'],
  ['`', '`'],
];

function stripWholeFence(text: string): string {
  const fence = /^```[\w-]*[ \t]*\n([\s\S]*?)\n```$/.exec(text);
  // Only a fence around the whole answer is a wrapper; an inner one belongs to the task.
  if (fence && !fence[1].includes('```')) return fence[1].trim();
  return text;
}

function stripQuotes(text: string): string {
  for (const [open, close] of QUOTE_PAIRS) {
    if (text.length >= 2 && text.startsWith(open) && text.endsWith(close)) {
      const inner = text.slice(open.length, text.length - close.length);
      if (!inner.includes(open) || open !== close) return inner.trim();
    }
  }
  return text;
}

function stripTags(text: string): string {
  const tagged = /^<(instruction|task|prompt|rewrite)>\s*([\s\S]*?)\s*<\/\1>$/i.exec(text);
  return tagged ? tagged[2] : text;
}

export function parseRewrite(completion: string): RewriteParse {
  let text = completion.replace(/\r\n/g, '\n').trim();
  if (!text) return { ok: false, reason: 'the completion is empty' };

  for (let pass = 0; pass < 4; pass++) {
    const before = text;
    const lines = text.split('\n');
    if (lines.length > 1 && PREAMBLE.test(lines[0])) text = lines.slice(1).join('\n').trim();
    text = text.replace(LABEL, '').trim();
    text = stripWholeFence(text);
    text = stripTags(text);
    text = stripQuotes(text);
    if (text === before) break;
  }

  if (!text) return { ok: false, reason: 'nothing is left after removing labels, quotes and fences' };
  if (!/[\p{L}\p{N}]/u.test(text)) return { ok: false, reason: 'the rewrite has no letters or digits' };
  return { ok: true, text };
}

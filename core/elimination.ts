/**
 * Elimination of failed evolutions (WizardLM §3.3). Rule 1 needs an LLM judge: its prompt and
 * the parsing of its answer live here; rules 2-4 are deterministic and pure.
 */
import { ChatMessage } from './chat';
import { INSTRUCTION_CLOSE, INSTRUCTION_OPEN, type OperationKind } from './operations';

export type EliminationRule = 'no-information-gain' | 'sorry-short' | 'punctuation-stopwords' | 'template-words';

export type Verdict = { passed: true } | { passed: false; rule: EliminationRule; evidence: string };

/** Rule 2 applies below this many words. */
export const SORRY_WORD_LIMIT = 80;

export function countWords(text: string): number {
  return text.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;
}

/** Rule 2: the response says "sorry" and is short, so the model could not answer. */
export function checkSorryShort(response: string): Verdict {
  const words = countWords(response);
  if (/sorry/i.test(response) && words < SORRY_WORD_LIMIT) {
    return {
      passed: false,
      rule: 'sorry-short',
      evidence: `the response says "sorry" and has ${words} words (< ${SORRY_WORD_LIMIT})`,
    };
  }
  return { passed: true };
}

/** English stop words: rule 3 fails a response made of these and punctuation only. */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    "a about above after again against all am an and any are aren't as at be because been before being below between both but by " +
    "can can't cannot could couldn't did didn't do does doesn't doing don't down during each few for from further had hadn't has " +
    "hasn't have haven't having he he'd he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in " +
    "into is isn't it it's its itself let's me more most mustn't my myself no nor not of off on once only or other ought our ours " +
    "ourselves out over own same shan't she she'd she'll she's should shouldn't so some such than that that's the their theirs them " +
    "themselves then there there's these they they'd they'll they're they've this those through to too under until up very was " +
    "wasn't we we'd we'll we're we've were weren't what what's when when's where where's which while who who's whom why why's with " +
    "won't would wouldn't you you'd you'll you're you've your yours yourself yourselves yes ok okay just also"
  ).split(' '),
);

/** Rule 3: the response holds nothing but punctuation and stop words (or nothing at all). */
export function checkPunctuationStopwords(response: string): Verdict {
  const tokens = response
    .toLowerCase()
    .replace(/[\u2018\u2019]/g, "'")
    .split(/[^\p{L}\p{N}']+/u)
    .map((t) => t.replace(/^'+|'+$/g, ''))
    .filter((t) => t.length > 0);
  const content = tokens.filter((t) => !STOP_WORDS.has(t));
  if (content.length === 0) {
    const shown = response.trim().slice(0, 60);
    return {
      passed: false,
      rule: 'punctuation-stopwords',
      evidence: shown ? `the response "${shown}" has only punctuation and stop words` : 'the response is empty',
    };
  }
  return { passed: true };
}

/** Words of evolving templates (the paper's and ours) that must not leak into an evolved instruction. */
export const TEMPLATE_MARKERS: readonly string[] = [
  'given prompt',
  'rewritten prompt',
  'created prompt',
  '#given prompt#',
  '#rewritten prompt#',
  '#created prompt#',
  'given instruction',
  'rewritten instruction',
  'rewritten task',
  'original task',
  INSTRUCTION_OPEN,
  INSTRUCTION_CLOSE,
];

/** Rule 4: the evolved instruction copies words of the evolving template. */
export function checkTemplateWords(instruction: string, markers: readonly string[] = TEMPLATE_MARKERS): Verdict {
  const lower = instruction.toLowerCase();
  const found = markers.find((m) => lower.includes(m.toLowerCase()));
  if (found)
    return {
      passed: false,
      rule: 'template-words',
      evidence: `the instruction contains the template words "${found}"`,
    };
  return { passed: true };
}

/** Rules 2-4 in order; the first that fails gives the verdict. */
export function checkDeterministicRules(instruction: string, response: string): Verdict {
  for (const verdict of [
    checkTemplateWords(instruction),
    checkSorryShort(response),
    checkPunctuationStopwords(response),
  ]) {
    if (!verdict.passed) return verdict;
  }
  return { passed: true };
}

export const JUDGE_SYSTEM = 'You check a rewritten task against the task it was rewritten from.';

/** Opens the equality prompt; the simulated LLM finds the judge's requests by it. */
export const EQUALITY_LEAD = 'Compare the two tasks below.';

/** The labels of the judge's two answers beside the verdict: the JSON fields, and the lines of a prose answer. */
export const TASK_FIELDS = { kind: 'second_is', keeps: 'keeps_task' } as const;

/**
 * The messages of the judge's one call: rule 1 (whether the two instructions are equal) and, in the same answer, what
 * the rewrite is (still a task, or an answer, or a statement) and whether it still asks for its parent's task. What
 * the second text is comes first: the verdict is given once the judge has looked at it.
 */
export function buildEqualityMessages(parent: string, evolved: string): ChatMessage[] {
  return [
    { role: 'system', content: JUDGE_SYSTEM },
    {
      role: 'user',
      content: [
        EQUALITY_LEAD,
        '',
        '<first>',
        parent,
        '</first>',
        '',
        '<second>',
        evolved,
        '</second>',
        '',
        'Say three things about the second text, in this order.',
        `- "${TASK_FIELDS.kind}" is TASK when it still asks for something a person could answer or do, ANSWER when it answers the first task, solves it or explains how to solve it instead of asking, and STATEMENT when it only tells or describes something and asks for nothing.`,
        `- "${TASK_FIELDS.keeps}" is YES when it still asks for what the first task asks for (the same subject and the same goal, perhaps harder, narrower or broader), and NO when it asks for something else or no longer asks for it.`,
        '- "verdict" is EQUAL when the two tasks set the same constraints and requirements and ask for the same depth and breadth of inquiry, however differently they are worded, and NOT EQUAL otherwise.',
        '',
        'Reply with one JSON object holding these three fields, and nothing else.',
      ].join('\n'),
    },
  ];
}

export type EqualityAnswer = 'equal' | 'not-equal';

/**
 * The structured answer asked of the judge where the endpoint accepts a JSON schema (OpenAI, vLLM, llama.cpp,
 * Ollama, LM Studio): what the rewrite is, whether it keeps its parent's task, then the verdict, in the prompt's order.
 */
export const EQUALITY_VERDICT_SCHEMA = {
  name: 'equality_verdict',
  strict: true,
  schema: {
    type: 'object',
    properties: {
      [TASK_FIELDS.kind]: { type: 'string', enum: ['TASK', 'ANSWER', 'STATEMENT'] },
      [TASK_FIELDS.keeps]: { type: 'string', enum: ['YES', 'NO'] },
      verdict: { type: 'string', enum: ['EQUAL', 'NOT EQUAL'] },
    },
    required: [TASK_FIELDS.kind, TASK_FIELDS.keeps, 'verdict'],
    additionalProperties: false,
  },
} as const;

/** Verdict phrases, the negated ones before the words they contain ("NOT EQUAL" before "EQUAL"). */
const VERDICT_PHRASES: ReadonlyArray<[RegExp, EqualityAnswer]> = [
  [
    /^NOT[\s_-]+(?:(?:ENTIRELY|EXACTLY|QUITE|REALLY|COMPLETELY|FULLY|STRICTLY|TRULY)[\s_-]+)?(?:THE[\s_-]+)?(?:EQUAL|SAME|IDENTICAL|EQUIVALENT)\b|^NOT_?EQUAL\b/,
    'not-equal',
  ],
  [/^(?:NOT|NO)[\s_-]+DIFFERENT\b|^NO[\s_-]+DIFFERENCE\b|^DO(?:ES)?[\s_-]*(?:NOT|N'T)[\s_-]+DIFFER\b/, 'equal'],
  [/^NOTEQUAL\b|^UNEQUAL\b|^DIFFERENT\b|^DIFFER(?:S)?\b|^DISTINCT\b/, 'not-equal'],
  [/^MORE[\s_-]+(?:COMPLEX|DEMANDING|DIFFICULT|CHALLENGING|SPECIFIC|DETAILED|CONSTRAINED)\b|^HARDER\b/, 'not-equal'],
  [/^EQUAL\b|^IDENTICAL\b|^EQUIVALENT\b|^(?:ARE|IS)[\s_-]+(?:THE[\s_-]+)?SAME\b/, 'equal'],
];

/** What may stand before a verdict given first: markup, quotes and a label such as "Answer:" or "Verdict -". */
const LEADING_LABEL =
  /^[\s"'`*_#>([]*(?:(?:FINAL[\s_-]+)?(?:ANSWER|VERDICT|RESULT|DECISION|JUDGE?MENT|OUTPUT|RESPONSE)[\s"'`*_]*[:=-]?)?[\s"'`*_([]*(?:THE[\s_-]+TASKS?[\s_-]+ARE[\s_-]+|THEY[\s_-]+ARE[\s_-]+)?/;

function phraseAt(text: string): { answer: EqualityAnswer; length: number } | undefined {
  for (const [pattern, answer] of VERDICT_PHRASES) {
    const found = pattern.exec(text);
    if (found) return { answer, length: found[0].length };
  }
  return undefined;
}

/** A verdict in a JSON object (`{"verdict": "NOT EQUAL"}`), if the answer holds one. */
function jsonVerdict(answer: string): string | undefined {
  const field = /"(?:verdict|answer|result|decision)"\s*:\s*"([^"]*)"/i.exec(answer);
  if (field) return field[1];
  const flag = /"(?:equal|is_equal|same)"\s*:\s*(true|false)/i.exec(answer);
  if (flag) return flag[1].toLowerCase() === 'true' ? 'EQUAL' : 'NOT EQUAL';
  return undefined;
}

/**
 * Reads the judge's answer; null when it gives no verdict, or gives both without leading with one. Lenient, because
 * small models answer in prose: a JSON verdict, a verdict first (after a label), or the verdict phrases anywhere in
 * the text when they all agree ("They are not the same: the second adds a deadline" is NOT EQUAL).
 */
export function parseEqualityAnswer(answer: string): EqualityAnswer | null {
  const fromJson = jsonVerdict(answer);
  const text = (fromJson ?? answer).toUpperCase().replace(/[\u2018\u2019]/g, "'");
  const lead = text.replace(LEADING_LABEL, '');
  const first = phraseAt(lead);
  // A verdict asked back ("EQUAL?") or the two options echoed ("EQUAL or NOT EQUAL") is no verdict given first.
  if (first && /^\s*(?:[.!,;:)*_"'`\n]|$)/.test(lead.slice(first.length))) return first.answer;
  if (first && /^\s+OR\s/.test(lead.slice(first.length))) return null;
  const found = new Set<EqualityAnswer>();
  for (let i = 0; i < text.length; i++) {
    if (i > 0 && /[A-Z']/.test(text[i - 1])) continue; // phrases start at a word boundary
    const here = phraseAt(text.slice(i));
    if (here) {
      found.add(here.answer);
      i += here.length - 1; // "NOT EQUAL" is not read again as "EQUAL"
    }
  }
  return found.size === 1 ? [...found][0] : null;
}

export function equalityVerdict(answer: EqualityAnswer): Verdict {
  return answer === 'equal'
    ? {
        passed: false,
        rule: 'no-information-gain',
        evidence: 'the judge found the evolved instruction equal to its parent',
      }
    : { passed: true };
}

// ---------------------------------------------------------------------------------------------
// Beside rule 1, in the same call: is the rewrite still a task, and still its parent's?

/** Rules of ours on the judge's two further answers; each can be switched off like a gate. */
export const JUDGE_TASK_RULES = ['judge-not-a-task', 'judge-lost-task'] as const;
export type JudgeTaskRule = (typeof JUDGE_TASK_RULES)[number];

/** What the judge says the rewrite is. */
export type RewriteKind = 'task' | 'answer' | 'statement';

/**
 * The judge's whole answer. A field it did not give is unknown (undefined), not failed: small models often give the
 * verdict alone, and a rewrite is not eliminated for what the judge did not say.
 */
export interface JudgeAnswer {
  equality: EqualityAnswer;
  kind?: RewriteKind;
  keepsTask?: boolean;
}

/**
 * A field's value where the answer names it: `"second_is": "ANSWER"` in JSON, or a line `second_is: ANSWER` (also
 * `**Second is** - answer`) that ends with it. Undefined when it is not named, or named with different values.
 */
function labelled(answer: string, field: string, values: string): string | undefined {
  const name = field.replace('_', '[\\s_-]?');
  const json = new RegExp(`"${name}"\\s*:\\s*"?(${values})\\b`, 'gi');
  const line = new RegExp(`^[\\s"'\`*_#>-]*${name}[\\s"'\`*_]*[:=-][\\s"'\`*_]*(${values})["'\`*_.,;!]*\\s*$`, 'gim');
  const same: Record<string, string> = { true: 'yes', false: 'no' };
  const found = new Set(
    [...answer.matchAll(json), ...answer.matchAll(line)].map((m) => same[m[1].toLowerCase()] ?? m[1].toLowerCase()),
  );
  return found.size === 1 ? [...found][0] : undefined;
}

/**
 * Reads the judge's answer: the verdict as parseEqualityAnswer does (null without one: the answer is unusable), and
 * the two further fields only where they are given by name, in JSON or on a labelled line. Prose that merely talks
 * about an answer or a task is not read as either: a wrong guess would eliminate a good rewrite.
 */
export function parseJudgeAnswer(answer: string): JudgeAnswer | null {
  const equality = parseEqualityAnswer(answer);
  if (!equality) return null;
  const kind = labelled(answer, TASK_FIELDS.kind, 'task|answer|statement') as RewriteKind | undefined;
  const keeps = labelled(answer, TASK_FIELDS.keeps, 'yes|no|true|false');
  return {
    equality,
    ...(kind ? { kind } : {}),
    ...(keeps ? { keepsTask: keeps === 'yes' } : {}),
  };
}

export type JudgeVerdict =
  { passed: true } | { passed: false; rule: 'no-information-gain' | JudgeTaskRule; evidence: string };

export interface JudgeRuleOptions {
  /** Off switches by rule name (the config file's `gates:`); every rule is on unless set to false. */
  switches?: Partial<Record<JudgeTaskRule, boolean>>;
  /**
   * The operation that wrote the rewrite. In-breadth mutation and downward evolution may write a new task by design
   * (a rarer one of the same domain, an easier problem), so judge-lost-task does not hold them.
   */
  operationKind?: OperationKind;
}

/** Rule 1 on the verdict, then, where the judge said so, the rewrite is no task, or no longer its parent's. */
export function judgeVerdict(answer: JudgeAnswer, options: JudgeRuleOptions = {}): JudgeVerdict {
  const on = (rule: JudgeTaskRule) => options.switches?.[rule] !== false;
  const equality = equalityVerdict(answer.equality);
  if (!equality.passed) return { passed: false, rule: 'no-information-gain', evidence: equality.evidence };
  if (on('judge-not-a-task') && answer.kind !== undefined && answer.kind !== 'task') {
    return {
      passed: false,
      rule: 'judge-not-a-task',
      evidence:
        answer.kind === 'answer'
          ? 'the judge found the rewrite an answer to its parent, not a task'
          : 'the judge found the rewrite a statement that asks for nothing',
    };
  }
  const newTaskByDesign = options.operationKind === 'in-breadth' || options.operationKind === 'downward';
  if (on('judge-lost-task') && answer.keepsTask === false && !newTaskByDesign) {
    return {
      passed: false,
      rule: 'judge-lost-task',
      evidence: "the judge found that the rewrite no longer asks for its parent's task",
    };
  }
  return { passed: true };
}

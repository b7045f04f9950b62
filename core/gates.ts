/**
 * Gates on a rewrite, beyond the paper's four rules: what real evolver LLMs answer instead of a harder task. Each
 * gate is named, can be switched off in the config, and fails the round as a failed evolution with its evidence
 * (the parent stays and is evolved again next round). They need only the texts, so they run as soon as the
 * rewrite arrives, before any response or judge call is spent on it. Pure: no I/O.
 */
import { STOP_WORDS, type JudgeTaskRule } from './elimination';
import { EXAMPLE_CLOSE, EXAMPLE_OPEN } from './operations';

export const GATE_RULES = ['evolver-refused', 'answered-not-rewritten', 'copies-prompt', 'lost-task'] as const;
export type GateRule = (typeof GATE_RULES)[number];

/**
 * Off switches by gate, and by the judge's two rules on the rewrite (core/elimination.ts), which the config file's
 * `gates:` switches too; every one is on unless set to false. (An empty rewrite is no gate: it is unusable.)
 */
export type GateSwitches = Partial<Record<GateRule | JudgeTaskRule, boolean>>;

export type GateVerdict = { passed: true } | { passed: false; rule: GateRule; evidence: string };

export interface GateInput {
  /** The parsed rewrite. */
  rewrite: string;
  /** The instruction it was meant to rewrite. */
  parent: string;
  /** Every message sent to the evolver, as one text: the template with the parent in it. */
  prompt: string;
  /**
   * in-depth rewrites only add to their parent; in-breadth, downward and learned methods may legitimately write a
   * shorter task, so the length gate is looser for them.
   */
  kind: 'in-depth' | 'other';
  /** Off switches; every gate is on unless set to false. */
  switches?: GateSwitches;
}

const PASS: GateVerdict = { passed: true };

/** Runs the gates in order; the first that fails gives the verdict. */
export function checkRewriteGates(input: GateInput): GateVerdict {
  const on = (gate: GateRule) => input.switches?.[gate] !== false;
  const checks: Array<() => GateVerdict> = [
    () => (on('evolver-refused') ? checkRefused(input.rewrite) : PASS),
    () => (on('copies-prompt') ? checkPromptCopy(input.rewrite, input.prompt, input.parent) : PASS),
    () => checkAnsweredOrLost(input, on('answered-not-rewritten'), on('lost-task')),
    () => (on('lost-task') ? checkMuchShorter(input.rewrite, input.parent, input.kind) : PASS),
  ];
  for (const check of checks) {
    const verdict = check();
    if (!verdict.passed) return verdict;
  }
  return PASS;
}

// ---------------------------------------------------------------------------------------------
// Words

/** Lower-case words (letters, digits and inner apostrophes), curly apostrophes made straight. */
export function wordsOf(text: string): string[] {
  return (
    text
      .toLowerCase()
      .replace(/[\u2018\u2019]/g, "'")
      .match(/[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*/gu) ?? []
  );
}

function contentWords(text: string): string[] {
  return wordsOf(text).filter((w) => !STOP_WORDS.has(w));
}

function excerpt(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

// ---------------------------------------------------------------------------------------------
// Refusals

/** How a refusal opens (after quotes and markup). */
const REFUSAL_OPENER =
  /^(?:i'm sorry|i am sorry|sorry|i apologi[sz]e|my apologies|unfortunately|i'm afraid|i am afraid|as an ai\b|as a language model|as an assistant|i can't|i cannot|i can not|i'm unable|i am unable|i'm not able|i am not able|i won't|i will not|i must decline|i do not feel|i don't feel)/;

/** What a refusal says somewhere in its first sentences. */
const REFUSAL_PHRASE =
  /\b(?:can't|cannot|can not|unable to|won't|will not|not able to|not comfortable|not appropriate|must decline|decline to|refuse to|not allowed to|against my|apologi[sz]e|sorry)\b/;

function opening(text: string): string {
  return text
    .replace(/^[\s"'“‘`*_>#-]+/, '')
    .replace(/[\u2018\u2019]/g, "'")
    .toLowerCase();
}

export function checkRefused(rewrite: string): GateVerdict {
  const start = opening(rewrite);
  if (REFUSAL_OPENER.test(start) && REFUSAL_PHRASE.test(start.slice(0, 300))) {
    return { passed: false, rule: 'evolver-refused', evidence: `the evolver refused: "${excerpt(rewrite)}"` };
  }
  return PASS;
}

// ---------------------------------------------------------------------------------------------
// Copies of our prompt (elimination rule 4, made general)

/** Word n-grams shared with the prompt this long count as copied. */
export const COPY_NGRAM = 3;
/** This many distinct shared n-grams make a copy. */
export const COPY_MIN_SHARED = 2;

function ngrams(words: readonly string[], n: number): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i + n <= words.length; i++) {
    const gram = words.slice(i, i + n);
    // An n-gram of stop words only ("it is a") says nothing about where the text came from.
    if (gram.some((w) => !STOP_WORDS.has(w))) out.add(gram.join(' '));
  }
  return out;
}

/** A worked example is copied only by a run of this many of its words; its shape is there to be imitated. */
export const EXAMPLE_COPY_NGRAM = 6;

const EXAMPLE_BLOCK = new RegExp(`${EXAMPLE_OPEN}([\\s\\S]*?)${EXAMPLE_CLOSE.replace('/', '\\/')}`, 'g');

/** Word runs of the rewrite found in the prompt sent and not in its parent: what it took from our request. */
export interface PromptCopy {
  /** Shared n-grams of the request itself (its instructions, rules and labels). */
  fromRequest: string[];
  /** Shared long runs of a worked example in the prompt. */
  fromExamples: string[];
}

export function copiedFromPrompt(rewrite: string, prompt: string, parent: string): PromptCopy {
  const examples = [...prompt.matchAll(EXAMPLE_BLOCK)].map((m) => m[1]);
  const request = prompt.replace(EXAMPLE_BLOCK, ' ');
  const taken = (source: string, size: number) => {
    const fromParent = ngrams(wordsOf(parent), size);
    const fromSource = ngrams(wordsOf(source), size);
    return [...ngrams(wordsOf(rewrite), size)].filter((gram) => fromSource.has(gram) && !fromParent.has(gram));
  };
  return {
    fromRequest: taken(request, COPY_NGRAM),
    fromExamples: examples.flatMap((example) => taken(example, EXAMPLE_COPY_NGRAM)),
  };
}

export function checkPromptCopy(rewrite: string, prompt: string, parent: string): GateVerdict {
  const { fromRequest, fromExamples } = copiedFromPrompt(rewrite, prompt, parent);
  if (fromRequest.length < COPY_MIN_SHARED && fromExamples.length === 0) return PASS;
  const quote = (grams: string[]) =>
    grams
      .slice(0, 4)
      .map((g) => `"${g}"`)
      .join(', ');
  return {
    passed: false,
    rule: 'copies-prompt',
    evidence:
      fromRequest.length >= COPY_MIN_SHARED
        ? `the rewrite repeats ${fromRequest.length} word sequences of the prompt that are not in its parent: ${quote(fromRequest)}`
        : `the rewrite copies the prompt's worked example: ${quote(fromExamples)}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Is it a task at all?

/** Verbs that open a request ("Write ...", "List ...", "Given X, find ..."). */
const IMPERATIVE_VERBS = new Set(
  (
    'add adapt address advise allocate alphabetize analyse analyze annotate answer apply approximate argue arrange ask ' +
    'assess assign assume balance brainstorm break build calculate caption categorise categorize change check choose ' +
    'cite clarify classify clean code combine come compare compile complete compose compute conclude condense ' +
    'consider construct continue contrast convert convince correct count craft create critique debug decide decode ' +
    'deduce define delete demonstrate depict derive describe design detail detect determine develop devise diagnose ' +
    'differentiate discuss distinguish divide document draft draw edit elaborate eliminate emphasize encode encrypt ' +
    'enumerate estimate evaluate examine explain explore express extend extract factor fill find finish fix forecast ' +
    'form format formulate generate give group guess help highlight identify illustrate imagine implement improve ' +
    'include indicate infer keep insert integrate interpret introduce invent investigate itemize justify label list locate ' +
    'make map mark match measure merge mention model modify multiply name narrate note optimise optimize order output ' +
    'organise organize outline pair paraphrase parse persuade pick pinpoint plan play plot point predict prepare ' +
    'present pretend print prioritize produce program propose prove provide punctuate put query rank rate read ' +
    'rearrange reason recall recommend reconstruct recount refactor reformat reformulate rephrase replace reply report ' +
    'represent research respond restate restructure retrieve return reverse review revise rewrite round sample ' +
    'schedule score search select separate show simplify simulate sketch solve sort specify split state structure ' +
    'study subtract suggest sum summarise summarize supply suppose tabulate tag tailor take teach tell test think ' +
    'trace track transform translate transliterate try turn update use validate verify visualize walk weigh write'
  ).split(' '),
);

/** Words that open a question even without its question mark. */
const INTERROGATIVES = new Set(
  'what how why which who whom whose when where is are does do did can could should would will has have was were'.split(
    ' ',
  ),
);

/** Words a clause may open with before its verb ("Please list", "Then explain", "3. Write"). */
const CLAUSE_LEAD = new Set(
  'please now then also and but or so first second third next finally lastly additionally afterwards briefly carefully clearly concisely kindly again'.split(
    ' ',
  ),
);

/**
 * Words that join a clause to the one before it: after a comma, "..., and use sunlight to make sugar" continues a
 * statement; a request after a comma opens with its verb ("Given two strings, return the longer one").
 */
const COORDINATORS = new Set('and but or so yet nor'.split(' '));

/**
 * Duties given to the reader ask only when a request verb follows ("you must explain", not "you should eat"); "you
 * can", "you may" and "you will" grant or foretell ("you can use a loop", "you will learn").
 */
const ADDRESSED_MODAL =
  /\byou (?:should|must|need to|have to|are to|shall) (?:also |then |now |first |briefly |carefully |clearly )?([a-z]+)/g;

/** Ways of asking that are not an imperative verb. */
const REQUEST_PHRASE =
  /\b(?:(?:can|could|would|will) you|i (?:want|need|would like|'d like|wish) (?:you )?to|you (?:are|will be) (?:given|asked|required|provided|expected|tasked|shown|presented|to)\b|your (?:task|answer|response|solution|job|goal|program|code|function|essay|explanation|analysis|report|story|poem|summary)|help me|in (?:no more|fewer|less) than \w+ (?:words|sentences|paragraphs|lines|steps)|in (?:at most|at least|exactly) \w+ (?:words|sentences|paragraphs|lines|steps)|in \d+ (?:words|sentences|paragraphs|lines|steps))\b/;

/** Fenced code: a code answer's lines ("print(x)", "return y") are no request. */
function withoutCode(text: string): string {
  return text.replace(/```[\s\S]*?(?:```|$)/g, ' ');
}

/** Where a clause stands: opening a sentence, opening what follows a colon, or after a comma in either. */
type ClausePlace = 'sentence' | 'after-colon' | 'inner';

/** Sentences (and labelled parts, lines, list items), each as its clauses: split at commas, dashes and brackets. */
function sentencesOf(text: string): Array<{ clauses: string[]; afterColon: boolean }> {
  const parts = text
    .toLowerCase()
    .replace(/[\u2018\u2019]/g, "'")
    .split(/([.!?;:\n]+)/);
  const sentences: Array<{ clauses: string[]; afterColon: boolean }> = [];
  for (let i = 0; i < parts.length; i += 2) {
    const clauses = parts[i]
      .split(/,\s+|\s[-–—]\s|\(|\)/)
      .map((c) => c.replace(/^[\s"'“`*_>#\-–—•\d.)\]]+/, '').trim())
      .filter(Boolean);
    if (clauses.length) sentences.push({ clauses, afterColon: i > 0 && parts[i - 1].includes(':') });
  }
  return sentences;
}

function placeOf(sentence: { afterColon: boolean }, index: number): ClausePlace {
  return index > 0 ? 'inner' : sentence.afterColon ? 'after-colon' : 'sentence';
}

/** "Converting 85 F to Celsius." asks as well as "Convert ...". */
function isRequestGerund(word: string): boolean {
  if (!word.endsWith('ing') || word.length < 6) return false;
  const stem = word.slice(0, -3);
  return [stem, `${stem}e`, stem.slice(0, -1)].some((base) => IMPERATIVE_VERBS.has(base));
}

function bare(word: string | undefined): string {
  return word?.replace(/[^a-z']/g, '') ?? '';
}

/**
 * Whether a clause asks: the first clause of a sentence by a request verb or a question word after its lead words
 * ("Please list", "How does"); a later clause only by a request verb of its own ("Given X, find Y"), not after "and"
 * or "which". A gerund asks only as a sentence's first word ("Converting 85 F to Celsius."): after a colon it lists
 * ("three things: planning the week, ..."). "What a lovely day" exclaims, it does not ask.
 */
function clauseAsks(clause: string, place: ClausePlace): boolean {
  const words = clause.split(/\s+/);
  let i = 0;
  while (i < words.length - 1 && CLAUSE_LEAD.has(bare(words[i]))) {
    if (place === 'inner' && COORDINATORS.has(bare(words[i]))) return false;
    i++;
  }
  const first = bare(words[i]);
  if (IMPERATIVE_VERBS.has(first) || (place === 'sentence' && isRequestGerund(first))) return true;
  if (place === 'inner' || !INTERROGATIVES.has(first)) return false;
  return !(first === 'what' && /^an?$/.test(bare(words[i + 1])));
}

/**
 * Whether a text asks for something: a question mark, a sentence that opens with a request verb or a question word
 * (or a clause after a comma that opens with a request verb), or a request phrase. Code blocks are left out.
 */
export function asksForSomething(text: string): boolean {
  const prose = withoutCode(text);
  if (prose.includes('?') || prose.includes('？')) return true;
  const lower = prose.toLowerCase().replace(/[\u2018\u2019]/g, "'");
  if (REQUEST_PHRASE.test(lower)) return true;
  for (const modal of lower.matchAll(ADDRESSED_MODAL)) if (IMPERATIVE_VERBS.has(modal[1])) return true;
  return sentencesOf(prose).some((sentence) =>
    sentence.clauses.some((clause, i) => clauseAsks(clause, placeOf(sentence, i))),
  );
}

/** A list item: "1.", "2)", "Step 3:", "-", "*", "•". */
const LIST_ITEM = /^\s*(?:\d{1,2}[.)]|step\s+\d+\s*[:.)-]?|[-*•])\s+/i;

/** Words that make the list that follows a list of requirements ("The function must:", "Requirements:"). */
const REQUIREMENTS_LEAD =
  /\b(?:must|should|shall|needs? to|has to|have to|requirements?|constraints?|rules?|criteria|conditions?|as follows|the following)\s*:?\s*$/i;

/** An item that is a step to take: it opens with a request verb, and asks no question. */
function isStep(item: string): boolean {
  const [sentence] = sentencesOf(item);
  if (!sentence || item.includes('?')) return false;
  const first = sentence.clauses[0];
  return clauseAsks(first, 'sentence') && !INTERROGATIVES.has(bare(first.split(/\s+/)[0]));
}

/**
 * A list of steps: two items or more, most of them steps to take, with no request before or after the list. It is how
 * to do a task ("To find the cost: 1. Divide 24 by 3. 2. Multiply ..."), not a task; a task with a list of
 * requirements says what to do with them ("Write a function that: 1. ...").
 */
export function isListOfSteps(text: string): boolean {
  const lines = withoutCode(text)
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const items = lines.flatMap((line, index) => (LIST_ITEM.test(line) ? [{ line, index }] : []));
  if (items.length < 2) return false;
  const steps = items.filter(({ line }) => isStep(line.replace(LIST_ITEM, '')));
  if (steps.length * 2 < items.length) return false;
  const before = lines.slice(0, items[0].index).join('\n');
  const after = lines.slice(items[items.length - 1].index + 1).join('\n');
  return !asksForSomething(before) && !REQUIREMENTS_LEAD.test(before) && !asksForSomething(after);
}

/** How an answer opens: a reply, not a task. */
const ANSWER_OPENER =
  /^(?:sure|certainly|of course|absolutely|great question|good question|what an? [a-z]+|the answer is|the correct answer|answer\s*:|solution\s*:|to solve this|to answer this|in conclusion|in summary|i think|i believe|as an ai|(?:today,? )?i(?:'m| am) going to|i will (?:share|tell|show|talk|explain|walk)|in this (?:article|post|blog|video|guide|lesson|essay|piece|text)\b[^.!?\n]*\b(?:i|we)\b|here (?:is|are) (?:some|a few|my|the) (?:things|tips|facts|ways|reasons|steps|ideas))\b/;

/** A writer announcing what they will tell: "These are the things I am going to share with you today". */
const NARRATION =
  /\b(?:i|we)(?:'m| am|'re| are|'ll| will| want to| would like to)(?: going to)? (?:share|tell you|show you|talk about|walk you through)\b|\bshare with you\b/;

/** The share of the rewrite's content words found in its parent. */
function overlapWithParent(rewrite: string, parent: string): number {
  const words = contentWords(rewrite);
  if (!words.length) return 1;
  const inParent = new Set(contentWords(parent));
  return words.filter((w) => inParent.has(w)).length / words.length;
}

/** A rewrite whose first sentence carries none of the request: a reply that opens like an answer. */
function opensAsAnswer(rewrite: string): boolean {
  const firstSentence = /^[^.!?\n]*[.!?\n]?/.exec(rewrite.trim())?.[0] ?? rewrite;
  if (!ANSWER_OPENER.test(opening(rewrite)) && !NARRATION.test(opening(firstSentence))) return false;
  return !asksForSomething(firstSentence);
}

/**
 * A rewrite that asks for nothing is the evolver's answer to the task, or (when it is mostly words of its parent)
 * a piece of the task whose request was lost, such as the options of a multiple-choice question without it.
 */
export function checkAnsweredOrLost(
  input: Pick<GateInput, 'rewrite' | 'parent'>,
  answeredOn = true,
  lostOn = true,
): GateVerdict {
  const { rewrite, parent } = input;
  if (answeredOn && opensAsAnswer(rewrite)) {
    return {
      passed: false,
      rule: 'answered-not-rewritten',
      evidence: `the evolver answered instead of rewriting: "${excerpt(rewrite)}"`,
    };
  }
  if (answeredOn && isListOfSteps(rewrite) && !isListOfSteps(parent)) {
    return {
      passed: false,
      rule: 'answered-not-rewritten',
      evidence: `the rewrite is a list of steps with no request around it, how to do the task rather than a task: "${excerpt(rewrite)}"`,
    };
  }
  if (asksForSomething(rewrite)) return PASS;
  const overlap = overlapWithParent(rewrite, parent);
  if (overlap >= 0.6 && asksForSomething(parent)) {
    return lostOn
      ? {
          passed: false,
          rule: 'lost-task',
          evidence: `the rewrite keeps ${Math.round(overlap * 100)}% of its parent's words but no longer asks for anything: "${excerpt(rewrite)}"`,
        }
      : PASS;
  }
  return answeredOn
    ? {
        passed: false,
        rule: 'answered-not-rewritten',
        evidence: `the rewrite asks for nothing (no question, no request): "${excerpt(rewrite)}"`,
      }
    : PASS;
}

/** Parents shorter than this many words are not held to the length gate. */
export const LOST_TASK_MIN_PARENT_WORDS = 8;
/** An in-depth rewrite shorter than this share of its parent lost part of the task; other kinds get the lower one. */
export const LOST_TASK_RATIO = { 'in-depth': 0.5, other: 0.3 } as const;

export function checkMuchShorter(rewrite: string, parent: string, kind: GateInput['kind']): GateVerdict {
  const parentWords = wordsOf(parent).length;
  if (parentWords < LOST_TASK_MIN_PARENT_WORDS) return PASS;
  const rewriteWords = wordsOf(rewrite).length;
  const ratio = LOST_TASK_RATIO[kind];
  if (rewriteWords < parentWords * ratio) {
    return {
      passed: false,
      rule: 'lost-task',
      evidence: `the rewrite has ${rewriteWords} words, under ${Math.round(ratio * 100)}% of its parent's ${parentWords}`,
    };
  }
  return PASS;
}

/**
 * Simulated evolver answers: an in-depth rewrite keeps the instruction and adds a short,
 * operation-specific demand; an in-breadth rewrite invents a new task of the same area. The code
 * set adds a constraint, a complexity demand or a flawed snippet to a programming task; the math
 * set makes a word problem harder (one more condition or step) or easier (rounder numbers, one
 * condition less, or a new simple problem).
 */
import {
  CODE_GUIDANCE,
  CodeOperationId,
  EASIER_LEAD,
  MATH_DOWNWARD_GUIDANCE,
  MATH_UPWARD_GUIDANCE,
  MathDownwardOperationId,
  MathUpwardOperationId,
} from '../core/methods';
import {
  GUIDANCE_LEAD,
  IN_BREADTH_LEAD,
  IN_DEPTH_GUIDANCE,
  INSTRUCTION_CLOSE,
  INSTRUCTION_OPEN,
  InDepthOperationId,
} from '../core/operations';
import { prngFor } from '../core/prng';
import { between, capitalise, pick, salientWords } from './text';

/** What an addition is built from. */
interface AdditionContext {
  topic: string;
  words: string[];
  random: () => number;
}

/** A sentence of 10-20 words, optionally followed by a block of structured input. */
interface Addition {
  sentence: string;
  block?: string;
}

type AdditionVariant = (context: AdditionContext) => Addition;

function wordAt(words: readonly string[], index: number, fallback: string): string {
  return words[index] ?? fallback;
}

function identifier(word: string): string {
  return word.toLowerCase().replace(/[^a-z0-9]+/g, '_') || 'value';
}

const ADDITIONS: Record<InDepthOperationId, AdditionVariant[]> = {
  'add-constraints': [
    ({ random }) => ({
      sentence: `Keep the answer under ${pick([120, 150, 200, 250], random)} words and support it with at least one concrete example.`,
    }),
    ({ topic }) => ({
      sentence: `The answer must mention at least two specific examples related to ${topic} and avoid bullet points.`,
    }),
    () => ({
      sentence:
        'Write the answer for a complete beginner, avoiding technical jargon and defining every specialised term used.',
    }),
    () => ({
      sentence: 'Structure the answer as exactly three short paragraphs, each opening with a one-sentence summary.',
    }),
    ({ topic }) => ({
      sentence: `Include a brief comparison table and finish with one practical recommendation about ${topic}.`,
    }),
  ],
  deepening: [
    ({ topic }) => ({
      sentence: `Also explain why ${topic} matters in practice and which limitations experts most often point out.`,
    }),
    ({ topic }) => ({
      sentence: `Go further by comparing two competing approaches to ${topic} and explaining where each one falls short.`,
    }),
    ({ topic }) => ({
      sentence: `In addition, describe the principles underlying ${topic} and how thinking about them has changed over time.`,
    }),
    ({ topic }) => ({
      sentence: `Also consider what would happen if the usual assumptions about ${topic} no longer held, and why.`,
    }),
  ],
  concretizing: [
    ({ topic }) => ({
      sentence: `Focus specifically on ${topic} in a small business with fewer than twenty employees.`,
    }),
    ({ topic }) => ({
      sentence: `Frame everything around a secondary school classroom, with one realistic scenario involving ${topic}.`,
    }),
    ({ topic }) => ({
      sentence: `Limit the discussion to ${topic} in hospital settings and illustrate it with one realistic case.`,
    }),
    ({ topic }) => ({
      sentence: `Concentrate on how ${topic} applies to a mid-sized European city during the winter months.`,
    }),
  ],
  'reasoning-steps': [
    () => ({
      sentence: 'Explain your reasoning step by step, stating each assumption before reaching a final conclusion.',
    }),
    () => ({ sentence: 'Work through it in at least three explicit steps, justifying each one before moving on.' }),
    ({ topic }) => ({
      sentence: `Before concluding, list the factors that influence ${topic}, then reason through them one at a time.`,
    }),
    () => ({
      sentence: 'Explain your reasoning step by step, and check the result against a simple counterexample at the end.',
    }),
  ],
  'complicating-input': [
    ({ words, random }) => ({
      sentence: 'Use the following JSON record in your answer and explain how each field affects the outcome:',
      block: [
        '```json',
        JSON.stringify({
          topic: wordAt(words, 0, 'general'),
          priority: 1 + Math.floor(random() * 5),
          tags: [wordAt(words, 1, 'review'), wordAt(words, 2, 'draft')],
          reviewed: random() < 0.5,
        }),
        '```',
      ].join('\n'),
    }),
    ({ words, random }) => {
      const first = 20 + Math.floor(random() * 30);
      const second = 10 + Math.floor(random() * 20);
      return {
        sentence: 'Base your answer on the data in this table, and point out any values that look inconsistent:',
        block: [
          '| Item | Count | Share |',
          '| --- | --- | --- |',
          `| ${wordAt(words, 0, 'alpha')} | ${first} | ${Math.round((first / (first + second)) * 100)}% |`,
          `| ${wordAt(words, 1, 'beta')} | ${second} | ${Math.round((second / (first + second)) * 100) + 5}% |`,
        ].join('\n'),
      };
    },
    ({ words }) => ({
      sentence: 'Refer to this Python function in your answer and say what it returns for a small sample input:',
      block: [
        '```python',
        `def score_${identifier(wordAt(words, 0, 'items'))}(items):`,
        '    return sum(len(item) for item in items if item) / max(len(items), 1)',
        '```',
      ].join('\n'),
    }),
    ({ topic, words, random }) => ({
      sentence: `Take the following SQL query into account and describe what its result says about ${topic}:`,
      block: [
        '```sql',
        'SELECT category, COUNT(*) AS total',
        'FROM records',
        `WHERE subject = '${identifier(wordAt(words, 0, 'general'))}'`,
        'GROUP BY category',
        `HAVING COUNT(*) > ${2 + Math.floor(random() * 8)};`,
        '```',
      ].join('\n'),
    }),
    () => ({
      sentence: 'Use the formula below in your answer, and explain what each symbol stands for in this context:',
      block: 'S = (w1 * a + w2 * b) / (w1 + w2)',
    }),
  ],
};

/** Used when the guidance line is not one of ours (a custom in-depth operation): prose additions only. */
const GENERIC_ADDITIONS: AdditionVariant[] = (Object.keys(ADDITIONS) as InDepthOperationId[])
  .filter((id) => id !== 'complicating-input')
  .flatMap((id) => ADDITIONS[id]);

const NICHES = [
  'deep-sea research stations',
  'rural veterinary clinics',
  'medieval manuscript archives',
  'Antarctic supply logistics',
  'small island economies',
  'community radio stations',
  'high-altitude farming',
  'museum conservation labs',
];

const AUDIENCES = [
  'volunteer firefighters',
  'first-year nursing students',
  'independent game developers',
  'beekeeping cooperatives',
  'public librarians',
  'amateur astronomers',
];

type BreadthTemplate = (a: string, b: string, niche: string, audience: string) => string;

const BREADTH_TEMPLATES: BreadthTemplate[] = [
  (a, _b, niche) =>
    `Explain how ${a} could be adapted for ${niche}, and describe the two biggest obstacles a practitioner would meet.`,
  (a, _b, _niche, audience) =>
    `Write a short briefing for ${audience} on a lesser-known aspect of ${a}, including one worked example.`,
  (a, b, niche) =>
    `Trace how ideas about ${a} and ${b} developed in ${niche}, and identify the turning point that mattered most.`,
  (a, _b, niche) =>
    `Design a small study that tests a common claim about ${a} in ${niche}, describing the method, data and expected outcome.`,
  (a, _b, niche) => `What unusual risks does ${a} pose in ${niche}, and which safeguards would you recommend for each?`,
  (a, b, _niche, audience) =>
    `Propose a checklist that ${audience} could use to evaluate ${a} when dealing with ${b}, and justify each item.`,
];

/** Every guidance line that follows GUIDANCE_LEAD in one of our templates, by operation id. */
const HARDER_GUIDANCE: Readonly<Record<string, string>> = {
  ...IN_DEPTH_GUIDANCE,
  ...CODE_GUIDANCE,
  ...MATH_UPWARD_GUIDANCE,
};

function operationByGuidance(userContent: string, guidance: Readonly<Record<string, string>>): string {
  return Object.keys(guidance).find((id) => userContent.includes(guidance[id])) ?? 'custom';
}

/**
 * Which operation a mutate prompt asks for: one of our operation ids, `in-breadth`, `custom` (a
 * lead of ours with guidance we do not know), or undefined when no lead of ours appears.
 */
export function mutationOperation(userContent: string): string | undefined {
  if (userContent.includes(IN_BREADTH_LEAD)) return 'in-breadth';
  if (userContent.includes(EASIER_LEAD)) return operationByGuidance(userContent, MATH_DOWNWARD_GUIDANCE);
  if (userContent.includes(GUIDANCE_LEAD)) return operationByGuidance(userContent, HARDER_GUIDANCE);
  return undefined;
}

/**
 * The instruction inside the template's tags; without tags, the last paragraph of a prompt with a
 * lead of ours, else the whole prompt (a custom template that is nothing but its instruction).
 */
export function extractInstruction(userContent: string): string {
  const tagged = between(userContent, INSTRUCTION_OPEN, INSTRUCTION_CLOSE);
  if (tagged !== null) return tagged;
  if (mutationOperation(userContent) === undefined) return userContent.trim();
  const paragraphs = userContent.trim().split(/\n\s*\n/);
  return paragraphs[paragraphs.length - 1].trim();
}

function appendAddition(instruction: string, addition: Addition): string {
  const structured = instruction.includes('\n') || addition.block !== undefined;
  let text = instruction;
  if (structured) {
    text = `${text}\n\n${addition.sentence}`;
  } else {
    text = /[\p{L}\p{N}]$/u.test(text) ? `${text}. ${addition.sentence}` : `${text} ${addition.sentence}`;
  }
  return addition.block === undefined ? text : `${text}\n\n${addition.block}`;
}

/** Roughly one answer in ten comes wrapped the way chatty models wrap a rewrite. */
function wrapLikeAModel(text: string, inBreadth: boolean, random: () => number): string {
  if (random() >= 0.1) return text;
  const style = Math.floor(random() * 3);
  if (style === 1) return `${inBreadth ? 'New Task' : 'Rewritten Task'}: ${text}`;
  if (style === 2 && !text.includes('"')) return `"${text}"`;
  return `Sure! Here is ${inBreadth ? 'a new task' : 'the harder version'}:\n\n${text}`;
}

type CodeLanguage = 'python' | 'javascript' | 'typescript';

function codeLanguage(instruction: string): CodeLanguage {
  if (/\btypescript\b/i.test(instruction)) return 'typescript';
  if (/\b(?:javascript|node(?:\.js)?|js)\b/i.test(instruction)) return 'javascript';
  return 'python';
}

/** Words of a programming task that say what kind of code, not what it is about. */
const CODE_FRAME_WORDS: ReadonlySet<string> = new Set(
  (
    'python javascript typescript node function functions program script code method class returns return takes ' +
    'accepts implement implements check checks whether determine determines compute computes calculate calculates ' +
    'find finds count counts'
  ).split(' '),
);

/** The task's own subject as a function name: `second_largest` in Python, `secondLargest` in JavaScript. */
function functionName(instruction: string, language: CodeLanguage): string {
  const words = salientWords(instruction, 12)
    .map((w) => w.toLowerCase().replace(/[^a-z0-9]+/g, ''))
    .filter((w) => w && !CODE_FRAME_WORDS.has(w))
    .slice(0, 2);
  if (words.length === 0) return 'solve';
  if (language === 'python') return words.join('_');
  return words[0] + words.slice(1).map(capitalise).join('');
}

/** Plausible first attempts, each with one bug a careful solver should spot. */
const FLAWED_PYTHON: Array<(name: string) => string[]> = [
  (name) => [
    `def ${name}(values):`,
    '    best = values[0]',
    '    for i in range(1, len(values) - 1):',
    '        if values[i] > best:',
    '            best = values[i]',
    '    return best',
  ],
  (name) => [
    `def ${name}(values, seen=[]):`,
    '    for value in values:',
    '        if value not in seen:',
    '            seen.append(value)',
    '    return seen',
  ],
  (name) => [
    `def ${name}(values):`,
    '    total = 0',
    '    for value in values:',
    '        total += value',
    '    return total // len(values)',
  ],
];

const FLAWED_JAVASCRIPT: Array<(name: string) => string[]> = [
  (name) => [
    `function ${name}(values) {`,
    '  let best = values[0];',
    '  for (let i = 1; i < values.length - 1; i++) {',
    '    if (values[i] > best) best = values[i];',
    '  }',
    '  return best;',
    '}',
  ],
  (name) => [
    `function ${name}(values) {`,
    '  const sorted = values.sort();',
    '  return sorted[sorted.length - 1];',
    '}',
  ],
  (name) => [
    `function ${name}(values) {`,
    '  values.forEach((value) => {',
    '    if (value == null) return false;',
    '  });',
    '  return true;',
    '}',
  ],
];

const FLAWED_INTROS = [
  'The following attempt looks correct but contains a bug; do not rely on it:',
  'For reference, here is a flawed first attempt that a colleague wrote:',
  'A previous implementation is shown below; it has at least one subtle error that the solution must avoid:',
];

function flawedReference(instruction: string, random: () => number): Addition {
  const language = codeLanguage(instruction);
  const name = functionName(instruction, language);
  const snippets = language === 'python' ? FLAWED_PYTHON : FLAWED_JAVASCRIPT;
  const lines = pick(snippets, random)(name);
  return { sentence: pick(FLAWED_INTROS, random), block: ['```' + language, ...lines, '```'].join('\n') };
}

const CODE_SENTENCES: Record<Exclude<CodeOperationId, 'code-erroneous-reference'>, string[]> = {
  'code-add-constraint': [
    'The solution must not use any built-in sorting or searching helpers.',
    'Reject invalid input by raising an error with a clear, specific message.',
    'Handle an empty input gracefully and return a sensible default value for it.',
    'Use only the standard library; third-party packages are not allowed here.',
    'Include at least three unit tests that cover edge cases of the input.',
  ],
  'code-rarer-requirement': [
    'Instead of a list held in memory, the input arrives as a stream that can be read only once.',
    'The input may contain Unicode text and mixed line endings, and both must be handled correctly.',
    'Results must keep the order in which each item first appears in the input.',
    'The function must be safe to call from several threads at once without any external locking.',
  ],
  'code-reasoning-steps': [
    'Before writing any code, describe the algorithm in numbered steps and justify each one.',
    'First derive the edge cases from the statement, then design the solution around them, explaining both stages.',
    'Explain the approach step by step, then trace the code on one small example to show that it works.',
  ],
  'code-complexity': [
    'The solution must run in O(n log n) time or better, where n is the size of the input.',
    'Use no more than O(1) extra memory besides the input itself, and state the running time.',
    'Aim for linear time, O(n), and explain why a quadratic approach would not be acceptable.',
  ],
};

function answerCode(operation: CodeOperationId, instruction: string, random: () => number): string {
  const addition =
    operation === 'code-erroneous-reference'
      ? flawedReference(instruction, random)
      : { sentence: pick(CODE_SENTENCES[operation], random) };
  return wrapLikeAModel(appendAddition(instruction, addition), false, random);
}

/** A small whole number in [low, high]. */
function smallNumber(low: number, high: number, random: () => number): number {
  return low + Math.floor(random() * (high - low + 1));
}

type MathAddition = (random: () => number) => string;

const MATH_UPWARD_SENTENCES: Record<MathUpwardOperationId, MathAddition[]> = {
  'math-add-constraints': [
    (random) => `Assume in addition that ${smallNumber(2, 5, random)} of the items are faulty and cannot be used.`,
    () => 'The final answer must be a whole number; if the division leaves a remainder, explain what happens to it.',
    (random) =>
      `In addition, every quantity grows by ${smallNumber(1, 4, random) * 5}% before the calculation is done.`,
    (random) =>
      `There is also a fixed extra cost of $${smallNumber(3, 12, random)} that must be included in the result.`,
  ],
  'math-concretize': [
    (random) =>
      `Assume all of this is repeated on each of ${smallNumber(3, 7, random)} consecutive days, and give the total as well.`,
    (random) =>
      `Let every unit in the problem cost exactly $${smallNumber(2, 9, random)}.50, and give the answer in dollars.`,
    (random) =>
      `Suppose the people involved are the ${smallNumber(12, 30, random)} members of a school chess club who share everything equally.`,
  ],
  'math-reasoning-steps': [
    () => 'Then work out what percentage of the starting amount the result is, rounded to one decimal place.',
    (random) =>
      `After that, find how many times the whole process must be repeated to reach at least ${smallNumber(2, 9, random) * 100}.`,
    (random) =>
      `Finally, share the result equally among ${smallNumber(3, 8, random)} people and state how much is left over.`,
  ],
};

function answerMathUpward(operation: MathUpwardOperationId, instruction: string, random: () => number): string {
  const sentence = pick(MATH_UPWARD_SENTENCES[operation], random)(random);
  return wrapLikeAModel(appendAddition(instruction, { sentence }), false, random);
}

const NAMES = ['Maya', 'Tom', 'Priya', 'Leo', 'Amara', 'Jonas'];

/** Simple one-step problems; `a` is always larger than `b`. */
const SIMPLE_PROBLEMS: Array<(a: number, b: number, name: string) => string> = [
  (a, b) => `A baker fills ${b} trays with ${a} muffins each. How many muffins does the baker make in total?`,
  (a, b, name) => `${name} has ${a} stickers and gives ${b} of them to a friend. How many stickers are left?`,
  (a, b) =>
    `A bus carries ${a} passengers, and ${b} more get on at the next stop. How many passengers are on the bus now?`,
  (a, b) => `A rectangle is ${a} cm long and ${b} cm wide. What is its perimeter?`,
  (a, b, name) => `${name} buys ${b} notebooks that cost $${a} each. How much does ${name} pay altogether?`,
];

function simpleProblem(random: () => number): string {
  const a = smallNumber(6, 20, random);
  const b = smallNumber(2, 5, random);
  return pick(SIMPLE_PROBLEMS, random)(a, b, pick(NAMES, random));
}

/** One significant digit: 48 becomes 50, 3.75 becomes 4. Monotonic, so which quantity is larger never flips. */
function roundNumber(value: number): number {
  if (value < 1) return value;
  if (value < 10) return Math.round(value);
  const scale = 10 ** Math.floor(Math.log10(value));
  return Math.round(value / scale) * scale;
}

function withRounderNumbers(problem: string): string {
  return problem.replace(/\b\d+(?:\.\d+)?\b/g, (digits) => String(roundNumber(Number(digits))));
}

/** Drops a trailing condition that follows the question, the way upward evolution usually adds one. */
function withoutTrailingCondition(problem: string): string {
  const sentences = problem.match(/[^.?!]+(?:[.?!]+\s*|$)/g);
  if (!sentences || sentences.length < 2) return problem;
  const last = sentences[sentences.length - 1].trim();
  const asksEarlier = sentences.slice(0, -1).some((s) => s.trim().endsWith('?'));
  return asksEarlier && !last.endsWith('?') ? sentences.slice(0, -1).join('').trim() : problem;
}

function answerMathDownward(operation: MathDownwardOperationId, instruction: string, random: () => number): string {
  // Numbers inside a table or a code block are data, not quantities to round: such problems get a new one.
  const easier =
    operation === 'math-easier' && !instruction.includes('\n')
      ? withRounderNumbers(withoutTrailingCondition(instruction))
      : instruction;
  return wrapLikeAModel(easier !== instruction ? easier : simpleProblem(random), true, random);
}

function isOneOf<K extends string>(ids: Readonly<Record<K, unknown>>, operation: string | undefined): operation is K {
  return operation !== undefined && Object.prototype.hasOwnProperty.call(ids, operation);
}

function answerInBreadth(words: readonly string[], random: () => number): string {
  const a = words[0] ?? 'this subject';
  const b = words[1] ?? 'its practical limits';
  const template = pick(BREADTH_TEMPLATES, random);
  const task = capitalise(template(a, b, pick(NICHES, random), pick(AUDIENCES, random)));
  return wrapLikeAModel(task, true, random);
}

export function answerMutation(userContent: string): string {
  const random = prngFor('mutate', userContent);
  const operation = mutationOperation(userContent);
  const instruction = extractInstruction(userContent);
  if (isOneOf(CODE_GUIDANCE, operation)) return answerCode(operation, instruction, random);
  if (isOneOf(MATH_UPWARD_GUIDANCE, operation)) return answerMathUpward(operation, instruction, random);
  if (isOneOf(MATH_DOWNWARD_GUIDANCE, operation)) return answerMathDownward(operation, instruction, random);

  const words = salientWords(instruction);
  if (operation === 'in-breadth') return answerInBreadth(words, random);
  const variants = isOneOf(ADDITIONS, operation) ? ADDITIONS[operation] : GENERIC_ADDITIONS;
  const addition = pick(variants, random)({ topic: words[0] ?? 'this subject', words, random });
  return wrapLikeAModel(appendAddition(instruction, addition), false, random);
}

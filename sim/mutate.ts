/**
 * Simulated evolver answers: an in-depth rewrite keeps the instruction and adds a short,
 * operation-specific demand; an in-breadth rewrite invents a new task of the same area.
 */
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

/** Which operation a mutate prompt asks for: an in-depth id, `in-breadth`, `custom`, or undefined if neither lead appears. */
export function mutationOperation(userContent: string): string | undefined {
  if (userContent.includes(IN_BREADTH_LEAD)) return 'in-breadth';
  if (!userContent.includes(GUIDANCE_LEAD)) return undefined;
  const ids = Object.keys(IN_DEPTH_GUIDANCE) as InDepthOperationId[];
  return ids.find((id) => userContent.includes(IN_DEPTH_GUIDANCE[id])) ?? 'custom';
}

/** The instruction inside the template's tags; without tags, the last paragraph of the prompt. */
export function extractInstruction(userContent: string): string {
  const tagged = between(userContent, INSTRUCTION_OPEN, INSTRUCTION_CLOSE);
  if (tagged !== null) return tagged;
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

export function answerMutation(userContent: string): string {
  const random = prngFor('mutate', userContent);
  const operation = mutationOperation(userContent);
  const instruction = extractInstruction(userContent);
  const words = salientWords(instruction);

  if (operation === 'in-breadth') {
    const a = words[0] ?? 'this subject';
    const b = words[1] ?? 'its practical limits';
    const template = pick(BREADTH_TEMPLATES, random);
    const task = capitalise(template(a, b, pick(NICHES, random), pick(AUDIENCES, random)));
    return wrapLikeAModel(task, true, random);
  }

  const variants =
    operation !== undefined && operation in ADDITIONS ? ADDITIONS[operation as InDepthOperationId] : GENERIC_ADDITIONS;
  const addition = pick(variants, random)({ topic: words[0] ?? 'this subject', words, random });
  return wrapLikeAModel(appendAddition(instruction, addition), false, random);
}

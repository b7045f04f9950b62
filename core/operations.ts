/**
 * The evolving operations of Evol-Instruct (WizardLM §3): five in-depth rewrites that make an
 * instruction a little harder, and in-breadth mutation that writes a new, rarer instruction of the
 * same domain. Every prompt sentence here is our own wording.
 */
import { ChatMessage, fillTemplate, INSTRUCTION_PLACEHOLDER } from './chat';

/** `downward` makes an instruction easier (WizardMath's downward evolution). */
export const OPERATION_KINDS = ['in-depth', 'in-breadth', 'downward', 'custom'] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

export interface Operation {
  /** Stable id recorded in lineage and history, e.g. `add-constraints`. */
  id: string;
  kind: OperationKind;
  /** Relative chance of being picked within its method set. */
  weight: number;
  /** System message sent with the template. */
  system: string;
  /** The user message; `{instruction}` marks where the instruction goes. */
  template: string;
  /**
   * The rounds this operation may be drawn in (1-based), when the method schedules its operations by round
   * (WizardMath: easier first, then harder); every round when absent.
   */
  rounds?: RoundRange;
}

/** Rounds `from` to `to` (inclusive; `to` absent: every later round). */
export interface RoundRange {
  from: number;
  to?: number;
}

export function inRounds(range: RoundRange | undefined, round: number): boolean {
  return range === undefined || (round >= range.from && (range.to === undefined || round <= range.to));
}

/** Tags around a worked example in a template: a rewrite may imitate its shape, but not copy it. */
export const EXAMPLE_OPEN = '<example>';
export const EXAMPLE_CLOSE = '</example>';

/** Tags around the instruction in our templates; also checked by elimination rule 4. */
export const INSTRUCTION_OPEN = '<instruction>';
export const INSTRUCTION_CLOSE = '</instruction>';

const EVOLVER_SYSTEM =
  'You write tasks for training AI assistants. You make an existing task more demanding in small, careful steps, and the result must stay a task a person could read and answer.';

/** The one line that differs between the five in-depth operations. */
export const IN_DEPTH_GUIDANCE = {
  'add-constraints': 'Add exactly one further constraint or requirement that a good answer has to satisfy.',
  deepening: 'Where the task asks about a subject, make it probe that subject more deeply or more broadly.',
  concretizing: 'Swap a general notion in the task for a narrower, more concrete one.',
  'reasoning-steps':
    'If the task can be settled with a couple of simple thoughts, change it so that it explicitly asks for reasoning in several steps.',
  'complicating-input':
    'Give the task a piece of structured input that the answer must work with, such as a table, a code snippet, JSON, XML, an SQL query or a formula.',
} as const;

export type InDepthOperationId = keyof typeof IN_DEPTH_GUIDANCE;

/** The phrase that introduces the guidance line; the simulated LLM finds the operation by it. */
export const GUIDANCE_LEAD = 'How to make it harder this time:';

/** The last rules of every in-depth prompt: a task that stands alone, and nothing around it. */
const REWRITE_OUTPUT_RULES = [
  '- Write it as a standalone task: do not refer to the original, to this request, or to the tags around the task.',
  '- Answer with the rewritten task alone, with no heading, label or comment.',
];

/** The layout every built-in prompt shares: the task, the guidance, the rules, a worked example, the instruction. */
export function rewritePrompt(parts: {
  task: string;
  /** The guidance line(s), after the task. */
  guidance?: readonly string[];
  /** `Rules for <rulesFor>:` heads the rules. */
  rulesFor: string;
  rules: readonly string[];
  example?: readonly string[];
}): string {
  return [
    parts.task,
    '',
    ...(parts.guidance ? [...parts.guidance, ''] : []),
    `Rules for ${parts.rulesFor}:`,
    ...parts.rules,
    '',
    ...(parts.example ? [...parts.example, ''] : []),
    INSTRUCTION_OPEN,
    INSTRUCTION_PLACEHOLDER,
    INSTRUCTION_CLOSE,
  ].join('\n');
}

/** One operation per guidance line of a table, drawn alike, each prompt made from its line. */
export function operationsFrom<Id extends string>(
  guidance: Record<Id, string>,
  shape: Pick<Operation, 'kind' | 'system' | 'rounds'> & { template: (line: string, id: Id) => string },
): Operation[] {
  return (Object.keys(guidance) as Id[]).map((id) => ({
    id,
    kind: shape.kind,
    weight: 1,
    system: shape.system,
    template: shape.template(guidance[id], id),
    ...(shape.rounds ? { rounds: shape.rounds } : {}),
  }));
}

/** An in-depth prompt from its task and own rules: the guidance line of the operation, then the output rules. */
function harderRewrite(task: string, rules: readonly string[], example?: readonly string[]) {
  return (guidance: string): string =>
    rewritePrompt({
      task,
      guidance: [`${GUIDANCE_LEAD} ${guidance}`],
      rulesFor: 'the rewrite',
      rules: [...rules, ...REWRITE_OUTPUT_RULES],
      ...(example ? { example } : {}),
    });
}

const inDepthTemplate = harderRewrite(
  'Rewrite the task below into a version that is somewhat harder for a capable assistant, yet still reasonable and answerable by a person.',
  [
    '- Keep every part of the original that is not plain prose (tables, code, sample input) and keep what it asks for.',
    '- Add only about 10 to 20 words; stay concise.',
  ],
);

/** The phrase that opens the in-breadth template; the simulated LLM finds it by this. */
export const IN_BREADTH_LEAD = 'Study the task below only to learn its subject area.';

const IN_BREADTH_TEMPLATE = rewritePrompt({
  task: `${IN_BREADTH_LEAD} Then write one brand-new task from the same area that is about a rarer, more specialised topic.`,
  rulesFor: 'the new task',
  rules: [
    '- Make it about as long and as hard as the one below.',
    '- It must be reasonable and answerable by a person.',
    '- Do not refer to the task below, to this request, or to the tags around it.',
    '- Answer with the new task alone, with no heading, label or comment.',
  ],
});

/**
 * Complicating input has a prompt of its own (as in the paper): the input is data written out in a stated format,
 * which the word limit of the other in-depth rewrites would leave no room for; a worked example shows the change.
 */
const complicatingInputTemplate = harderRewrite(
  'Rewrite the task below so that answering it means working with a piece of input data that you write into the task itself.',
  [
    '- Pick one format for the data and say which it is in the task: a Markdown table, JSON, XML, CSV, an SQL table with a few rows, a code snippet, a formula, or a shell command with its output.',
    '- Write the data out in full inside the task, in that format: short, but concrete enough to reason about.',
    '- Keep what the original asks for and every part of it that is not plain prose; the sentences you add around the data stay brief.',
  ],
  [
    'A worked example of this kind of change (it is not the task to rewrite):',
    EXAMPLE_OPEN,
    'Before: Which of our products sold best last month?',
    'After: From the monthly sales figures below, find the product that brought in the most money and say how far ahead of the second one it was.',
    '| product | units sold | price per unit (USD) |',
    '|---|---|---|',
    '| Kettle | 120 | 35 |',
    '| Toaster | 95 | 48 |',
    '| Blender | 60 | 70 |',
    EXAMPLE_CLOSE,
  ],
);

/** The general method set of the paper: five in-depth operations plus in-breadth, equally likely. */
export const GENERAL_OPERATIONS: readonly Operation[] = [
  ...operationsFrom(IN_DEPTH_GUIDANCE, {
    kind: 'in-depth',
    system: EVOLVER_SYSTEM,
    template: (line, id) => (id === 'complicating-input' ? complicatingInputTemplate(line) : inDepthTemplate(line)),
  }),
  { id: 'in-breadth', kind: 'in-breadth', weight: 1, system: EVOLVER_SYSTEM, template: IN_BREADTH_TEMPLATE },
];

/** The messages that ask the evolver LLM to apply an operation to an instruction. */
export function buildMutationMessages(operation: Operation, instruction: string): ChatMessage[] {
  return [
    { role: 'system', content: operation.system },
    { role: 'user', content: fillTemplate(operation.template, instruction) },
  ];
}

export const RESPONDER_SYSTEM =
  'You are a knowledgeable, careful assistant. Answer the request completely and accurately.';

/** The messages that ask the responder LLM to answer an (evolved) instruction. */
export function buildResponseMessages(instruction: string): ChatMessage[] {
  return [
    { role: 'system', content: RESPONDER_SYSTEM },
    { role: 'user', content: instruction },
  ];
}

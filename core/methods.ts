/**
 * The built-in method sets a run can evolve with: the general set of WizardLM, the code set of
 * WizardCoder (§3: five ways to make a programming task harder) and the math set of WizardMath
 * (§2: downward evolution makes a problem easier, upward evolution harder). The operations are
 * the papers'; every prompt sentence is our own wording.
 */
import { GENERAL_OPERATIONS, GUIDANCE_LEAD, operationsFrom, rewritePrompt, type Operation } from './operations';

export const METHOD_NAMES = ['general', 'code', 'math'] as const;
export type MethodName = (typeof METHOD_NAMES)[number];

/** The one line that differs between the code operations; each follows GUIDANCE_LEAD. */
export const CODE_GUIDANCE = {
  'code-add-constraint': 'Add one new constraint or requirement to the task, in roughly ten extra words.',
  'code-rarer-requirement':
    'Take a requirement that programming tasks commonly have and replace it with a less common, more specific one.',
  'code-reasoning-steps': 'Change the task so that solving it takes a few more steps of reasoning than it does now.',
  'code-erroneous-reference':
    'Add a short piece of code that contains a mistake and present it as a reference, so that a careless solver could be misled by it.',
  'code-complexity':
    'Demand a solution with a stricter bound on running time or on memory use; this is a change to make only rarely, so prefer another way unless the task really invites it.',
} as const;

export type CodeOperationId = keyof typeof CODE_GUIDANCE;

/** The upward (harder) math operations; each follows GUIDANCE_LEAD. */
export const MATH_UPWARD_GUIDANCE = {
  'math-add-constraints': 'Add one more condition or quantity that the solution has to take into account.',
  'math-concretize': 'Replace an abstract or general part of the problem with a specific situation and exact numbers.',
  'math-reasoning-steps': 'Extend the problem so that reaching the answer takes more calculation steps than now.',
} as const;

export type MathUpwardOperationId = keyof typeof MATH_UPWARD_GUIDANCE;

/** The phrase that introduces a downward guidance line; the simulated LLM finds the operation by it. */
export const EASIER_LEAD = 'How to make it easier this time:';

/** The downward (easier) math operations; each follows EASIER_LEAD. */
export const MATH_DOWNWARD_GUIDANCE = {
  'math-easier':
    'Keep the topic but lower the difficulty: fewer steps, smaller or rounder numbers, or one condition less.',
  'math-easier-new-topic':
    'Leave the topic behind and write a simpler problem about a different everyday situation or a different area of mathematics.',
} as const;

export type MathDownwardOperationId = keyof typeof MATH_DOWNWARD_GUIDANCE;

/** The system message of operations from a method file that bring none of their own. */
export const CUSTOM_OPERATION_SYSTEM =
  'You rewrite tasks that are used to train AI assistants. Follow the request exactly and reply with the resulting task alone.';

const CODE_SYSTEM =
  'You write programming tasks for training AI assistants. You make an existing task more demanding one small step at a time, and the result must stay a task a competent programmer could solve.';

const MATH_SYSTEM =
  'You write math problems for training AI assistants. You adjust the difficulty of an existing problem one step at a time, and every problem you write must have a single answer that can be checked.';

/** The last rules of every code and math prompt: a task that stands alone, and nothing around it. */
const NEW_TASK_OUTPUT_RULES = [
  '- Write it as a standalone task: do not refer to the original, to this request, or to the tags around the task.',
  '- Answer with the new task alone, with no heading, label or comment.',
];

function codeTemplate(guidance: string): string {
  return rewritePrompt({
    task: 'Below is a programming task. Rewrite it so that it becomes somewhat harder to solve while remaining a fair, well-defined task.',
    guidance: [
      `${GUIDANCE_LEAD} ${guidance}`,
      'This is one way to raise the difficulty, not the only one: another of the same size is fine if it suits the task better.',
    ],
    rulesFor: 'the rewrite',
    rules: [
      '- Keep the programming language, the inputs and the expected result of the task unless the guidance changes them.',
      '- Put any code you add in a fenced code block.',
      ...NEW_TASK_OUTPUT_RULES,
    ],
  });
}

function mathTemplate(lead: string, guidance: string): string {
  return rewritePrompt({
    task: 'Below is a math problem. Use it as the starting point for a problem of a different difficulty, as described next.',
    guidance: [`${lead} ${guidance}`],
    rulesFor: 'the new problem',
    rules: [
      '- It must be solvable, with numbers that are consistent with each other.',
      '- Do not include the solution.',
      ...NEW_TASK_OUTPUT_RULES,
    ],
  });
}

/** WizardMath's schedule: downward evolution in the first rounds, upward after (2 + 3 in its later versions). */
export const MATH_DOWNWARD_ROUNDS = 2;

export const METHOD_SETS: Record<MethodName, Operation[]> = {
  general: [...GENERAL_OPERATIONS],
  // WizardCoder draws its five methods alike; the complexity demand's "rarely" is in its prompt, as in the paper.
  code: operationsFrom(CODE_GUIDANCE, { kind: 'in-depth', system: CODE_SYSTEM, template: codeTemplate }),
  math: [
    ...operationsFrom(MATH_DOWNWARD_GUIDANCE, {
      kind: 'downward',
      system: MATH_SYSTEM,
      template: (line) => mathTemplate(EASIER_LEAD, line),
      rounds: { from: 1, to: MATH_DOWNWARD_ROUNDS },
    }),
    ...operationsFrom(MATH_UPWARD_GUIDANCE, {
      kind: 'in-depth',
      system: MATH_SYSTEM,
      template: (line) => mathTemplate(GUIDANCE_LEAD, line),
      rounds: { from: MATH_DOWNWARD_ROUNDS + 1 },
    }),
  ],
};

export function isMethodName(name: string): name is MethodName {
  return (METHOD_NAMES as readonly string[]).includes(name);
}

/** A fresh copy of a built-in set, so a caller may change it without touching the shared one. */
export function builtInOperations(name: MethodName): Operation[] {
  return METHOD_SETS[name].map((op) => ({ ...op }));
}

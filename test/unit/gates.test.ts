import fs from 'node:fs';
import {
  asksForSomething,
  checkRewriteGates,
  copiedFromPrompt,
  GATE_RULES,
  type GateInput,
  type GateRule,
} from '../../core/gates';
import { METHOD_SETS } from '../../core/methods';
import { buildMutationMessages, GENERAL_OPERATIONS, type Operation } from '../../core/operations';
import { sharedDataFile } from '../helpers/shared-data';
import { ROWS_THAT_GOT_THROUGH } from '../helpers/task-shape';

const addConstraints = GENERAL_OPERATIONS.find((op) => op.id === 'add-constraints')!;
const inBreadth = GENERAL_OPERATIONS.find((op) => op.id === 'in-breadth')!;

function promptOf(operation: Operation, parent: string): string {
  return buildMutationMessages(operation, parent)
    .map((m) => m.content)
    .join('\n');
}

function gate(rewrite: string, parent: string, operation: Operation = addConstraints, switches = {}) {
  const input: GateInput = {
    rewrite,
    parent,
    prompt: promptOf(operation, parent),
    kind: operation.kind === 'in-depth' ? 'in-depth' : 'other',
    switches,
  };
  return checkRewriteGates(input);
}

/** What real evolver LLMs answered instead of a harder task, labelled with the gate that must catch it. */
const BAD_REWRITES: Array<[string, string, string, GateRule]> = [
  [
    'a refusal',
    'Explain photosynthesis in simple terms.',
    "I'm sorry, but I can't help with that request.",
    'evolver-refused',
  ],
  [
    'a polite refusal',
    'Write a poem about the sea.',
    'As an AI language model, I cannot write poems that rewrite tasks.',
    'evolver-refused',
  ],
  [
    'an apology that declines',
    'List five prime numbers.',
    'Unfortunately, I am unable to rewrite this task.',
    'evolver-refused',
  ],
  [
    'our prompt echoed back',
    'Explain photosynthesis in simple terms.',
    'Rewrite the task into a rewritten version that is more challenging for a competent AI assistant.',
    'copies-prompt',
  ],
  [
    'our guidance echoed, slightly reworded',
    'Give three tips for staying healthy.',
    'How to make it more difficult this time: add exactly one further constraint.',
    'copies-prompt',
  ],
  [
    'the rules of the rewrite echoed',
    'Describe a sunset.',
    'Keep every part of the original that is not plain prose, and describe a sunset.',
    'copies-prompt',
  ],
  [
    'an answer instead of a rewrite',
    'Explain photosynthesis in simple terms.',
    'Photosynthesis is the process by which green plants use sunlight to turn carbon dioxide and water into glucose and oxygen.',
    'answered-not-rewritten',
  ],
  [
    'an answer that opens like a reply',
    'What is the capital of France?',
    'Sure! The capital of France is Paris.',
    'answered-not-rewritten',
  ],
  [
    'a numbered answer',
    'Give three tips for staying healthy.',
    'Eating well matters most. Sleep eight hours. Regular exercise keeps the heart strong.',
    'answered-not-rewritten',
  ],
  [
    'a multiple-choice list whose question is gone',
    'Which of these animals is a mammal? A) shark B) dolphin C) trout D) eel',
    'A) shark B) dolphin C) trout D) eel',
    'lost-task',
  ],
  [
    'the answer to its own question, in its words',
    'What is the capital of France?',
    'The capital of France is Paris.',
    'lost-task',
  ],
  [
    'a numbered list of steps that solves the parent',
    'A shop sells pencils at 3 for 1 dollar. How much do 24 pencils cost?',
    '1. Divide 24 by 3 to get 8 groups.\n2. Multiply 8 by 1 dollar.\n3. Write down the total.',
    'answered-not-rewritten',
  ],
  [
    'a statement that answers the question, its clause after a comma no question',
    'Why do people carry umbrellas when the sky is cloudy?',
    'People carry umbrellas under a cloudy sky because clouds often bring rain, which can start without warning.',
    'answered-not-rewritten',
  ],
  [
    'a reply that opens with "What a"',
    'What is the capital of France?',
    'What a great question! The capital of France is Paris.',
    'answered-not-rewritten',
  ],
  [
    'a rewrite that dropped most of the task',
    'Write a Python function that reads a CSV file of sales, groups the rows by region, and prints the total revenue of each region sorted from highest to lowest.',
    'Write a Python function that reads a CSV file.',
    'lost-task',
  ],
];

/** Rewrites a good evolver gives: none of the gates may eliminate them. */
const GOOD_REWRITES: Array<[string, string, string, Operation]> = [
  [
    'an added constraint',
    'Give three tips for staying healthy.',
    'Give three tips for staying healthy, each backed by a peer-reviewed study published after 2015.',
    addConstraints,
  ],
  [
    'a question kept as a question',
    'What is the capital of France?',
    'What is the capital of France, and how did it become the seat of government?',
    addConstraints,
  ],
  [
    'a task that begins with "Given"',
    'Sort a list of numbers.',
    'Given a list of integers that may contain duplicates, return them sorted in descending order without using a built-in sort.',
    addConstraints,
  ],
  [
    'a structured input added',
    'Which product sold best?',
    'Using the JSON below, find the product with the highest revenue and explain your reasoning.\n\n{"kettle": {"units": 120, "price": 35}, "toaster": {"units": 95, "price": 48}}',
    addConstraints,
  ],
  [
    'a polite request',
    'Summarize the article.',
    'Could you summarize the article in no more than 80 words, keeping every figure it mentions?',
    addConstraints,
  ],
  [
    'a task that mentions an apology email',
    'Write an email to a customer.',
    "Write an apology email to a customer whose order arrived late, beginning with 'I'm sorry' and offering a discount.",
    addConstraints,
  ],
  [
    'a gerund opener',
    'Convert 85 F to Celsius.',
    'Converting 85 F and 40 F to Celsius, show each step of the calculation.',
    addConstraints,
  ],
  [
    'an in-breadth task on a new topic, shorter than its parent',
    'Describe in detail the economic, social and environmental consequences of building a large hydroelectric dam in a river valley.',
    'Explain how sediment trapped behind a dam changes the delta downstream.',
    inBreadth,
  ],
  [
    'a task that legitimately says "a good answer"',
    'Explain recursion.',
    'Explain recursion to a ten-year-old; a good answer uses one everyday example.',
    addConstraints,
  ],
  [
    'a request with a numbered list of parts',
    'Write a function.',
    'Write a Python function that:\n1. Reads a CSV file of sales.\n2. Groups the rows by region.\n3. Prints the total of each region.',
    addConstraints,
  ],
  [
    'a numbered list of requirements',
    'Plan a trip.',
    'Your plan must:\n- Include a budget of 300 euros.\n- List every museum you visit.\n- Explain how you travel between them.',
    addConstraints,
  ],
  [
    'a numbered list of questions',
    'Tell me about the Moon.',
    '1. How far is the Moon from the Earth?\n2. Why do we always see the same side of it?',
    addConstraints,
  ],
  [
    'a task that asks in the imperative after a scenario',
    'Plan a trip.',
    'You have two days in Lisbon with a budget of 300 euros. Plan the trip hour by hour.',
    addConstraints,
  ],
];

describe('the gates on a rewrite: each bad kind is caught by its own gate', () => {
  test.each(BAD_REWRITES)('%s fails %4$s', (_name, parent, rewrite, rule) => {
    expect(gate(rewrite, parent)).toMatchObject({ passed: false, rule, evidence: expect.any(String) });
  });

  test('every gate has labelled examples', () => {
    expect(new Set(BAD_REWRITES.map((row) => row[3]))).toEqual(new Set(GATE_RULES));
  });

  test('the evidence quotes what was wrong', () => {
    const verdict = gate('Photosynthesis is what plants do with light.', 'Explain photosynthesis.');
    expect(verdict.passed === false && verdict.evidence).toContain('Photosynthesis is what plants do');
    const copy = gate(BAD_REWRITES[3][2], BAD_REWRITES[3][1]);
    expect(copy.passed === false && copy.evidence).toContain('"rewrite the task"');
  });
});

describe('the gates on a rewrite: what a real small model got past them before', () => {
  test.each(ROWS_THAT_GOT_THROUGH)('%s is caught now', (_name, parent, row) => {
    for (const operation of GENERAL_OPERATIONS) {
      expect(gate(row, parent, operation)).toMatchObject({
        passed: false,
        rule: expect.stringMatching(/^(?:answered-not-rewritten|lost-task)$/),
      });
    }
  });
});

describe('the gates on a rewrite: good rewrites pass them all', () => {
  test.each(GOOD_REWRITES)('%s', (_name, parent, rewrite, operation) => {
    expect(gate(rewrite, parent, operation)).toEqual({ passed: true });
  });

  test('with every operation of every built-in method set', () => {
    for (const operation of Object.values(METHOD_SETS).flat()) {
      for (const [, parent, rewrite] of GOOD_REWRITES) {
        expect([operation.id, rewrite, gate(rewrite, parent, operation)]).toEqual([
          operation.id,
          rewrite,
          { passed: true },
        ]);
      }
    }
  });
});

describe('the gates can be switched off one by one', () => {
  test.each(BAD_REWRITES)('%s passes with %4$s off', (_name, parent, rewrite, rule) => {
    const verdict = gate(rewrite, parent, addConstraints, { [rule]: false });
    expect(verdict.passed === false && verdict.rule).not.toBe(rule);
  });
});

describe('rule 4 made general: words copied from the prompt actually sent', () => {
  test('n-grams the parent already had are no copy', () => {
    const parent = 'Rewrite the task of summarizing this text so the version that is shorter wins.';
    expect(copiedFromPrompt(parent, promptOf(addConstraints, parent), parent).fromRequest).toEqual([]);
  });

  test('it covers a method file of the user: its own wording counts as the prompt', () => {
    const custom: Operation = {
      id: 'cite-a-statute',
      kind: 'custom',
      weight: 1,
      system: 'You rewrite legal tasks.',
      template: 'Rewrite this task so that the answer must cite the statute it relies on:\n{instruction}',
    };
    const parent = 'Can a landlord keep a deposit for normal wear?';
    expect(gate('Rewrite this task so that the answer must cite the statute.', parent, custom)).toMatchObject({
      passed: false,
      rule: 'copies-prompt',
    });
    expect(
      gate('Can a landlord keep a deposit for normal wear under the Housing Act 1988, section 21?', parent, custom),
    ).toEqual({ passed: true });
  });
});

describe('a worked example in the prompt may be imitated, not copied', () => {
  const complicating = GENERAL_OPERATIONS.find((op) => op.id === 'complicating-input')!;
  const parent = 'Which product sold best?';

  test('a rewrite shaped like the example passes', () => {
    const rewrite =
      'From the sales table below, find the product with the most revenue and say by how much it led.\n| product | revenue |\n|---|---|\n| Lamp | 300 |\n| Desk | 900 |';
    expect(gate(rewrite, parent, complicating)).toEqual({ passed: true });
  });

  test('the example itself, copied, fails', () => {
    const rewrite =
      'From the monthly sales figures below, find the product that brought in the most money and say how far ahead of the second one it was.';
    expect(gate(rewrite, parent, complicating)).toMatchObject({
      passed: false,
      rule: 'copies-prompt',
      evidence: expect.stringContaining('worked example'),
    });
  });
});

describe('whether a text asks for something', () => {
  test.each([
    ['a question', 'Why is the sky blue?', true],
    ['an imperative', 'List three primes.', true],
    ['an imperative after a clause', 'Given two strings, return the longer one.', true],
    ['a request phrase', 'I want you to act as a travel guide for Rome.', true],
    ['a statement', 'The sky is blue because of Rayleigh scattering.', false],
    ['a list of options', 'A) shark B) dolphin', false],
    ['a statement with a relative clause', 'Paris is the capital, which is also its largest city.', false],
    ['a statement that goes on with "and"', 'Plants take in water, and use sunlight to make sugar.', false],
    ['an exclamation', 'What a lovely day it has been!', false],
    ['a foretelling', 'You will learn how vaccines work.', false],
    ['advice', 'To stay healthy you should eat vegetables.', false],
    ['a duty with a request verb', 'You must explain each step.', true],
    ['a code answer', '```python\nprint(max(numbers))\n```', false],
  ])('%s', (_name, text, asks) => {
    expect(asksForSomething(text)).toBe(asks);
  });
});

describe("the shared self-instruct seeds (others' tasks) pass every gate", () => {
  const file = sharedDataFile('self_instruct_seed_tasks.jsonl');
  (file ? test : test.skip)('as rewrites of another seed, under every general operation but the length gate', () => {
    const rows = fs
      .readFileSync(file!, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { instruction: string; instances: Array<{ input: string }> });
    const texts = rows.map((r) =>
      r.instances[0]?.input ? `${r.instruction}\n\n${r.instances[0].input}` : r.instruction,
    );
    expect(texts.length).toBeGreaterThan(100);
    const failed: string[] = [];
    for (const operation of GENERAL_OPERATIONS) {
      texts.forEach((rewrite, i) => {
        const parent = texts[(i + 7) % texts.length];
        const verdict = gate(rewrite, parent, operation, { 'lost-task': false });
        if (!verdict.passed) failed.push(`${operation.id}: ${verdict.rule}: ${rewrite.slice(0, 60)}`);
      });
    }
    expect(failed).toEqual([]);
  });
});

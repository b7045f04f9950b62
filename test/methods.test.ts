import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { startSingleInstruction } from '../client/api';
import { METHOD_NAMES, resolveMethod, withMethodSampling } from '../client/method-file';
import { checkTemplateWords } from '../core/elimination';
import { CODE_GUIDANCE, CUSTOM_OPERATION_SYSTEM, MATH_DOWNWARD_GUIDANCE, MATH_UPWARD_GUIDANCE } from '../core/methods';
import { METHOD_SETS, type MethodName } from '../core/methods';
import { INSTRUCTION_PLACEHOLDER } from '../core/chat';
import {
  buildMutationMessages,
  buildResponseMessages,
  GENERAL_OPERATIONS,
  IN_DEPTH_GUIDANCE,
  INSTRUCTION_CLOSE,
  INSTRUCTION_OPEN,
  type Operation,
} from '../core/operations';
import { planOperations, unscheduledRound } from '../core/plan';
import { resolveLlmConfig } from '../core/config';
import { methodFile } from '../core/auto-evol';
import { pickWeighted, prngFor } from '../core/prng';
import { parseRewrite } from '../core/rewrite';
import type { Lineage } from '../core/lineage';
import { classifyRequest, DEFAULT_RECOGNISERS, startSimLlm, type SimLlm } from '../sim/llm-server';
import { findRecogniser } from '../sim/recognisers';
import { connectClient, llmAt, startWorker, uniqueTaskQueue, type TestWorker } from './helpers/temporal';

const ALL_GUIDANCE: Record<string, string> = {
  ...IN_DEPTH_GUIDANCE,
  ...CODE_GUIDANCE,
  ...MATH_UPWARD_GUIDANCE,
  ...MATH_DOWNWARD_GUIDANCE,
};

/** An instruction of each set's domain. */
const DOMAIN_SEEDS: Record<MethodName, string> = {
  general: 'What should I pack for a weekend hiking trip in the mountains?',
  code: 'Write a Python function that returns the second largest number in a list.',
  math: 'A bakery sells muffins for $3 each. Lena buys 14 muffins and pays with a $50 note. How much change does she get?',
};

const CODE_TASKS = [
  DOMAIN_SEEDS.code,
  'Write a JavaScript function that checks whether a string is a palindrome.',
  'Implement a TypeScript class for a least-recently-used cache with get and put.',
  'Write a program that counts the words in a text file.',
];

const MATH_PROBLEMS = [
  DOMAIN_SEEDS.math,
  'Tom reads 12 pages a day. How many days does he need to finish a 250-page book?',
  'A train travels 180 km in 2.5 hours. What is its average speed?',
  'A garden is 7 m long and 4 m wide. What is its area?',
];

function answerOf(operation: Operation, instruction: string): string {
  const messages = buildMutationMessages(operation, instruction);
  return findRecogniser(messages).answer(messages);
}

function rewriteOf(operation: Operation, instruction: string): string {
  const parsed = parseRewrite(answerOf(operation, instruction));
  if (!parsed.ok) throw new Error(`unparseable rewrite: ${parsed.reason}`);
  return parsed.text;
}

const ids = (operations: readonly Operation[]) => operations.map((op) => op.id);

describe('the built-in method sets', () => {
  test('general is the general set of the paper', () => {
    expect(METHOD_SETS.general).toEqual([...GENERAL_OPERATIONS]);
    expect([...METHOD_NAMES]).toEqual(['general', 'code', 'math']);
  });

  test('code has the five WizardCoder operations, drawn alike, the complexity demand marked rare in its prompt', () => {
    expect(ids(METHOD_SETS.code)).toEqual([
      'code-add-constraint',
      'code-rarer-requirement',
      'code-reasoning-steps',
      'code-erroneous-reference',
      'code-complexity',
    ]);
    expect(METHOD_SETS.code.every((op) => op.kind === 'in-depth')).toBe(true);
    const weights = Object.fromEntries(METHOD_SETS.code.map((op) => [op.id, op.weight]));
    expect(weights).toEqual({
      'code-add-constraint': 1,
      'code-rarer-requirement': 1,
      'code-reasoning-steps': 1,
      'code-erroneous-reference': 1,
      'code-complexity': 1,
    });
    const complexity = METHOD_SETS.code.find((op) => op.id === 'code-complexity')!;
    expect(complexity.template).toMatch(/only rarely/);
    // As in WizardCoder's prompt, the listed way is one of several, not the only one allowed.
    for (const op of METHOD_SETS.code) expect(op.template).toMatch(/not the only one/);
  });

  test('math evolves downward in rounds 1-2 and upward after, as WizardMath schedules it', () => {
    expect(METHOD_SETS.math.map((op) => [op.id, op.kind, op.weight, op.rounds])).toEqual([
      ['math-easier', 'downward', 1, { from: 1, to: 2 }],
      ['math-easier-new-topic', 'downward', 1, { from: 1, to: 2 }],
      ['math-add-constraints', 'in-depth', 1, { from: 3 }],
      ['math-concretize', 'in-depth', 1, { from: 3 }],
      ['math-reasoning-steps', 'in-depth', 1, { from: 3 }],
    ]);
    for (let id = 0; id < 50; id++) {
      const plan = planOperations(METHOD_SETS.math, 0, `seed-${id}`, 5).map((op) => op.kind);
      expect(plan).toEqual(['downward', 'downward', 'in-depth', 'in-depth', 'in-depth']);
    }
  });

  test('a method without a schedule draws the same plans as before schedules existed', () => {
    // The first release drew once per round, weighted, from the whole set: running workflows replay that plan.
    for (const name of METHOD_NAMES.filter((n) => n !== 'math')) {
      const operations = METHOD_SETS[name];
      const random = prngFor(7, 'abc');
      const firstRelease = Array.from(
        { length: 6 },
        () =>
          operations[
            pickWeighted(
              operations.map((op) => op.weight),
              random,
            )
          ].id,
      );
      expect(planOperations(operations, 7, 'abc', 6).map((op) => op.id)).toEqual(firstRelease);
    }
  });

  test.each(METHOD_NAMES.flatMap((name) => METHOD_SETS[name].map((op) => [name, op.id, op] as const)))(
    '%s / %s: the instruction sits between the tags, with its own guidance only',
    (_name, id, op) => {
      expect(op.template).toContain(`${INSTRUCTION_OPEN}\n${INSTRUCTION_PLACEHOLDER}\n${INSTRUCTION_CLOSE}`);
      expect(op.system.length).toBeGreaterThan(20);
      const present = Object.keys(ALL_GUIDANCE).filter((key) => op.template.includes(ALL_GUIDANCE[key]));
      expect(present).toEqual(id === 'in-breadth' ? [] : [id]);
    },
  );

  test('every operation id is unique across the sets', () => {
    const all = METHOD_NAMES.flatMap((name) => ids(METHOD_SETS[name]));
    expect(new Set(all).size).toBe(all.length);
  });
});

describe('the simulated LLM on the code and math sets', () => {
  test.each(METHOD_NAMES.flatMap((name) => METHOD_SETS[name].map((op) => [op.id, op] as const)))(
    'recognises %s',
    (id, op) => {
      expect(classifyRequest(buildMutationMessages(op, DOMAIN_SEEDS.general))).toEqual({
        kind: 'mutate',
        operation: id,
      });
    },
  );

  test('code rewrites keep the task, add to it and parse cleanly', () => {
    for (const task of CODE_TASKS) {
      for (const op of METHOD_SETS.code) {
        const rewrite = rewriteOf(op, task);
        expect(rewrite.startsWith(task)).toBe(true);
        expect(rewrite.length).toBeGreaterThan(task.length + 30);
        expect(checkTemplateWords(rewrite)).toEqual({ passed: true });
        expect(answerOf(op, task)).toBe(answerOf(op, task));
      }
    }
  });

  test('an erroneous reference comes as a fenced snippet in the task’s language', () => {
    const op = METHOD_SETS.code.find((o) => o.id === 'code-erroneous-reference') as Operation;
    expect(rewriteOf(op, CODE_TASKS[0])).toMatch(/```python\ndef \w+\(/);
    expect(rewriteOf(op, CODE_TASKS[1])).toMatch(/```javascript\nfunction \w+\(/);
    expect(rewriteOf(op, CODE_TASKS[2])).toMatch(/```typescript\n/);
  });

  test('upward math keeps the problem and adds a condition or a step', () => {
    for (const problem of MATH_PROBLEMS) {
      for (const op of METHOD_SETS.math.filter((o) => o.kind === 'in-depth')) {
        const rewrite = rewriteOf(op, problem);
        expect(rewrite.startsWith(problem)).toBe(true);
        expect(rewrite.length).toBeGreaterThan(problem.length + 30);
        expect(checkTemplateWords(rewrite)).toEqual({ passed: true });
      }
    }
  });

  test('downward math gives another, simpler problem with numbers', () => {
    for (const problem of MATH_PROBLEMS) {
      for (const op of METHOD_SETS.math.filter((o) => o.kind === 'downward')) {
        const rewrite = rewriteOf(op, problem);
        expect(rewrite).not.toBe(problem);
        expect(rewrite).toMatch(/\d/);
        expect(rewrite).toMatch(/\?$/);
        expect(checkTemplateWords(rewrite)).toEqual({ passed: true });
      }
    }
  });

  test('making a problem easier rounds its numbers and drops a condition added after the question', () => {
    const easier = METHOD_SETS.math.find((o) => o.id === 'math-easier') as Operation;
    expect(rewriteOf(easier, 'Tom reads 12 pages a day. How many days does he need for 250 pages?')).toBe(
      'Tom reads 10 pages a day. How many days does he need for 300 pages?',
    );
    expect(rewriteOf(easier, 'Ana has 40 apples. How many are left if she eats 10? Each apple costs $2.')).toBe(
      'Ana has 40 apples. How many are left if she eats 10?',
    );
  });

  test('a custom template with our tags but no lead of ours is a mutation of the tagged instruction', () => {
    const custom: Operation = {
      id: 'formal',
      kind: 'custom',
      weight: 1,
      system: 'You rewrite tasks.',
      template: `Make this formal.\n${INSTRUCTION_OPEN}\n{instruction}\n${INSTRUCTION_CLOSE}`,
    };
    const messages = buildMutationMessages(custom, DOMAIN_SEEDS.general);
    expect(classifyRequest(messages)).toEqual({ kind: 'mutate' });
    const rewrite = rewriteOf(custom, DOMAIN_SEEDS.general);
    expect(rewrite.startsWith(DOMAIN_SEEDS.general)).toBe(true);
    expect(rewrite.length).toBeGreaterThan(DOMAIN_SEEDS.general.length + 30);
  });

  test('a custom template without tags, under our default system message, rewrites the whole message', () => {
    const custom: Operation = {
      id: 'audience',
      kind: 'custom',
      weight: 1,
      system: CUSTOM_OPERATION_SYSTEM,
      template: 'Name an audience for this task: {instruction}',
    };
    expect(classifyRequest(buildMutationMessages(custom, DOMAIN_SEEDS.general))).toEqual({ kind: 'mutate' });
    expect(
      rewriteOf(custom, DOMAIN_SEEDS.general).startsWith(`Name an audience for this task: ${DOMAIN_SEEDS.general}`),
    ).toBe(true);
  });

  test('a responder request that quotes our tags is still a responder request', () => {
    const instruction = `Explain what ${INSTRUCTION_OPEN} means in this text.${INSTRUCTION_CLOSE}`;
    expect(classifyRequest(buildResponseMessages(instruction))).toEqual({ kind: 'respond' });
    // The responder is recognised before the fallback that treats any tagged prompt as a mutation.
    const kinds = DEFAULT_RECOGNISERS.map((r) => r.kind);
    expect(kinds.indexOf('respond')).toBeLessThan(kinds.lastIndexOf('mutate'));
  });
});

describe('method files', () => {
  let dir: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-methods-'));
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function write(name: string, content: unknown): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return file;
  }

  async function errorOf(spec: string): Promise<Error> {
    try {
      await resolveMethod(spec, dir);
    } catch (err) {
      return err as Error;
    }
    throw new Error(`expected ${spec} to be refused`);
  }

  test.each(METHOD_NAMES)('"%s" resolves to a copy of the built-in set', async (name) => {
    const method = await resolveMethod(name, dir);
    expect(method).toEqual({ name, operations: METHOD_SETS[name] });
    method.operations[0].weight = 99;
    expect(METHOD_SETS[name][0].weight).not.toBe(99);
  });

  test('a YAML file loads, with defaults for id, weight and system', async () => {
    write(
      'style.yaml',
      [
        'name: house-style',
        'operations:',
        '  - name: Make it formal',
        '    template: "Rewrite formally.\\n<instruction>\\n{instruction}\\n</instruction>"',
        '  - id: twice',
        '    name: Mention twice',
        '    template: "Task: {instruction}\\nAgain: {instruction}"',
        '    weight: 0.5',
        '    system: You rewrite tasks.',
      ].join('\n'),
    );
    const method = await resolveMethod('style.yaml', dir);
    expect(method.name).toBe('house-style');
    expect(method.operations).toEqual([
      {
        id: 'make-it-formal',
        kind: 'custom',
        weight: 1,
        system: CUSTOM_OPERATION_SYSTEM,
        template: 'Rewrite formally.\n<instruction>\n{instruction}\n</instruction>',
      },
      {
        id: 'twice',
        kind: 'custom',
        weight: 0.5,
        system: 'You rewrite tasks.',
        template: 'Task: {instruction}\nAgain: {instruction}',
      },
    ]);
    expect(buildMutationMessages(method.operations[1], 'X')[1].content).toBe('Task: X\nAgain: X');
  });

  test('a JSON file loads, by absolute path too', async () => {
    const file = write('json-method.json', { name: 'j', operations: [{ name: 'Shorter', template: '{instruction}' }] });
    const method = await resolveMethod(file, '/');
    expect(method).toEqual({
      name: 'j',
      operations: [
        { id: 'shorter', kind: 'custom', weight: 1, system: CUSTOM_OPERATION_SYSTEM, template: '{instruction}' },
      ],
    });
  });

  test('a bare list of operations loads and takes its name from the file', async () => {
    write(
      'bare-list.yml',
      '- name: Café au lait!\n  template: "{instruction}"\n- name: "日本"\n  template: "x {instruction}"\n',
    );
    const method = await resolveMethod('bare-list.yml', dir);
    expect(method.name).toBe('bare-list');
    expect(ids(method.operations)).toEqual(['cafe-au-lait', 'custom-2']);
  });

  test('a missing file names the built-in sets', async () => {
    const error = await errorOf('nowhere.yaml');
    expect(error.name).toBe('UserError');
    expect(error.message).toContain(path.join(dir, 'nowhere.yaml'));
    expect(error.message).toContain('general, code, math');
  });

  const FIELD_ERRORS: Array<[string, string, unknown, RegExp]> = [
    [
      'a template without the placeholder',
      'no-placeholder.json',
      { operations: [{ name: 'Plain', template: 'Make it harder.' }] },
      /no-placeholder\.json:5: operation 1 \("Plain"\), field "template": has no \{instruction\} placeholder/,
    ],
    [
      'an empty template',
      'empty-template.json',
      {
        operations: [
          { name: 'A', template: '{instruction}' },
          { name: 'Blank', template: '  ' },
        ],
      },
      /empty-template\.json:9: operation 2 \("Blank"\), field "template": must not be empty$/,
    ],
    [
      'an unknown field',
      'typo.json',
      { operations: [{ name: 'A', template: '{instruction}', wieght: 2 }] },
      /typo\.json:6: operation 1 \("A"\): unknown field "wieght" \(known fields: id, name, template, weight, system, rounds\)/,
    ],
    [
      'an unknown top-level field',
      'top-typo.json',
      { name: 'm', operations: [{ name: 'A', template: '{instruction}' }], rounds: 3 },
      /top-typo\.json:9: unknown field "rounds"/,
    ],
    [
      'a round range that is backwards',
      'backwards.json',
      { operations: [{ name: 'A', template: '{instruction}', rounds: '3-1' }] },
      /backwards\.json:\d+: operation 1 \("A"\), field "rounds": must be a round or a range of rounds/,
    ],
    [
      'a zero weight',
      'zero.json',
      { operations: [{ name: 'A', template: '{instruction}', weight: 0 }] },
      /zero\.json:6: operation 1 \("A"\), field "weight": must be a positive number/,
    ],
    [
      'a negative weight',
      'negative.json',
      { operations: [{ name: 'A', template: '{instruction}', weight: -1 }] },
      /operation 1 \("A"\), field "weight": must be a positive number/,
    ],
    [
      'a missing name',
      'no-name.json',
      { operations: [{ template: '{instruction}' }] },
      /no-name\.json:3: operation 1, field "name": is missing/,
    ],
    [
      'duplicate names',
      'dupes.json',
      {
        operations: [
          { name: 'Formal', template: '{instruction}' },
          { name: 'formal', template: 'x {instruction}' },
        ],
      },
      /dupes\.json:8: operation 2 \("formal"\), field "name": "formal" is already the name of operation 1/,
    ],
    [
      'names that give the same id',
      'same-id.json',
      {
        operations: [
          { name: 'Make formal', template: '{instruction}' },
          { name: 'make formal!', template: 'x {instruction}' },
        ],
      },
      /operation 2 \("make formal!"\), field "name": gives the id "make-formal", which operation 1 already has/,
    ],
    ['an empty list', 'empty.json', { operations: [] }, /empty\.json:2: "operations" is empty: give at least one/],
    ['an empty bare list', 'empty-bare.json', [], /empty-bare\.json:1: the list of operations is empty/],
    ['no operations at all', 'no-ops.json', { name: 'x' }, /no-ops\.json:1: "operations" is missing/],
  ];

  test.each(FIELD_ERRORS)(
    '%s is refused, naming the file, line, operation and field',
    async (_what, name, content, expected) => {
      write(name, content);
      const error = await errorOf(name);
      expect(error.name).toBe('UserError');
      expect(error.message).toContain(path.join(dir, name));
      expect(error.message).toMatch(expected);
    },
  );

  test('every problem of a file is reported, each on its own line', async () => {
    write('two-problems.yaml', '- name: A\n  template: nothing here\n  wieght: 2\n');
    const lines = (await errorOf('two-problems.yaml')).message.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/two-problems\.yaml:2: operation 1 \("A"\), field "template": has no/);
    expect(lines[1]).toMatch(/two-problems\.yaml:3: operation 1 \("A"\): unknown field "wieght"/);
  });

  test('invalid JSON is reported with its line', async () => {
    write('broken.json', '{\n  "name": "x",\n}\n');
    expect((await errorOf('broken.json')).message).toMatch(/broken\.json:3: invalid JSON: /);
  });

  test('invalid YAML is reported with its line', async () => {
    write('broken.yaml', 'operations:\n  - name: a\n    template: [oops\n');
    expect((await errorOf('broken.yaml')).message).toMatch(/broken\.yaml:\d+: invalid YAML: /);
  });

  test('an empty file or a file that holds no object says what is expected', async () => {
    write('empty.yaml', '\n');
    write('scalar.yaml', 'just words\n');
    expect((await errorOf('empty.yaml')).message).toMatch(/empty\.yaml: the file is empty; expected \{"name"/);
    expect((await errorOf('scalar.yaml')).message).toMatch(/scalar\.yaml:1: expected \{"name"/);
  });
});

/** The first run seed whose plan uses `rounds` different operations, and both kinds when the set has two. */
function seedCovering(operations: readonly Operation[], instructionId: string, rounds: number): number {
  const kinds = new Set(operations.map((op) => op.kind)).size;
  for (let seed = 1; seed < 10_000; seed++) {
    const plan = planOperations(operations, seed, instructionId, rounds);
    if (new Set(ids(plan)).size === rounds && new Set(plan.map((op) => op.kind)).size === Math.min(kinds, 2)) {
      return seed;
    }
  }
  throw new Error('no seed covers the set');
}

describe('method sets end to end on a real dev server and worker', () => {
  const ROUNDS = 3;
  let sim: SimLlm;
  let client: Client;
  let connection: Connection;
  let worker: TestWorker;
  let taskQueue: string;
  let dir: string;
  let runCounter = 0;

  beforeAll(async () => {
    sim = await startSimLlm({ keepMessages: true });
    ({ client, connection } = await connectClient());
    taskQueue = uniqueTaskQueue('methods');
    worker = await startWorker({ taskQueue, env: () => ({ EVOL_TEST_API_KEY: 'test-key' }) });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-methods-e2e-'));
  });

  afterAll(async () => {
    await worker?.close();
    await connection?.close();
    await sim?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function evolve(operations: Operation[], instruction: string, instructionId: string): Promise<Lineage> {
    sim.resetRequests();
    const seed = seedCovering(operations, instructionId, ROUNDS);
    const handle = await startSingleInstruction(client, taskQueue, {
      runId: `m${Date.now().toString(36)}${runCounter++}`,
      instructionId,
      instruction,
      rounds: ROUNDS,
      seed,
      llm: llmAt(sim.url),
      operations,
    });
    return handle.result();
  }

  function expectCompletedFromSet(lineage: Lineage, operations: readonly Operation[], rounds = ROUNDS): void {
    expect(lineage.status).toBe('completed');
    expect(lineage.steps).toHaveLength(rounds);
    for (const step of lineage.steps) {
      expect(ids(operations)).toContain(step.operation);
      expect(step.instruction.length).toBeGreaterThan(0);
      expect(step.response.length).toBeGreaterThan(0);
    }
    expect(new Set(lineage.steps.map((s) => s.operation)).size).toBe(rounds);
  }

  /** What each domain's rounds must look like beyond using the set's operations. */
  const DOMAIN_CHECKS: Record<MethodName, (lineage: Lineage) => void> = {
    general: (lineage) => expect(lineage.final.length).toBeGreaterThan(0),
    // Every code operation builds on the task, so each round's text starts with the seed.
    code: (lineage) => lineage.steps.forEach((s) => expect(s.instruction.startsWith(DOMAIN_SEEDS.code)).toBe(true)),
    math: (lineage) => {
      lineage.steps.forEach((s) => expect(s.instruction).toMatch(/\d/));
      expect(lineage.steps.some((s) => s.operation.startsWith('math-easier'))).toBe(true);
    },
  };

  test.each(METHOD_NAMES)('%s: each round applies an operation of the set, which the LLM recognises', async (name) => {
    const operations = METHOD_SETS[name];
    const lineage = await evolve(operations, DOMAIN_SEEDS[name], `method-${name}`);
    expectCompletedFromSet(lineage, operations);
    const mutations = sim.requests().filter((r) => r.kind === 'mutate');
    expect(mutations.map((r) => r.operation)).toEqual(lineage.steps.map((s) => s.operation));
    for (const record of mutations) {
      expect(record.messages?.[1].content).toContain(ALL_GUIDANCE[record.operation as string] ?? INSTRUCTION_OPEN);
    }
    DOMAIN_CHECKS[name](lineage);
  });

  test('a custom method file runs the same way', async () => {
    const file = path.join(dir, 'house.yaml');
    fs.writeFileSync(
      file,
      [
        'name: house',
        'operations:',
        '  - name: Make it formal',
        '    template: "Rewrite the task for a formal, academic reader.\\n<instruction>\\n{instruction}\\n</instruction>"',
        '  - name: Name the audience',
        '    template: "Add who the answer is for to this task: {instruction}"',
        '  - name: Twice',
        '    template: "Task: {instruction}\\nHarder, please:\\n<instruction>\\n{instruction}\\n</instruction>"',
        '    weight: 2',
      ].join('\n'),
    );
    const method = await resolveMethod('house.yaml', dir);
    const lineage = await evolve(method.operations, DOMAIN_SEEDS.general, 'method-custom');
    // The template without tags is echoed by the simulated evolver ("Add who the answer is for to this task: ..."):
    // the copies-prompt gate eliminates that round, before any response is asked for.
    const echoed = lineage.steps.filter((s) => s.instruction.startsWith('Add who the answer is for'));
    expect(echoed.length).toBeGreaterThan(0);
    for (const step of echoed) expect(step.verdict).toMatchObject({ passed: false, rule: 'copies-prompt' });
    expectCompletedFromSet(
      { ...lineage, steps: lineage.steps.filter((s) => !echoed.includes(s)) },
      method.operations,
      3 - echoed.length,
    );
    const records = sim.requests();
    expect(records.filter((r) => r.kind === 'other')).toEqual([]);
    const mutations = records.filter((r) => r.kind === 'mutate');
    expect(mutations).toHaveLength(ROUNDS);
    expect(mutations.every((r) => r.operation === undefined)).toBe(true);
  });
});

describe('method files that schedule operations and carry their sampling', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolforge-schedule-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('operations with "rounds" are drawn only in those rounds', async () => {
    fs.writeFileSync(
      path.join(dir, 'ladder.yaml'),
      [
        'name: ladder',
        'sampling: { temperature: 0, maxTokens: 2048 }',
        'operations:',
        '  - name: easier',
        '    template: "Make it easier:\\n{instruction}"',
        '    rounds: 1-2',
        '  - name: harder',
        '    template: "Make it harder:\\n{instruction}"',
        '    rounds: 3-',
        '  - name: once',
        '    template: "Reword it:\\n{instruction}"',
        '    rounds: 2',
      ].join('\n'),
    );
    const method = await resolveMethod('ladder.yaml', dir);
    expect(method.sampling).toEqual({ temperature: 0, maxTokens: 2048 });
    expect(method.operations.map((op) => [op.id, op.rounds])).toEqual([
      ['easier', { from: 1, to: 2 }],
      ['harder', { from: 3 }],
      ['once', { from: 2, to: 2 }],
    ]);
    for (let i = 0; i < 30; i++) {
      const plan = planOperations(method.operations, i, 'x', 5).map((op) => op.id);
      expect(plan[0]).toBe('easier');
      expect(['easier', 'once']).toContain(plan[1]);
      expect(plan.slice(2)).toEqual(['harder', 'harder', 'harder']);
    }
    expect(unscheduledRound(method.operations, 6)).toBeUndefined();
    expect(unscheduledRound(method.operations.slice(0, 1), 3)).toBe(3);
  });

  test("a method's sampling replaces the evolver's defaults, but not what the config file sets", () => {
    const llm = resolveLlmConfig({ env: { OPENAI_API_KEY: 'k' } }).llm;
    const sampling = { temperature: 0, maxTokens: 4096 };
    const taken = withMethodSampling(llm, sampling, undefined);
    expect(taken.llm.evolver).toMatchObject({ temperature: 0, maxTokens: 4096 });
    expect(taken.llm.responder).toEqual(llm.responder);
    expect(taken.applied).toBe('temperature 0, maxTokens 4096');
    const file = { llm: { evolver: { temperature: 0.9 } } };
    const configured = resolveLlmConfig({ env: { OPENAI_API_KEY: 'k' }, file }).llm;
    const kept = withMethodSampling(configured, sampling, file);
    expect(kept.llm.evolver).toMatchObject({ temperature: 0.9, maxTokens: 4096 });
  });

  test('a learned method is exported with the sampling it was learned with', () => {
    const file = methodFile('r1', { step: 2, method: 'Harder: {instruction}' }, { temperature: 0, maxTokens: 2048 });
    expect(file.sampling).toEqual({ temperature: 0, maxTokens: 2048 });
  });
});

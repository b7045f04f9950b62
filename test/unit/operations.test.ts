import { buildEqualityMessages } from '../../core/elimination';
import { fillTemplate } from '../../core/chat';
import {
  buildMutationMessages,
  buildResponseMessages,
  GENERAL_OPERATIONS,
  IN_DEPTH_GUIDANCE,
  INSTRUCTION_CLOSE,
  INSTRUCTION_OPEN,
} from '../../core/operations';
import { planOperations } from '../../core/plan';

describe('the operation catalogue and its prompts', () => {
  test('the general set has the five in-depth operations and in-breadth', () => {
    expect(GENERAL_OPERATIONS.map((op) => op.id)).toEqual([
      'add-constraints',
      'deepening',
      'concretizing',
      'reasoning-steps',
      'complicating-input',
      'in-breadth',
    ]);
    expect(GENERAL_OPERATIONS.filter((op) => op.kind === 'in-depth')).toHaveLength(5);
  });

  test.each(GENERAL_OPERATIONS.map((op) => [op.id, op] as const))(
    '%s puts the instruction between the tags',
    (_id, op) => {
      const instruction = 'Explain {instruction} placeholders and $& patterns.';
      const [system, user] = buildMutationMessages(op, instruction);
      expect(system.role).toBe('system');
      expect(user.role).toBe('user');
      expect(user.content).toContain(`${INSTRUCTION_OPEN}\n${instruction}\n${INSTRUCTION_CLOSE}`);
      expect(user.content).not.toContain('{instruction}\n' + INSTRUCTION_CLOSE);
    },
  );

  test('complicating input has a prompt of its own: a stated data format, a worked example, no word limit', () => {
    const content = (id: string) =>
      buildMutationMessages(
        GENERAL_OPERATIONS.find((op) => op.id === id)!,
        'Which product sold best?',
      )[1].content;
    const complicating = content('complicating-input');
    expect(complicating).not.toMatch(/10 to 20 words/);
    expect(complicating).toMatch(/Markdown table, JSON, XML, CSV/);
    expect(complicating).toMatch(/worked example/);
    expect(complicating).toMatch(/\| Kettle \| 120 \| 35 \|/);
    // The other in-depth rewrites keep the paper's small step.
    for (const id of ['add-constraints', 'deepening', 'concretizing', 'reasoning-steps']) {
      expect(content(id)).toMatch(/10 to 20 words/);
    }
  });

  test('each in-depth prompt carries its own guidance and no other', () => {
    for (const op of GENERAL_OPERATIONS.filter((o) => o.kind === 'in-depth')) {
      const content = buildMutationMessages(op, 'x')[1].content;
      const present = Object.entries(IN_DEPTH_GUIDANCE).filter(([, text]) => content.includes(text));
      expect(present.map(([id]) => id)).toEqual([op.id]);
    }
  });

  test('filling a template never expands placeholders that appear inside the instruction', () => {
    expect(fillTemplate('A {instruction} B {instruction}', 'x{instruction}y')).toBe(
      'A x{instruction}y B x{instruction}y',
    );
  });

  test('the responder gets the instruction as the user turn', () => {
    expect(buildResponseMessages('Say hi.')[1]).toEqual({ role: 'user', content: 'Say hi.' });
  });

  test('the equality judge is shown both instructions', () => {
    const content = buildEqualityMessages('first one', 'second one')[1].content;
    expect(content).toContain('<first>\nfirst one\n</first>');
    expect(content).toContain('<second>\nsecond one\n</second>');
  });
});

describe('the operation plan', () => {
  const ids = (seed: number, id: string, rounds = 8) =>
    planOperations(GENERAL_OPERATIONS, seed, id, rounds).map((o) => o.id);

  test('the same seed and instruction give the same plan', () => {
    expect(ids(7, 'a')).toEqual(ids(7, 'a'));
  });
  test('another seed or another instruction gives another plan', () => {
    expect(ids(8, 'a')).not.toEqual(ids(7, 'a'));
    expect(ids(7, 'b')).not.toEqual(ids(7, 'a'));
  });
  test('weights shape the draw', () => {
    const weighted = GENERAL_OPERATIONS.map((op) => ({ ...op, weight: op.id === 'deepening' ? 1000 : 0.001 }));
    const plan = planOperations(weighted, 1, 'x', 50).map((o) => o.id);
    expect(plan.filter((id) => id === 'deepening').length).toBeGreaterThan(45);
  });
  test('every operation appears over many draws with equal weights', () => {
    expect(new Set(ids(3, 'many', 200))).toEqual(new Set(GENERAL_OPERATIONS.map((o) => o.id)));
  });
});

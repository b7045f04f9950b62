import { parseRowId, parseScores, planScoreRows, scorableRows } from '../../core/scoring';
import type { Lineage } from '../../core/lineage';

describe('reading a difficulty rating', () => {
  test.each([
    ['{"difficulty": 7, "complexity": 5}', { difficulty: 7, complexity: 5 }],
    ['Difficulty: 7/10, complexity 5', { difficulty: 7, complexity: 5 }],
    ['difficulty is 8 and complexity is 3', { difficulty: 8, complexity: 3 }],
    ['**Difficulty:** 6\n**Complexity:** 4', { difficulty: 6, complexity: 4 }],
    ['Difficulty: 11, complexity 5', null],
    ['{"difficulty": 3.5, "complexity": 2}', null],
    ['I think it is hard.', null],
    ['Difficulty: 4', null],
  ])('%j reads as %j', (answer, expected) => {
    expect(parseScores(answer)).toEqual(expected);
  });
});

const lineage = (id: string, passedRounds: number[], status: Lineage['status'] = 'completed'): Lineage => ({
  runId: 'r',
  instructionId: id,
  seed: `seed ${id}`,
  status,
  rounds: 3,
  steps: [1, 2, 3].map((round) => ({
    round,
    operation: 'add-constraints',
    parent: '',
    instruction: `${id} round ${round}`,
    response: 'x',
    verdict: passedRounds.includes(round) ? { passed: true } : { passed: false, rule: 'sorry-short', evidence: '' },
    usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
    costUsd: 0,
  })),
  final: '',
  usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
  costUsd: 0,
});

describe('which rows are scored', () => {
  const records = [lineage('a', [1, 2, 3]), lineage('b', [2]), lineage('c#1', [1]), lineage('d', [1], 'failed')];

  test('the seed and every passed round of each completed record, by export row id', () => {
    expect(scorableRows(records).map((r) => r.rowId)).toEqual([
      'a#0',
      'a#1',
      'a#2',
      'a#3',
      'b#0',
      'b#2',
      'c#1#0',
      'c#1#1',
    ]);
    expect(parseRowId('c#1#1')).toEqual({ seedId: 'c#1', round: 1 });
  });

  test('a sample takes as many rows of each round, the same ones every time', () => {
    const rows = scorableRows(records);
    const plan = planScoreRows(rows, { perRound: 1, seed: 3 });
    expect(plan.map((id) => parseRowId(id).round)).toEqual([0, 1, 2, 3]);
    expect(planScoreRows(rows, { perRound: 1, seed: 3 })).toEqual(plan);
    expect(planScoreRows(rows, { rounds: [0], seed: 3 }).sort()).toEqual(['a#0', 'b#0', 'c#1#0']);
  });
});
